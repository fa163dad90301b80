"""dssec_jax: Deep Stacked Sparse Embedded Clustering (DSSEC) and its family in JAX."""
from ._version import __version__
from .estimator import DSSEC
from .losses import clustering_kl
from .losses import dssec_loss
from .losses import reconstruction_loss
from .losses import soft_assignment
from .losses import sparsity_kl
from .losses import sparsity_penalty
from .losses import target_distribution
from .methods import METHODS
from .methods import Config
from .methods import get_method
from .metrics import ari
from .metrics import cluster_acc
from .metrics import evaluate
from .metrics import nmi
from .pipeline import FitResult
from .pipeline import fit
from .sae import decode
from .sae import encode
from .sae import forward
from .sae import init_params

__all__ = [
    "DSSEC",
    "clustering_kl",
    "dssec_loss",
    "reconstruction_loss",
    "soft_assignment",
    "sparsity_kl",
    "sparsity_penalty",
    "target_distribution",
    "METHODS",
    "Config",
    "get_method",
    "ari",
    "cluster_acc",
    "evaluate",
    "nmi",
    "FitResult",
    "fit",
    "decode",
    "encode",
    "forward",
    "init_params",
]

"""dssec_jax: Deep Stacked Sparse Embedded Clustering (DSSEC) and its family in JAX."""

from ._version import __version__
from .estimator import DSSEC
from .losses import (
    clustering_kl,
    dssec_loss,
    reconstruction_loss,
    soft_assignment,
    sparsity_kl,
    sparsity_penalty,
    target_distribution,
)
from .methods import METHODS, Config, get_method
from .metrics import ari, cluster_acc, evaluate, nmi
from .pipeline import FitResult, fit
from .sae import decode, encode, forward, init_params

__all__ = [
    "__version__",
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

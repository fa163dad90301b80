"""The DEC family as configurations of one pipeline, and the run configuration."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Optional, Union

import numpy as np

from ._version import __version__
from .labels import KNOWN_ORDER
from .train import Net, Optimizer, dtype_of

# The settings that count something: integers (a whole float such as 2e4 from a JSON file
# becomes one; a fractional one is refused by ``check_config``), and tuples of them.
COUNTS = (
    "n_clusters",
    "embed_dim",
    "pretrain_epochs",
    "layerwise_epochs",
    "batch_size",
    "update_interval",
    "max_iter",
    "n_init",
)
COUNT_TUPLES = ("hidden_dims", "sparse_layers", "k_range")


def _plain(v):
    """A NumPy integer, or a whole float, as a Python int (a Config's settings go to
    JSON); anything else as it is."""
    if isinstance(v, np.integer) or (
        isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer()
    ):
        return int(v)
    return v


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """How a method builds features and whether it runs a clustering phase.

    features: "raw", "pca" or "autoencoder"; sparse: the autoencoder has the sparsity
    penalty; clustering: None (K-means only), "dec" (L_c) or "idec" (decoder kept);
    semi_supervised: the method needs known labels (its autoencoder has the label term).
    """

    name: str
    features: str
    sparse: bool = False
    clustering: Optional[str] = None
    semi_supervised: bool = False

    @property
    def use_decoder(self) -> bool:
        """Whether the clustering phase keeps the reconstruction loss (IDEC, DSSEC)."""
        return self.clustering == "idec"


METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        MethodSpec("kmeans", "raw"),
        MethodSpec("pca_kmeans", "pca"),
        MethodSpec("ae_kmeans", "autoencoder"),
        MethodSpec("sae_kmeans", "autoencoder", sparse=True),
        MethodSpec("lcae_kmeans", "autoencoder", semi_supervised=True),
        MethodSpec("dec", "autoencoder", clustering="dec"),
        MethodSpec("idec", "autoencoder", clustering="idec"),
        MethodSpec("dssec", "autoencoder", sparse=True, clustering="idec"),
    )
}


def get_method(name: str) -> MethodSpec:
    """The MethodSpec for ``name``; ValueError listing the known names otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


# Fields that determine a pretrained autoencoder (the cache key uses them, with the
# library version: a new version may initialise or pretrain differently, so it starts a
# new cache). LATER_PRETRAIN_FIELDS were added after caches existed, with the value every
# earlier autoencoder was trained at: they enter the key only when they differ from that
# value (not from the current default), so within a version a change of default can never
# make an autoencoder cached at another setting answer for a new one.
LATER_PRETRAIN_FIELDS = {
    "init": "glorot_uniform",
    "pretrain_optimizer": "adam",
    "pretrain_momentum": 0.9,
    "pretrain_clip_norm": None,
    "sparsity_floor": None,
}
# The sparsity penalty's settings (they count for the sparse autoencoder only).
_SPARSE_CORE = (
    "sparse_layers",
    "sparse_activation",
    "rho",
    "beta",
    "sparsity_reduction",
    "sparsity_form",
)
SPARSE_FIELDS = (*_SPARSE_CORE, "sparsity_floor")
PRETRAIN_FIELDS = (
    "embed_dim",
    "hidden_dims",
    "activation",
    *_SPARSE_CORE,
    "pretrain",
    "pretrain_epochs",
    "layerwise_epochs",
    "batch_size",
    "learning_rate",
    "precision",
)


LABEL_FIELDS = ("label_weight", "label_fraction")

FLOAT_FIELDS = {
    "rho",
    "beta",
    "learning_rate",
    "pretrain_momentum",
    "pretrain_clip_norm",
    "sparsity_floor",
}


def json_value(field: str, v):
    """A setting as a plain JSON value of its declared type: floats for FLOAT_FIELDS, ints
    for integer settings and for the items of layer tuples (numpy scalars included)."""
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, (tuple, list)):
        return [int(i) for i in v]
    return float(v) if field in FLOAT_FIELDS else int(v)


@dataclasses.dataclass(frozen=True)
class Config:
    """All settings of one run. See BUILD_NOTES.md for how the defaults were chosen."""

    method: str = "dssec"
    n_clusters: int | str = 10  # or "auto": chosen from the features within k_range
    gamma: float = 0.1
    alpha: float = 1.0
    rho: float = 0.05
    beta: float = 1.0
    activation: str = "relu"
    sparse_layers: tuple = (0, 1)
    sparse_activation: str = "relu"
    sparsity_reduction: str = "mean"
    sparsity_form: str = "ratio"
    sparsity_floor: Optional[float] = None  # rate below which the KL is linear (losses.sparsity_kl)
    embed_dim: int = 10
    hidden_dims: tuple = (500, 500, 2000)
    pretrain: str = "end_to_end"
    pretrain_epochs: int = 200
    layerwise_epochs: Optional[int] = None
    batch_size: int = 256
    learning_rate: float = 1e-3
    init: str = "glorot_uniform"
    pretrain_optimizer: str = "adam"
    pretrain_momentum: float = 0.9
    pretrain_clip_norm: Optional[float] = None  # global-norm gradient clip of pretraining
    cluster_optimizer: str = "adam"
    cluster_learning_rate: float = 1e-3
    momentum: float = 0.0
    update_interval: int = 30
    tol: float = 1e-3
    max_iter: int = 20000
    n_init: int = 20
    precision: str = "float32"
    refresh_precision: Optional[str] = None  # of the target refreshes; None: as precision
    data_parallel: bool = False
    cluster_sparsity: bool = True
    embed_std: Optional[Union[float, str]] = 1.5
    k_range: tuple = (2, 30)  # k tried when n_clusters="auto"
    k_criterion: str = "davies_bouldin"  # how it is chosen (dssec_jax.choose_k; BUILD_NOTES)
    # Known labels (semi-supervised; see pretraining): weight lambda of the label term (0.1:
    # under SGD at learning rate 1 with momentum 0.9, 0.3 diverged on digits; with Adam 0.1
    # to 1 were level; BUILD_NOTES "Known labels"), and the share of labels the drivers
    # reveal (stratified, drawn from the run's seed).
    label_weight: float = 0.1
    label_fraction: float = 0.0

    def __post_init__(self):
        for k in COUNTS:
            if not isinstance(getattr(self, k), (bool, str)) and getattr(self, k) is not None:
                object.__setattr__(self, k, _plain(getattr(self, k)))
        # lists (from JSON, or a user's hand) become tuples: a Config is hashable
        for k in COUNT_TUPLES:
            v = getattr(self, k)
            if isinstance(v, str) or not hasattr(v, "__iter__"):
                example = self.__dataclass_fields__[k].default
                raise ValueError(f"{k} must be a tuple of integers such as {example}, got {v!r}")
            object.__setattr__(self, k, tuple(_plain(i) for i in v))

    @property
    def k(self) -> int:
        """``n_clusters`` once it is fixed; ValueError while it is "auto" (not chosen yet)."""
        if isinstance(self.n_clusters, str):
            raise ValueError(f"n_clusters={self.n_clusters!r} has not been chosen yet")
        return int(self.n_clusters)

    @property
    def spec(self) -> MethodSpec:
        return get_method(self.method)

    def hidden_acts(self) -> tuple:
        """Activation of each hidden encoder layer: sparse layers use sparse_activation."""
        sparse = set(self.sparse_layers) if self.spec.sparse else set()
        return tuple(
            self.sparse_activation if i in sparse else self.activation
            for i in range(len(self.hidden_dims))
        )

    def compute_dtype(self) -> Optional[type]:
        """Matmul input dtype: None (float32) or bfloat16 (``precision="bf16"``)."""
        return dtype_of(self.precision)

    def refresh_dtype(self) -> Optional[type]:
        """Matmul input dtype of the clustering phase's target refreshes (Q, P, labels on the
        whole dataset): that of ``refresh_precision``, or of ``precision`` when it is None."""
        return dtype_of(self.refresh_precision or self.precision)

    def cluster_gamma(self) -> float:
        """Weight of the clustering loss: gamma against the reconstruction when the method
        keeps the decoder (IDEC, DSSEC); 1 for DEC, whose loss is the clustering term alone."""
        return self.gamma if self.spec.use_decoder else 1.0

    def unused_settings(self) -> tuple:
        """Settings this method does not use: gamma for DEC (its loss is the clustering term
        alone) and methods without a clustering phase; beta, rho and sparsity_floor for
        methods without the sparsity penalty; the label settings for methods without an
        autoencoder."""
        unused: tuple[str, ...] = () if self.spec.use_decoder else ("gamma",)
        unused += () if self.spec.sparse else ("beta", "rho", "sparsity_floor")
        return unused + (() if self.spec.features == "autoencoder" else LABEL_FIELDS)

    def ignored_settings(self) -> tuple:
        """The unused settings (:meth:`unused_settings`) changed from their default."""
        default = Config()
        return tuple(k for k in self.unused_settings() if getattr(self, k) != getattr(default, k))

    def cluster_beta(self) -> float:
        """beta of the clustering phase: 0 unless the method is sparse and cluster_sparsity."""
        return self.beta if (self.spec.sparse and self.cluster_sparsity) else 0.0

    def dims(self, n_features: int) -> tuple:
        """Encoder layer sizes: (n_features, *hidden_dims, embed_dim)."""
        return (n_features, *self.hidden_dims, self.embed_dim)

    def pretrain_opt(self) -> Optimizer:
        """The pretraining optimizer (momentum only for SGD)."""
        return Optimizer(
            name=self.pretrain_optimizer,
            learning_rate=self.learning_rate,
            momentum=self.pretrain_momentum if self.pretrain_optimizer == "sgd" else 0.0,
            clip_norm=self.pretrain_clip_norm,
        )

    def cluster_opt(self) -> Optimizer:
        """The clustering phase's optimizer."""
        return Optimizer(
            name=self.cluster_optimizer,
            learning_rate=self.cluster_learning_rate,
            momentum=self.momentum,
        )

    def net(self) -> Net:
        """The losses' static settings: activations, penalised layers, the penalty's
        reduction and rho_hat form, and the matmul input dtype."""
        return Net(
            acts=self.hidden_acts(),
            sparse_layers=self.penalised_layers(),
            reduction=self.sparsity_reduction,
            form=self.rate_form(),
            compute_dtype=self.compute_dtype(),
        )

    def rate_form(self) -> str:
        """rho_hat form of the penalised units (``losses.activation_rate``): the plain mean for
        sigmoid units (the classic sparse autoencoder), ``sparsity_form`` for ReLU units."""
        return "mean" if self.sparse_activation == "sigmoid" else self.sparsity_form

    def penalised_layers(self) -> tuple:
        """Hidden layers that carry the sparsity penalty (none for plain autoencoders)."""
        return tuple(self.sparse_layers) if self.spec.sparse else ()

    def pretrain_settings(self) -> dict:
        """The settings that determine the pretrained autoencoder (sparse ones only if sparse),
        as JSON values of their declared type (1, 1.0 and numpy's float64(1) are one value)."""
        d = {k: getattr(self, k) for k in PRETRAIN_FIELDS}
        d.update(
            {k: getattr(self, k) for k, v in LATER_PRETRAIN_FIELDS.items() if getattr(self, k) != v}
        )
        if self.pretrain_optimizer != "sgd":
            d.pop("pretrain_momentum", None)  # unused by Adam
        d["sparse"] = self.spec.sparse
        if not self.spec.sparse:
            for k in SPARSE_FIELDS:
                d.pop(k, None)
        else:
            d["sparsity_form"] = self.rate_form()  # "mean" for sigmoid units, whatever the field
        return {k: json_value(k, v) for k, v in d.items()}

    def pretrain_hash(self, dataset: str, seed: int, known: Optional[str] = None) -> str:
        """Key of the pretrained-autoencoder cache: dataset, architecture, pretraining, seed
        and the library version (a new version may initialise or pretrain differently);
        with known labels, their digest ``known``, label_weight and n_clusters."""
        labels = (
            {}
            if known is None
            else {
                "known": known,
                "label_weight": float(self.label_weight),
                "n_clusters": int(self.n_clusters),  # the size of the label map
                "known_order": KNOWN_ORDER,  # labels.label_data's order of the known rows
            }
        )
        blob = json.dumps(
            {
                "dataset": dataset,
                "seed": int(seed),
                "library": __version__,
                **self.pretrain_settings(),
                **labels,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden_dims"] = list(self.hidden_dims)
        d["sparse_layers"] = list(self.sparse_layers)
        d["k_range"] = list(self.k_range)
        return d

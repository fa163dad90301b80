"""Checks at the public boundary: clear ValueErrors that say what is wrong and what to do;
and the check that training stays finite."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from typing import Optional

import numpy as np
import scipy.sparse

from .choose_k import CRITERIA, MAX_SAMPLES, check_k_range
from .losses import RATE_FORMS
from .methods import COUNT_TUPLES, COUNTS, Config, get_method
from .sae import ACTIVATIONS, INITIALIZERS


class NonNumericDataError(ValueError, TypeError):
    """Entries that are not numbers: a ValueError like every input error of this library,
    and a TypeError like NumPy's and scikit-learn's for the same input."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


def check_finite(value: float, phase: str, where: str) -> None:
    """Raise :class:`NonFiniteLossError` naming ``phase`` and ``where`` unless ``value`` is
    finite."""
    if not np.isfinite(value):
        raise NonFiniteLossError(
            f"non-finite loss or weights ({value}) in {phase} at {where}; the last good "
            "checkpoint is kept. "
            "Lower the learning rate or beta, or check the input scaling"
        )


def _numeric_array(x, name: str) -> np.ndarray:
    """``x`` as a real numeric NumPy array; ValueError for sparse, complex or non-numeric input."""
    if scipy.sparse.issparse(x):
        raise ValueError(
            f"{name} is a sparse matrix, and sparse input is not supported; "
            f"pass a dense array ({name}.toarray())"
        )
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise ValueError(f"{name} could not be converted to an array ({e})") from e
    if arr.dtype.kind == "c":
        raise ValueError(
            f"{name} has dtype {arr.dtype}: Complex data not supported; pass real numbers"
        )
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise NonNumericDataError(
                f"{name} has dtype object with non-numeric entries ({e}); "
                "pass numeric data (int or float)"
            ) from None
    if arr.dtype.kind not in "biuf":
        raise NonNumericDataError(f"{name} has dtype {arr.dtype}; pass numeric data (int or float)")
    return arr


def beyond_float32(x: np.ndarray, rows: int = 4096) -> Optional[float]:
    """The largest finite magnitude in ``x`` when float32 cannot hold it, else None (read
    in blocks of ``rows``: no copy of a large float64 array)."""
    if x.dtype.kind != "f" or x.dtype.itemsize <= 4 or x.size == 0:
        return None
    flat = x.reshape(len(x), -1) if x.ndim else x.reshape(1, 1)
    big = 0.0
    for i in range(0, len(flat), rows):
        part = np.abs(flat[i : i + rows])
        big = max(big, float(np.max(part, where=np.isfinite(part), initial=0.0)))
    return big if big > float(np.finfo(np.float32).max) else None


def check_data(
    x, n_clusters: int | str | None = None, name: str = "X", need_variation: bool = True
) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32 (n, d) array after checking it.

    Integer, float64 and numeric object input is converted to float32. Raises ValueError
    for sparse, complex or non-numeric input, wrong rank, no samples or features, NaN/inf
    values, fewer samples than clusters, and (with ``need_variation``, as for fitting) a
    single sample or data whose every feature is constant. The wording contains
    scikit-learn's own patterns (its estimator checks look for them).
    """
    arr = _numeric_array(x, name)
    if arr.ndim != 2:
        hint = (
            (
                "; Reshape your data with x.reshape(-1, 1) for one feature or "
                "x.reshape(1, -1) for one sample"
            )
            if arr.ndim == 1
            else " (flatten images with x.reshape(len(x), -1))"
        )
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    n, d = arr.shape
    for count, what in ((n, "sample"), (d, "feature")):
        if count == 0:
            raise ValueError(
                f"{name} has 0 {what}(s) (shape={arr.shape}) while a minimum of 1 "
                f"is required; pass at least one {what}"
            )
    if (big := beyond_float32(arr)) is not None:  # before the cast turns them to inf
        raise ValueError(
            f"{name} holds values up to {big:.3g}, beyond float32's range (the library "
            "computes in float32); rescale the data, e.g. to [0, 1]"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); remove or impute them")
    if need_variation and n == 1:
        raise ValueError(f"{name} has 1 sample; pass at least 2 samples to fit")
    if need_variation and np.all(arr.max(axis=0) == arr.min(axis=0)):
        raise ValueError(
            f"every feature of {name} is constant, so there is nothing to cluster; "
            "check the data (single constant columns are fine and are kept)"
        )
    if isinstance(n_clusters, int) and n < n_clusters:  # "auto" is checked with k_range
        raise ValueError(
            f"{name} has {n} samples but n_clusters={n_clusters}; "
            "pass at least as many samples as clusters or lower n_clusters"
        )
    return arr


def _whole(v) -> bool:
    """Whether the Python value ``v`` is a finite whole real number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(f) and f == round(f))


def check_labels(y, n: int, name: str = "labels") -> np.ndarray:
    """Labels as int32 (n,); ValueError if their number differs from the data's, or if
    they are not integers within int32's range."""
    y = np.asarray(y).ravel()
    if y.size != n:
        raise ValueError(f"got {y.size} {name} for {n} samples; pass one label per sample")
    if y.dtype.kind == "O":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if y.dtype.kind not in "biu":
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            first = next((v for v in y.tolist() if not _whole(v)), None)
            got = "" if first is None else f"{first!r} "
            raise ValueError(
                f"Unknown label type: {name} must be integers, got {got}(dtype {y.dtype}); "
                "pass class indices"
            )
    small, large = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    if y.size and (y.min() < small or y.max() > large):  # before the cast wraps them
        raise ValueError(f"{name} must lie in int32's range, got {y.min()}..{y.max()}")
    return y.astype(np.int32)


def check_true_labels(y, n: int) -> np.ndarray:
    """The true labels of the metrics as int32 (n,): integers as :func:`check_labels` takes
    them; class names (strings) numbered in their sorted order, since the metrics only
    compare labels. A warning for -1 among them (scikit-learn's mark of an unknown
    label): it is scored as a class; labels to learn from are the known labels."""
    arr = np.asarray(y).ravel()
    if arr.dtype.kind in "US" or (arr.dtype.kind == "O" and any(isinstance(v, str) for v in arr)):
        if arr.size != n:
            raise ValueError(f"got {arr.size} labels for {n} samples; pass one label per sample")
        if not all(isinstance(v, str) for v in arr):
            raise ValueError(
                "labels mix class names with other values (None, NaN, numbers); give every "
                "sample its class, all names or all integers"
            )
        return np.unique(arr.astype(str), return_inverse=True)[1].astype(np.int32)
    y = check_labels(arr, n)
    if unknown := int((y == -1).sum()):
        warnings.warn(
            f"{unknown} true labels are -1, scored as a class of their own: y only scores "
            "the clustering; labels to learn from go to known_labels= (known= to "
            "dssec_jax.fit), -1 where unknown",
            stacklevel=4,
        )
    return y


def check_known(known, n: int, cfg: Config) -> Optional[np.ndarray]:
    """Known labels as int32 (n,), -1 where unknown (scikit-learn's semi-supervised
    convention), or None when none is known; ValueError for labels a run cannot use."""
    if known is not None and np.asarray(known).dtype == bool:
        raise ValueError(
            "known labels must be class labels, -1 where unknown, not a mask of which are "
            "known; pass np.where(mask, y, -1)"
        )
    known = None if known is None else check_labels(known, n, "known labels")
    if known is None or np.all(known == -1):
        if cfg.spec.semi_supervised:
            raise ValueError(
                f"method {cfg.method!r} needs known labels: one per sample, -1 where unknown, at "
                "least one known (known_labels= to DSSEC.fit, known= to dssec_jax.fit, "
                "--label_fraction or --known_labels on the command line)"
            )
        return None
    if cfg.spec.features != "autoencoder":
        raise ValueError(
            f"method {cfg.method!r} has no autoencoder and cannot use known labels; pass none, "
            "or choose lcae_kmeans or another autoencoder method"
        )
    if cfg.n_clusters == "auto":
        raise ValueError(
            "known labels need a fixed n_clusters (the classes they name); pass n_clusters="
            "<the number of classes> instead of 'auto'"
        )
    if cfg.label_weight <= 0:
        raise ValueError("known labels were given with label_weight=0; pass a weight > 0")
    bad = np.unique(known[(known < -1) | (known >= cfg.k)])
    if bad.size:
        raise ValueError(
            f"known labels {bad[:5].tolist()} lie outside 0..{cfg.k - 1}; use -1 for "
            "an unknown label and 0..n_clusters-1 for a known one"
        )
    return known


def _fail(msg: str):
    raise ValueError(msg)


def _check_clusters(cfg: Config, n_samples: int | None) -> None:
    """n_clusters >= 1 (its type: :func:`_check_types`), and k_range and k_criterion when
    it is "auto"."""
    auto = cfg.n_clusters == "auto"
    if not auto and int(cfg.n_clusters) < 1:
        _fail(f"n_clusters must be an integer >= 1 or 'auto', got {cfg.n_clusters!r}")
    if auto:
        check_k_range(cfg.k_range, np.inf if n_samples is None else min(n_samples, MAX_SAMPLES))
        if cfg.k_criterion not in CRITERIA:
            _fail(f"k_criterion must be one of {', '.join(CRITERIA)}, got {cfg.k_criterion!r}")


def _check_model(cfg: Config) -> None:
    """The loss weights, the embedding's scale, the architecture and the sparsity penalty."""
    if not 0.0 < cfg.rho < 1.0:
        _fail(f"rho must lie in (0, 1) (a target mean activation such as 0.05), got {cfg.rho}")
    for k in ("beta", "gamma", "tol"):
        if not 0 <= getattr(cfg, k) < np.inf:  # NaN fails too
            _fail(f"{k} must be a finite number >= 0, got {getattr(cfg, k)}")
    if not 0 < cfg.alpha < np.inf:
        _fail(f"alpha (Student's t degrees of freedom) must be finite and > 0, got {cfg.alpha}")
    if (
        cfg.embed_std is not None
        and cfg.embed_std != "kernel"
        and not (
            isinstance(cfg.embed_std, numbers.Real)
            and not isinstance(cfg.embed_std, bool)
            and 0 < cfg.embed_std < np.inf
        )
    ):
        _fail(
            f"embed_std must be a number > 0, 'kernel' (the Student's t kernel's scale) or "
            f"None (keep the pretrained scale), got {cfg.embed_std!r}"
        )
    if cfg.embed_dim < 1:
        _fail(f"embed_dim must be >= 1, got {cfg.embed_dim}")
    if not cfg.hidden_dims or min(cfg.hidden_dims) < 1:
        _fail(f"hidden_dims must be positive layer sizes, got {cfg.hidden_dims}")
    for k in ("activation", "sparse_activation"):
        if getattr(cfg, k) not in ACTIVATIONS:
            _fail(f"unknown {k} {getattr(cfg, k)!r}; choose from {sorted(ACTIVATIONS)}")
    bad = [i for i in cfg.sparse_layers if not 0 <= i < len(cfg.hidden_dims)]
    if bad:
        _fail(
            f"sparse_layers {bad} out of range: there are {len(cfg.hidden_dims)} hidden layers "
            f"(indices 0..{len(cfg.hidden_dims) - 1})"
        )
    if len(set(cfg.sparse_layers)) < len(cfg.sparse_layers):
        _fail(
            f"sparse_layers {tuple(cfg.sparse_layers)} names a layer twice, which would count "
            "its sparsity penalty twice; name each layer once"
        )
    if cfg.spec.sparse and cfg.sparse_activation not in ("relu", "sigmoid"):
        _fail(
            f"sparse_activation {cfg.sparse_activation!r} has no sparsity penalty: the KL needs "
            "units in [0, 1] or >= 0; choose 'relu' or 'sigmoid'"
        )
    if cfg.sparsity_form not in RATE_FORMS:
        _fail(f"sparsity_form must be one of {', '.join(RATE_FORMS)}, got {cfg.sparsity_form!r}")
    if cfg.sparsity_floor is not None and not 0.0 < cfg.sparsity_floor < cfg.rho:
        _fail(
            f"sparsity_floor must lie in (0, rho={cfg.rho}) (a rate such as rho / 10) or be None "
            f"(the unbounded KL), got {cfg.sparsity_floor}"
        )
    if cfg.sparsity_reduction not in ("mean", "sum"):
        _fail(f"sparsity_reduction must be 'mean' or 'sum', got {cfg.sparsity_reduction!r}")


def _check_training(cfg: Config) -> None:
    """Pretraining, the optimizers, precision and the budgets."""
    if cfg.pretrain not in ("end_to_end", "stacked"):
        _fail(f"pretrain must be 'end_to_end' or 'stacked', got {cfg.pretrain!r}")
    if cfg.init not in INITIALIZERS:
        _fail(f"init must be one of {', '.join(INITIALIZERS)}, got {cfg.init!r}")
    if cfg.pretrain_optimizer not in ("adam", "sgd"):
        _fail(f"pretrain_optimizer must be 'adam' or 'sgd', got {cfg.pretrain_optimizer!r}")
    if not 0.0 <= cfg.pretrain_momentum < 1.0:
        _fail(f"pretrain_momentum must lie in [0, 1), got {cfg.pretrain_momentum}")
    if cfg.pretrain_clip_norm is not None and not 0 < cfg.pretrain_clip_norm < np.inf:
        _fail(
            f"pretrain_clip_norm must be finite and > 0, or None (no clip), "
            f"got {cfg.pretrain_clip_norm}"
        )
    if cfg.cluster_optimizer not in ("adam", "sgd"):
        _fail(f"cluster_optimizer must be 'adam' or 'sgd', got {cfg.cluster_optimizer!r}")
    if not 0.0 <= cfg.momentum < 1.0:
        _fail(f"momentum (of the clustering phase's SGD) must lie in [0, 1), got {cfg.momentum}")
    if cfg.momentum and cfg.cluster_optimizer != "sgd":
        _fail(
            f"momentum={cfg.momentum} is used by SGD only, and cluster_optimizer is "
            f"{cfg.cluster_optimizer!r}; set cluster_optimizer='sgd' or momentum=0"
        )
    if cfg.precision not in ("float32", "bf16"):
        _fail(f"precision must be 'float32' or 'bf16', got {cfg.precision!r}")
    if cfg.refresh_precision not in (None, "float32", "bf16"):
        _fail(
            "refresh_precision must be 'float32', 'bf16' or None (as precision), "
            f"got {cfg.refresh_precision!r}"
        )
    for k in ("pretrain_epochs", "batch_size", "update_interval", "n_init"):
        if getattr(cfg, k) < 1:
            _fail(f"{k} must be >= 1, got {getattr(cfg, k)}")
    if cfg.layerwise_epochs is not None and cfg.layerwise_epochs < 1:
        _fail(f"layerwise_epochs must be >= 1 or None, got {cfg.layerwise_epochs}")
    if cfg.max_iter < 0:
        _fail(f"max_iter must be >= 0, got {cfg.max_iter}")
    for k in ("learning_rate", "cluster_learning_rate"):
        if not 0 < getattr(cfg, k) < np.inf:
            _fail(f"{k} must be finite and > 0, got {getattr(cfg, k)}")


def _check_label_settings(cfg: Config) -> None:
    """label_weight and label_fraction."""
    if not (0.0 <= cfg.label_weight < np.inf and 0.0 <= cfg.label_fraction < 1.0):
        _fail(
            f"label_weight must be >= 0 and label_fraction in [0, 1), got {cfg.label_weight} "
            f"and {cfg.label_fraction}"
        )
    if cfg.label_fraction and cfg.spec.features != "autoencoder":
        _fail(f"method {cfg.method!r} cannot use known labels; set label_fraction=0")
    if cfg.label_fraction and cfg.n_clusters == "auto":
        _fail(
            f"label_fraction={cfg.label_fraction} reveals labels of the classes, which fix "
            "their number: pass n_clusters (the number of classes), or label_fraction=0"
        )


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_types(cfg: Config) -> None:
    """The counts are integers, the layer lists tuples of them, n_clusters one or "auto",
    the rates and weights numbers."""
    for f in dataclasses.fields(Config):
        v = getattr(cfg, f.name)
        if f.type in ("float", "Optional[float]") and not (
            (isinstance(v, numbers.Real) and not isinstance(v, bool))
            or (v is None and f.type != "float")
        ):
            _fail(f"{f.name} must be a number, got {v!r}")
    if not (cfg.n_clusters == "auto" or _is_int(cfg.n_clusters)):
        _fail(f"n_clusters must be an integer >= 1 or 'auto', got {cfg.n_clusters!r}")
    for k in COUNTS[1:]:  # (Config makes whole floats ints)
        v = getattr(cfg, k)
        if not (_is_int(v) or (k == "layerwise_epochs" and v is None)):
            _fail(f"{k} must be an integer, got {v!r}")
    for k in COUNT_TUPLES:
        v = getattr(cfg, k)
        if not all(_is_int(i) for i in v):
            example = tuple(getattr(Config(), k))
            _fail(f"{k} must be a tuple of integers such as {example}, got {v!r}")


def check_config(
    cfg: Config, n_samples: int | None = None, n_features: int | None = None
) -> Config:
    """Raise ValueError naming the first invalid setting of ``cfg`` (for data of
    ``n_samples`` x ``n_features`` where given); return it, with a ``batch_size`` above
    ``n_samples`` lowered to ``n_samples`` (full-batch steps: on a few hundred images this
    beats smaller batches, BUILD_NOTES "Small data")."""
    get_method(cfg.method)
    _check_types(cfg)
    _check_clusters(cfg, n_samples)
    _check_model(cfg)
    _check_training(cfg)
    _check_label_settings(cfg)
    if n_samples is not None:
        if cfg.n_clusters != "auto" and n_samples < cfg.k:
            _fail(
                f"{n_samples} samples but n_clusters={cfg.n_clusters}; "
                "pass at least as many samples as clusters"
            )
        if cfg.spec.features == "pca" and cfg.embed_dim > n_samples:
            _fail(f"embed_dim={cfg.embed_dim} PCA components need at least that many samples")
        if cfg.batch_size > n_samples:  # a batch never exceeds the data: full-batch steps
            cfg = dataclasses.replace(cfg, batch_size=n_samples)
    if n_features is not None and cfg.spec.features == "pca" and cfg.embed_dim > n_features:
        _fail(
            f"embed_dim={cfg.embed_dim} PCA components need at least that many features, the "
            f"data has {n_features}; lower embed_dim"
        )
    return cfg

"""One run of any method, end to end: features (pixels, PCA or a pretrained autoencoder),
the number of clusters when it is "auto", K-means, and the clustering phase. The phases
live in ``pretraining`` and ``clustering``; this module only chains them."""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Optional

import jax
import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA

from . import (
    checkpoint,
    choose_k,
    clustering,
    labels,
    metrics,
    parallel,
    pretraining,
    sae,
    train,
)
from .methods import Config
from .validation import NonFiniteLossError, check_config, check_data, check_known, check_true_labels

Log = pretraining.Log

__all__ = ["FitResult", "NonFiniteLossError", "fit", "resolve_k"]


@dataclasses.dataclass
class FitResult:
    """Outcome of one run. ``history`` has one dict per target refresh."""

    labels: np.ndarray
    embedding: np.ndarray
    centers: np.ndarray
    ae_params: Any = None
    kmeans_labels: Optional[np.ndarray] = None
    history: list = dataclasses.field(default_factory=list)
    pretrain_history: list = dataclasses.field(default_factory=list)
    n_iter: int = 0
    stop_reason: str = "none"
    seconds: dict = dataclasses.field(default_factory=dict)
    pca: Optional[PCA] = None
    n_clusters: int = 0  # the number of clusters used (chosen when n_clusters="auto")
    k_scores: Optional[dict] = None  # {k: criterion} when n_clusters="auto"


def resolve_k(
    features: np.ndarray, cfg: Config, seed: int, log: Log = None
) -> tuple[Config, Optional[dict]]:
    """``cfg`` with ``n_clusters`` chosen from ``features`` when it is "auto"
    (:func:`dssec_jax.choose_k.choose_k`; record "k_chosen"), and the criterion per k
    tried (else None)."""
    if cfg.n_clusters != "auto":
        return cfg, None
    k, scores = choose_k.choose_k(features, cfg.k_range, seed, cfg.k_criterion)
    if log:
        log({"event": "k_chosen", "criterion": cfg.k_criterion, "k": k, "scores": scores})
    return dataclasses.replace(cfg, n_clusters=k), scores


def _kmeans_only(features, cfg: Config, seed: int, log: Log, t: float, **extra) -> FitResult:
    """K-means (and the choice of k) on fixed features: the pixels or PCA."""
    cfg, k_scores = resolve_k(features, cfg, seed, log)
    centers, labels = clustering.kmeans(features, cfg.k, cfg.n_init, seed)
    return FitResult(
        labels=labels,
        embedding=features,
        centers=centers,
        kmeans_labels=labels,
        stop_reason="kmeans",
        seconds={"kmeans": time.time() - t},
        n_clusters=cfg.k,
        k_scores=k_scores,
        **extra,
    )


def fit(
    x: ArrayLike,
    cfg: Config,
    seed: int = 0,
    y: ArrayLike | None = None,
    *,
    known: ArrayLike | None = None,
    store: Optional[checkpoint.FileStore] = None,
    log: Log = None,
) -> FitResult:
    """Run method ``cfg.method`` on ``x``.

    With ``n_clusters="auto"`` the number of clusters is chosen on the features (raw, PCA
    or the pretrained embedding) before K-means.

    Args:
      x: data, (n, d).
      cfg: the run's settings (``Config``).
      seed: seed of every random choice of the run.
      y: optional true labels, only for the metrics in the history.
      known: optional known labels (n,), -1 where unknown: the autoencoder learns with the
        label term (``pretraining.pretrain``); needed by ``lcae_kmeans``. With the store,
        its cache key should name them (``Config.pretrain_hash(..., known=digest)``): an
        autoencoder stored from other known labels is refused, not reused.
      store: optional checkpoint store (``checkpoint.FileStore``): the run resumes from it.
      log: optional callback, given one record (dict, key "event") per step of progress.

    Returns:
      A :class:`FitResult`.
    """
    x, cfg, y, known = _checked(x, cfg, y, known)
    key = jax.random.PRNGKey(seed)
    t = time.time()
    if cfg.spec.features == "raw":
        return _kmeans_only(x.copy(), cfg, seed, log, t)  # never the caller's own array
    if cfg.spec.features == "pca":
        pca = PCA(n_components=cfg.embed_dim, random_state=seed).fit(x)
        return _kmeans_only(pca.transform(x).astype(np.float32), cfg, seed, log, t, pca=pca)
    ae, pre_hist = pretraining.pretrain(
        x, cfg, jax.random.fold_in(key, 1), known=known, store=store, log=log
    )
    label_map = ae.pop("label_map", None)  # with known labels: the clustering phase's too
    embed = _embedder(x, cfg)
    result, cfg, (scale, rule) = _start(embed, ae, cfg, seed, (y, known), log, time.time() - t)
    result.pretrain_history = pre_hist
    if cfg.spec.clustering is None:
        return result
    centers = result.centers
    if cfg.embed_std:
        ae, centers = sae.rescale_embedding(ae, scale), centers * scale
        if label_map is not None:
            label_map = labels.rescale_label_map(label_map, scale)
    t = time.time()
    ckey = jax.random.fold_in(key, 2)
    out = clustering.cluster(
        x, ae, centers, cfg, ckey, y, known=known, label_map=label_map, store=store, log=log
    )
    result.seconds["cluster"] = time.time() - t
    out["history"][0].update(embed_scale=scale, embed_scale_rule=rule)
    return _clustered(result, out, cfg, embed)


def _start(embed, ae: dict, cfg: Config, seed: int, labels, log: Log, pretrain_s: float) -> tuple:
    """The clustering phase's start on the pretrained embedding: the choice of k, K-means
    and the embedding's scale; ``labels``: (true labels, known labels), each or both None,
    for the K-means record. Returns (the K-means result, ``cfg`` with its k, (scale,
    rule))."""
    y, known = labels
    t = time.time()
    z = embed(ae)
    cfg, k_scores = resolve_k(z, cfg, seed, log)
    centers, km_labels, scale, scale_rule = clustering.start(z, cfg, seed)
    if log and y is not None:
        log({"event": "kmeans", **metrics.evaluate(y, km_labels, known)})
    result = FitResult(
        labels=km_labels,
        embedding=z,
        centers=centers,
        ae_params=ae,
        kmeans_labels=km_labels,
        stop_reason="kmeans",
        seconds={"pretrain": pretrain_s, "kmeans": time.time() - t},
        n_clusters=cfg.k,
        k_scores=k_scores,
    )
    return result, cfg, (scale, scale_rule)


def _checked(
    x: ArrayLike, cfg: Config, y: ArrayLike | None, known: ArrayLike | None
) -> tuple[np.ndarray, Config, Optional[np.ndarray], Optional[np.ndarray]]:
    """(x, cfg, y, known) checked and converted (``validation``); a warning for settings
    the method does not use (and, by ``check_true_labels``, for -1 among the true labels);
    ValueError for a ``label_fraction`` the known labels do not have."""
    x = check_data(x, cfg.n_clusters)
    asked, cfg = cfg.batch_size, check_config(cfg, *x.shape)
    if ignored := cfg.ignored_settings():
        warnings.warn(
            f"method {cfg.method!r} does not use {', '.join(ignored)}: the values given have "
            "no effect on this run",
            stacklevel=3,
        )
    lowered = cfg.batch_size < asked
    parallel.check_batch(cfg.batch_size, parallel.mesh_for(cfg.data_parallel), lowered)
    y = None if y is None else check_true_labels(y, x.shape[0])
    known = check_known(known, x.shape[0], cfg)
    if cfg.label_fraction and known is None:
        raise ValueError(
            f"label_fraction={cfg.label_fraction} asks for known labels and none were given; "
            "pass known= (dssec_jax.labels.reveal draws them) or set label_fraction=0"
        )
    given = 0 if known is None else int(np.sum(known >= 0))
    if (
        cfg.label_fraction
        and known is not None
        and abs(given - cfg.label_fraction * known.size) > cfg.k
    ):
        raise ValueError(
            f"label_fraction={cfg.label_fraction} records a share the known labels do not "
            f"have ({given} of {known.size} known); set it to the share given, or to 0 (it "
            "draws labels in the command-line drivers only)"
        )
    return x, cfg, y, known


def _embedder(x: np.ndarray, cfg: Config):
    """``embed(ae)``: the embedding of all of ``x`` on the host, in one compiled pass."""
    mesh = parallel.mesh_for(cfg.data_parallel)

    net = cfg.net()

    def embed(ae):
        x_dev = parallel.place(x, mesh, rows=True)
        return parallel.to_host(train.embed(ae, x_dev, net.acts, net.compute_dtype))

    return embed


def _clustered(result: FitResult, out: dict, cfg: Config, embed) -> FitResult:
    """``result`` (the K-means start) updated with the clustering phase's outcome ``out``;
    a warning when the clustering collapsed."""
    if result.k_scores is not None:  # the choice of k, on the record of the phase's start
        out["history"][0].update(
            n_clusters=cfg.n_clusters, k_scores={str(k): v for k, v in result.k_scores.items()}
        )
    params = out["params"]
    if clustering.collapsed(out["labels"], cfg.k):
        warnings.warn(
            f"the clustering collapsed: {len(np.unique(out['labels']))} of {cfg.n_clusters} "
            "clusters are non-empty (fewer than half); try another seed or a smaller gamma, "
            "or keep the K-means start (kmeans_labels)",
            stacklevel=3,
        )
    return dataclasses.replace(
        result,
        labels=out["labels"],
        embedding=embed(params["ae"]),
        centers=np.asarray(params["centers"]),
        ae_params=params["ae"],
        history=out["history"],
        n_iter=out["n_iter"],
        stop_reason=out["stop_reason"],
    )

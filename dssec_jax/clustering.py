"""The clustering phase (DEC, IDEC, DSSEC) and its start: K-means on the embedding and
the embedding's scale. Its rules (the weights, the stopping test, what is trained) are
defined once here and used by the single-run driver :func:`cluster` and by ``sweep``."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Callable, Optional

import jax
import numpy as np
from sklearn.cluster import KMeans

from . import checkpoint, metrics, parallel, train
from .labels import label_data
from .methods import Config
from .validation import check_config, check_finite

Log = Optional[Callable[[dict], None]]

# The public API; the other functions are the rules shared with ``sweep``.
__all__ = ["cluster", "kmeans", "start", "embed_scale"]


def kmeans(z: np.ndarray, n_clusters: int, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn K-means with ``n_init`` restarts; returns (centers (K, e), labels (n,))."""
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    labels = km.fit_predict(np.asarray(z, np.float64))
    return km.cluster_centers_.astype(np.float32), labels.astype(np.int32)


def embed_scale(
    z: np.ndarray, embed_std, centers: np.ndarray, labels: np.ndarray, alpha: float
) -> tuple[float, str]:
    """Factor s applied to the embedding before the clustering phase, and the rule used.

    A number: s = embed_std / std(z) (std over all entries of z; rule "std"). "kernel": the
    scale of the Student's t kernel itself, s = sqrt(alpha / median_i ||z_i - mu_{l_i}||^2),
    so the median point lies at squared distance alpha from its K-means centre (kernel
    value 2^(-(alpha+1)/2) there), whatever the autoencoder's scale (rule "kernel"). When
    more than half the points sit on their centre (duplicated data) the median is 0 and s
    would be huge, Q one-hot and the clustering gradient nil: the mean squared distance
    stands in for the median (rule "kernel_mean"). A constant embedding is refused.
    """
    z = np.asarray(z, np.float64)
    spread = float(np.std(z))
    if not np.isfinite(spread) or spread <= 1e-12 * max(1.0, float(np.max(np.abs(z)))):
        raise ValueError(
            f"the pretrained embedding is constant (std {spread:.3g}): every sample has the "
            "same code, so it has no scale and no clusters; check the data for variation, or "
            "pretrain otherwise (another learning rate or recipe)"
        )
    if embed_std != "kernel":
        return float(embed_std / spread), "std"
    d2 = np.sum(np.square(z - centers[labels]), axis=1)
    median, floor = float(np.median(d2)), 1e-6 * float(np.mean(np.sum(np.square(z - z.mean(0)), 1)))
    if median > floor:
        return float(np.sqrt(alpha / median)), "kernel"
    return float(np.sqrt(alpha / max(float(np.mean(d2)), floor))), "kernel_mean"


def start(z: np.ndarray, cfg: Config, seed: int) -> tuple[np.ndarray, np.ndarray, float, str]:
    """The clustering phase's start on the embedding ``z``: K-means (``cfg.n_init``
    restarts) and the embedding's scale s with its rule (1 and "none" without
    ``cfg.embed_std`` or a clustering phase). Returns (centres of the unscaled embedding,
    K-means labels, s, rule); the phase starts from s * centres."""
    centers, labels = kmeans(z, cfg.k, cfg.n_init, seed)
    if cfg.embed_std and cfg.spec.clustering is not None:
        return centers, labels, *embed_scale(z, cfg.embed_std, centers, labels, cfg.alpha)
    return centers, labels, 1.0, "none"


def collapsed(labels: np.ndarray, n_clusters: int) -> bool:
    """Whether a clustering has collapsed: fewer than half of its clusters are non-empty."""
    return int(np.count_nonzero(np.bincount(labels, minlength=n_clusters))) < n_clusters / 2


def record(it, labels, delta, parts, y, n_clusters, seconds) -> dict:
    """History entry of one target refresh: label change, cluster sizes (and whether fewer
    than half are non-empty: "collapsed"), loss parts, metrics."""
    sizes = np.bincount(labels, minlength=n_clusters)
    rec = {
        "iteration": int(it),
        "delta_label": float(delta),
        "seconds": round(seconds, 3),
        "n_empty_clusters": int(np.sum(sizes == 0)),
        "collapsed": collapsed(labels, n_clusters),
        "min_cluster_size": int(sizes.min()),
        "max_cluster_size": int(sizes.max()),
        **parts,
    }
    if y is not None:
        rec.update(metrics.evaluate(y, labels))
    return rec


def hyper(cfg: Config, labelled: bool = False) -> dict:
    """Traced hyper-parameters of the clustering phase (the label term's weight when
    labels are known)."""
    return train.hyper(
        gamma=cfg.cluster_gamma(),
        beta=cfg.cluster_beta(),
        rho=cfg.rho,
        alpha=cfg.alpha,
        kl_floor=cfg.sparsity_floor,
        label_weight=cfg.label_weight if labelled else None,
    )


def compiled(cfg: Config, data_axes, mesh=None, labelled: bool = False) -> tuple:
    """(compiled clustering steps, target refresh, optimizer) of ``cfg``; ``data_axes`` as
    ``train.clustering_steps`` takes it (UNBATCHED for one run, vmapped otherwise);
    ``labelled``: the steps with the label term."""
    acts, compute_dtype = cfg.hidden_acts(), cfg.compute_dtype()
    opt = (cfg.cluster_optimizer, cfg.cluster_learning_rate, cfg.momentum)
    step_fn = train.clustering_steps(
        acts,
        cfg.penalised_layers(),
        cfg.sparsity_reduction,
        cfg.rate_form(),
        cfg.spec.use_decoder,
        compute_dtype,
        opt,
        (cfg.update_interval, cfg.batch_size),
        data_axes,
        mesh,
        **_labelled(labelled),
    )
    refresh = train.refresh_fn(acts, cfg.refresh_dtype(), batched=data_axes != train.UNBATCHED)
    return step_fn, refresh, train.make_optimizer(*opt)


def final_refresh(cfg: Config, batched: bool = False) -> Optional[Callable]:
    """The refresh at the training precision that gives the reported Q and labels when the
    phase's refreshes ran at another one (``refresh_precision``), else None."""
    if cfg.refresh_precision in (None, cfg.precision):
        return None
    return train.refresh_fn(cfg.hidden_acts(), cfg.compute_dtype(), batched=batched)


def stop_reason(it: int, delta: float, refreshed: bool, cfg: Config) -> Optional[str]:
    """Why the clustering phase stops at iteration ``it``: "tol" when, after at least one
    refresh, the fraction ``delta`` of changed labels is below tol; "max_iter" at the
    budget's end; None to go on."""
    if refreshed and it > 0 and delta < cfg.tol:
        return "tol"
    return "max_iter" if it >= cfg.max_iter else None


def label_change(labels: np.ndarray, prev: Optional[np.ndarray]) -> float:
    """Fraction of labels changed since the previous refresh (1 at the first)."""
    return 1.0 if prev is None else float(np.mean(labels != prev))


def trained_params(ae: dict, centers, cfg: Config, label_map: Optional[dict] = None) -> dict:
    """What the clustering phase trains: the autoencoder (the encoder alone for DEC), the
    centres, and the label map when labels are known."""
    trained = ae if cfg.spec.use_decoder else {"encoder": ae["encoder"]}
    out = {"ae": trained, "centers": centers}
    return out if label_map is None else {**out, "label_map": label_map}


def _labelled(labelled: bool) -> dict:
    """The builders' ``labelled`` argument, given only when set: an unsupervised call keeps
    the cache key (and compiled program) it always had."""
    return {"labelled": True} if labelled else {}


def _placed(arrays, mesh) -> tuple:
    return tuple(parallel.place(a, mesh, rows=True) for a in arrays)


def with_decoder(params: dict, ae: dict, cfg: Config) -> dict:
    """``params`` with ``ae``'s untouched decoder put back (DEC)."""
    if cfg.spec.use_decoder:
        return params
    return {**params, "ae": {**params["ae"], "decoder": ae["decoder"]}}


def run_id(cfg: Config, shape: tuple) -> str:
    """What a clustering checkpoint belongs to: the settings (k included) and the data's
    shape. Not the start's centres, which may differ by rounding on other hardware."""
    settings = cfg.to_dict()
    if settings["refresh_precision"] is None:  # added later: old runs keep their id
        del settings["refresh_precision"]
    blob = json.dumps([settings, list(shape)], sort_keys=True, default=lambda o: o.item())
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cluster(
    x: np.ndarray,
    ae_params: dict,
    centers: np.ndarray,
    cfg: Config,
    key: jax.Array,
    y: Optional[np.ndarray] = None,
    *,
    known: Optional[np.ndarray] = None,
    label_map: Optional[dict] = None,
    store=None,
    log: Log = None,
) -> dict:
    """The clustering phase of DEC, IDEC or DSSEC.

    Every ``update_interval`` iterations Q, P and the labels are recomputed on the whole
    dataset; the phase stops when the fraction of changed labels is below ``tol`` or after
    ``max_iter`` iterations. DEC trains the encoder and centres only; its decoder is
    returned unchanged. With ``refresh_precision`` other than ``precision`` the refreshes
    run at the former and the returned Q and labels come from one last pass at the latter;
    the history (its metrics and the tol test) stays that of the refreshes, and its last
    record gets ``final_pass_label_change``, the fraction of labels that pass changed.

    Args:
      x: data, (n, d).
      ae_params: the pretrained autoencoder (copied, never donated).
      centers: the starting centres, (k, e) (copied).
      cfg: the run's settings.
      key: PRNG key of the minibatches.
      y: optional true labels, only for the metrics in the history.
      known: optional known labels (n,), -1 where unknown: the phase keeps the label term
        (``train.clustering_loss``), with ``label_map`` (the map pretraining learned, for
        the embedding as scaled here) trained on.
      label_map: the label map {"w", "b"}; needed with ``known``.
      store: optional checkpoint store ("cluster"): saved at most every
        ``store.min_interval_s`` seconds and at the end; a run resumes from it.
      log: optional callback, given one record (dict) per event: "cluster_resumed", and
        "cluster_refresh" after every target refresh (its history entry and the timing).

    Returns:
      dict(params, labels, q, history, n_iter, stop_reason).
    """
    cfg = check_config(cfg, x.shape[0])  # a batch never exceeds the data
    mesh = parallel.mesh_for(cfg.data_parallel)
    labelled = known is not None
    hp = hyper(cfg, labelled)
    step_fn, refresh, optimizer = compiled(cfg, train.UNBATCHED, mesh, labelled)
    x_dev = parallel.place(x, mesh, rows=True)
    n = x.shape[0]
    params = jax.tree.map(np.array, trained_params(ae_params, centers, cfg, label_map))
    data = (x_dev,) if known is None else (x_dev, *_placed(label_data(x, known, cfg.k), mesh))
    state = parallel.place(train.init_state(params, optimizer), mesh)
    rid = None if store is None else run_id(cfg, x.shape)
    state, prev, it, history, parts = _resume(store, state, rid, n, mesh, log)
    t0 = last_save = time.time()
    it0 = saved_at = it
    q, p, labels = refresh(state.params, x_dev, hp["alpha"])
    labels = parallel.to_host(labels)
    while True:
        delta = label_change(labels, prev)
        history.append(record(it, labels, delta, parts, y, cfg.k, time.time() - t0))
        if log:
            el = time.time() - t0
            eta = None if it == it0 else el / (it - it0) * max(cfg.max_iter - it, 0)
            log(
                {"event": "cluster_refresh", **history[-1], "max_iter": cfg.max_iter}
                | {"elapsed_s": el, "eta_s": eta}
            )
        if (stop := stop_reason(it, delta, prev is not None, cfg)) is not None:
            break
        steps = min(cfg.update_interval, cfg.max_iter - it)
        batch = (data[0], p, *data[1:])
        state, parts = step_fn(state, batch, jax.random.fold_in(key, it), steps, hp)
        q, p, new_labels = refresh(state.params, x_dev, hp["alpha"])
        parts = {k: float(v) for k, v in jax.device_get(parts).items()}  # one sync per dispatch
        check_finite(parts["loss"], "clustering", f"iterations {it}-{it + steps}")
        it += steps
        prev, labels = labels, parallel.to_host(new_labels)
        if store is not None and time.time() - last_save >= store.min_interval_s:
            meta = {"iteration": it, "history": history, "parts": parts, "run": rid}
            store.put("cluster", {"state": state, "prev": prev}, meta)
            last_save, saved_at = time.time(), it
    if (final := final_refresh(cfg)) is not None:
        q, _, final_labels = final(state.params, x_dev, hp["alpha"])
        final_labels = parallel.to_host(final_labels)
        history[-1]["final_pass_label_change"] = label_change(final_labels, labels)
        labels = final_labels
    if store is not None and it > saved_at:
        meta = {"iteration": it, "history": history[:-1], "parts": parts, "run": rid}
        store.put("cluster", {"state": state, "prev": prev}, meta)
    return {
        "params": with_decoder(state.params, ae_params, cfg),
        "labels": labels,
        "q": parallel.to_host(q),
        "history": history,
        "n_iter": it,
        "stop_reason": stop,
    }


def _resume(store, state, rid: Optional[str], n: int, mesh, log: Log) -> tuple:
    """(state, previous labels, iteration, history, loss parts) to start the phase from:
    the store's "cluster" checkpoint when it holds one of this run, else the start."""
    if store is None or (hit := store.get("cluster")) is None:
        return state, None, 0, [], {}
    meta, raw = hit
    if meta.get("run", rid) != rid:  # (older checkpoints carry no run id)
        raise ValueError(
            "the clustering checkpoint in this store belongs to another run (other "
            "settings, data or start); give each run its own store or delete it"
        )
    template = {"state": state, "prev": np.zeros(n, np.int32)}
    saved = checkpoint.restore_or_drop(store, "cluster", template, raw)
    if saved is None:
        return state, None, 0, [], {}
    if log:
        log({"event": "cluster_resumed", "iteration": meta["iteration"]})
    state, prev = parallel.place(saved["state"], mesh), np.asarray(saved["prev"])
    return state, prev, meta["iteration"], meta["history"], meta["parts"]

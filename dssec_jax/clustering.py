"""The clustering phase (DEC, IDEC, DSSEC) and its start: K-means on the embedding and
the embedding's scale. Its rules (the weights, the stopping test, what is trained) are
defined once here and used by the single-run driver :func:`cluster` and by ``sweep``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Callable, Optional

import jax
import numpy as np
from sklearn.cluster import KMeans

from . import checkpoint, metrics, parallel, train
from .labels import KNOWN_ORDER, digest, label_data
from .methods import Config
from .validation import NonFiniteLossError, check_config, check_data, check_known

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
    return sizes_collapsed(np.bincount(labels, minlength=n_clusters))


def sizes_collapsed(sizes: np.ndarray) -> bool:
    """:func:`collapsed`, from the clusters' sizes."""
    return bool(2 * np.count_nonzero(sizes) < len(sizes))


def record(it, labels, delta, parts, score, n_clusters, seconds) -> dict:
    """History entry of one target refresh: label change, cluster sizes (and whether fewer
    than half are non-empty: "collapsed"), loss parts, metrics (``score(labels)``, from
    ``metrics.scorer``, when true labels are given)."""
    sizes = np.bincount(labels, minlength=n_clusters)
    rec = {
        "iteration": int(it),
        "delta_label": float(delta),
        "seconds": round(seconds, 3),
        "n_empty_clusters": int(np.sum(sizes == 0)),
        "collapsed": sizes_collapsed(sizes),
        "min_cluster_size": int(sizes.min()),
        "max_cluster_size": int(sizes.max()),
        **parts,
    }
    if score is not None:
        rec.update(score(labels))
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


def phase(cfg: Config) -> train.Phase:
    """The clustering phase's settings, resolved once: the network, the optimizer, the
    batch size, the mesh of data parallelism, the refresh's dtype and whether the decoder
    is trained."""
    return train.Phase(
        net=cfg.net(),
        optimizer=cfg.cluster_opt(),
        batch_size=cfg.batch_size,
        mesh=parallel.mesh_for(cfg.data_parallel),
        refresh_dtype=cfg.refresh_dtype(),
        use_decoder=cfg.spec.use_decoder,
    )


def compiled(ph: train.Phase, update_interval: int, data_axes, labelled: bool = False) -> tuple:
    """(compiled steps of ``update_interval`` iterations, compiled target refresh) of the
    phase ``ph``; ``data_axes`` as ``train.clustering_steps`` takes it (UNBATCHED for one
    run, vmapped otherwise); ``labelled``: the steps with the label term."""
    step_fn = train.clustering_steps(
        ph.net,
        ph.optimizer,
        use_decoder=ph.use_decoder,
        steps=update_interval,
        batch_size=ph.batch_size,
        data_axes=data_axes,
        mesh=ph.mesh,
        labelled=labelled,
    )
    batched = data_axes != train.UNBATCHED
    return step_fn, train.refresh_fn(ph.net.acts, ph.refresh_dtype, batched=batched)


def final_refresh(ph: train.Phase, batched: bool = False) -> Optional[Callable]:
    """The refresh at the training precision that gives the reported Q and labels when the
    phase's refreshes ran at another one (``refresh_precision``), else None."""
    if ph.refresh_dtype == ph.net.compute_dtype:
        return None
    return train.refresh_fn(ph.net.acts, ph.net.compute_dtype, batched=batched)


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


def with_decoder(params: dict, ae: dict, cfg: Config) -> dict:
    """``params`` with ``ae``'s untouched decoder put back (DEC)."""
    if cfg.spec.use_decoder:
        return params
    return {**params, "ae": {**params["ae"], "decoder": ae["decoder"]}}


def run_id(cfg: Config, shape: tuple, known: Optional[np.ndarray] = None) -> str:
    """What a clustering checkpoint belongs to: the settings (k included), the data's
    shape and, with known labels, their digest and the order the steps draw them in. Not
    the start's centres, which may differ by rounding on other hardware."""
    settings = cfg.to_dict()
    if settings["refresh_precision"] is None:  # added later: old runs keep their id
        del settings["refresh_precision"]
    parts = [settings, list(shape)]
    if known is not None:  # added later: runs without known labels keep their id
        parts.append({"known": digest(known), "known_order": KNOWN_ORDER})
    blob = json.dumps(parts, sort_keys=True, default=lambda o: o.item())
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_start(cfg: Config, n_features: int, ae_params, centers, known, label_map) -> None:
    """ValueError for starting centres of another shape than (k, embed_dim), known labels
    without the label map pretraining learned (or the map without labels), an autoencoder
    whose first layer does not take ``n_features`` inputs or whose encoder's widths are
    not ``cfg``'s (hidden_dims, embed_dim), or a label map not (embed_dim, k)."""
    if (known is None) != (label_map is None):
        raise ValueError(
            "known labels and label_map go together: the label term needs the map from the "
            "code to the classes (pretraining's params['label_map']) and labels to fit it"
        )
    if np.shape(centers) != (cfg.k, cfg.embed_dim):
        raise ValueError(
            f"centers must be (n_clusters, embed_dim) = {(cfg.k, cfg.embed_dim)}, got "
            f"{np.shape(centers)}: one row per cluster in the embedding"
        )
    try:
        d_in = np.shape(ae_params["encoder"][0]["w"])[0]
        widths = tuple(np.shape(layer["w"])[1] for layer in ae_params["encoder"])
    except (KeyError, IndexError, TypeError):
        raise ValueError(
            "ae_params must be an autoencoder's parameters ({'encoder': [...], 'decoder': "
            "[...]}, as pretraining.pretrain returns them)"
        ) from None
    if d_in != n_features:
        raise ValueError(
            f"x has {n_features} features but the autoencoder's first layer takes {d_in}: "
            "cluster the data it was pretrained on"
        )
    if widths != (*cfg.hidden_dims, cfg.embed_dim):
        raise ValueError(
            f"the autoencoder's encoder has widths {widths} but the config says hidden_dims "
            f"{tuple(cfg.hidden_dims)} and embed_dim {cfg.embed_dim}: pass the config it was "
            "pretrained with"
        )
    if label_map is not None and np.shape(label_map["w"]) != (cfg.embed_dim, cfg.k):
        raise ValueError(
            f"label_map['w'] must be (embed_dim, n_clusters) = {(cfg.embed_dim, cfg.k)}, got "
            f"{np.shape(label_map['w'])}: the map pretraining learned for this config"
        )


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
    """The clustering phase of DEC, IDEC or DSSEC on data ``x`` (n, d), from the
    pretrained ``ae_params`` and the starting ``centers`` (k, e), both copied, never
    donated; ``key`` draws the minibatches.

    Every ``update_interval`` iterations Q, P and the labels are recomputed on the whole
    dataset; the phase stops when the fraction of changed labels is below ``tol`` or after
    ``max_iter`` iterations (:func:`run_loop`). DEC trains the encoder and centres only;
    its decoder is returned unchanged. With ``refresh_precision`` other than ``precision``
    the returned Q and labels come from one last pass at the latter, and the last record
    gets ``final_pass_label_change``. ``y``: true labels, only for the metrics in the
    history (with ``known`` labels also on the samples not given: ``metrics.evaluate``).
    ``known`` (n,), -1 where unknown: the phase keeps the label term
    (``train.clustering_loss``) with ``label_map``, the map pretraining learned, trained
    on. ``store``: a checkpoint store ("cluster"), saved at most every
    ``store.min_interval_s`` seconds and at the end; a run resumes from it. ``log`` is
    given "cluster_resumed" and, after every refresh, "cluster_refresh" records.

    Returns:
      dict(params, labels, q, history, n_iter, stop_reason).
    """
    x = check_data(x, cfg.n_clusters)
    cfg = check_config(cfg, x.shape[0])  # a batch never exceeds the data
    known = check_known(known, x.shape[0], cfg)
    _check_start(cfg, x.shape[1], ae_params, centers, known, label_map)
    ph = phase(cfg)
    params = jax.tree.map(np.array, trained_params(ae_params, centers, cfg, label_map))
    state = parallel.place(train.init_state(params, ph.optimizer.build()), ph.mesh)
    rid = None if store is None else run_id(cfg, x.shape, known)
    owner = getattr(store, "pretrain_key", None)
    inputs = None if store is None else checkpoint.inputs_digest(x, key)
    state, runs = _resume(store, state, (rid, owner, inputs), x.shape[0], ph.mesh, log)
    at = {"rid": rid, "owner": owner, "inputs": inputs, "saved_at": runs.it}
    one = _One(ph, cfg, x, key, known, log, **at)
    state = run_loop(state, runs, one, [cfg], metrics.scorer(y, known), store)
    labels = runs.final_labels[0]
    if (final := final_refresh(ph)) is not None:
        q, _, final_labels = final(state.params, one.x, one.hp["alpha"])
        final_labels = parallel.to_host(final_labels)
        runs.history[0][-1]["final_pass_label_change"] = label_change(final_labels, labels)
        one.q, labels = q, final_labels
    if store is not None and runs.it > one.saved_at:
        one.save(store, state, runs, finished=True)
    return {
        "params": with_decoder(state.params, ae_params, cfg),
        "labels": labels,
        "q": parallel.to_host(one.q),
        "history": runs.history[0],
        "n_iter": runs.n_iter[0],
        "stop_reason": runs.stop[0],
    }


@dataclasses.dataclass
class Runs:
    """The bookkeeping of S runs in one clustering phase (S = 1 for a single run): which
    still train, each one's labels when it stopped, iterations, stop reason, history and
    last loss parts, the labels of the previous refresh (S, n) and the iteration."""

    active: np.ndarray
    final_labels: list
    n_iter: list
    stop: list
    history: list
    parts: list
    prev: Optional[np.ndarray] = None
    it: int = 0

    @classmethod
    def start(cls, alive) -> "Runs":
        """Runs at iteration 0; those not ``alive`` (lost in pretraining) start frozen."""
        n = len(alive)
        return cls(
            active=np.array(alive, bool),
            final_labels=[None] * n,
            n_iter=[0] * n,
            stop=["" if a else "nonfinite" for a in alive],
            history=[[] for _ in range(n)],
            parts=[{}] * n,
        )

    def meta(self) -> dict:
        """What a checkpoint keeps besides the arrays."""
        return {
            "it": self.it,
            "parts": self.parts,
            "history": self.history,
            "active": self.active.tolist(),
            "n_iter": self.n_iter,
            "stop": self.stop,
            "final": [f is not None for f in self.final_labels],
        }

    def refreshed(self, labels: np.ndarray, cfgs, score, seconds: float) -> None:
        """After a refresh with ``labels`` (S, n): a history record per training run (and
        one for runs frozen before the phase), and the stopping rule: a run that meets it
        stops with these labels."""
        it, k = self.it, cfgs[0].k
        frozen = ~self.active & np.array([r == "nonfinite" for r in self.stop])
        for i in np.flatnonzero(frozen):
            if self.final_labels[i] is None:  # frozen before the clustering phase
                self.final_labels[i] = labels[i]
                self.history[i] = [record(it, labels[i], 0.0, {}, score, k, 0.0)]
        for i in np.flatnonzero(self.active):
            prev = None if self.prev is None else self.prev[i]
            delta = label_change(labels[i], prev)
            rec = record(it, labels[i], delta, self.parts[i], score, k, seconds)
            self.history[i].append(rec)
            reason = stop_reason(it, delta, self.prev is not None, cfgs[i])
            if reason is not None:
                self.active[i] = False
                self.final_labels[i], self.n_iter[i], self.stop[i] = labels[i], it, reason

    def stepped(self, means: dict, labels: np.ndarray, steps: int, log: Log) -> None:
        """After ``steps`` iterations from the refresh with ``labels``: the mean loss parts
        (S,) per run; a run whose part "finite" is False stops with the labels before the
        chunk ("nonfinite"); all of them non-finite is a NonFiniteLossError."""
        it, finite = self.it, np.asarray(means.pop("finite"))
        lost = np.flatnonzero(self.active & ~finite)
        for i in lost:
            self.active[i] = False
            self.final_labels[i], self.n_iter[i], self.stop[i] = labels[i], it, "nonfinite"
            self.history[i][-1]["nonfinite_at"] = [it, it + steps]
        if all(r == "nonfinite" for r in self.stop):
            raise NonFiniteLossError(
                f"non-finite loss in clustering at iterations {it}-{it + steps}; the last good "
                "checkpoint is kept. Lower the learning rate or gamma, or check the input scaling"
            )
        if log and lost.size:
            log(
                {"event": "batched_nonfinite", "phase": "clustering", "iteration": it}
                | {"runs": lost.tolist()}
            )
        self.parts = [{k: float(v[i]) for k, v in means.items()} for i in range(len(self.stop))]
        self.it, self.prev = it + steps, labels


def run_loop(state, runs: Runs, io, cfgs, score, store) -> train.TrainState:
    """The clustering phase's loop, one shape for one run and for S runs: refresh the
    targets, record (runs that meet their stopping rule stop), train the active runs
    ``update_interval`` iterations, stop the runs turned non-finite, checkpoint at most
    every ``store.min_interval_s`` seconds; ``score``: the records' metrics
    (``metrics.scorer``), or None. ``io`` holds the compiled programs:
    ``io.refresh(state) -> (p, labels (S, n) on the host)``, ``io.step(state, p, runs,
    steps) -> (state, mean parts (S,) with "finite")``, ``io.logged(runs, t0, it0)``,
    ``io.save(store, state, runs)`` and the callback ``io.log``."""
    cfg, it0 = cfgs[0], runs.it
    t0 = last_save = time.time()
    while True:
        p, labels = io.refresh(state)
        runs.refreshed(labels, cfgs, score, time.time() - t0)
        io.logged(runs, t0, it0)
        if not runs.active.any():
            return state
        steps = min(cfg.update_interval, cfg.max_iter - runs.it)
        state, means = io.step(state, p, runs, steps)
        runs.stepped(means, labels, steps, io.log)
        if store is not None and time.time() - last_save >= store.min_interval_s:
            io.save(store, state, runs)
            last_save = time.time()


class _One:
    """The compiled programs and data of a single run's loop (:func:`run_loop`, S = 1)."""

    def __init__(self, ph: train.Phase, cfg: Config, x: np.ndarray, key, known, log: Log, **at):
        """``at``: the checkpoint's run id ``rid``, the store's key ``owner`` of the run's
        data, seed and pretraining, the digest of its data and key ``inputs``, and the
        iteration ``saved_at`` it holds."""
        labelled = known is not None
        self.hp, self.key, self.log, self.max_iter = hyper(cfg, labelled), key, log, cfg.max_iter
        self.step_fn, self.refresh_fn = compiled(ph, cfg.update_interval, train.UNBATCHED, labelled)
        self.x = parallel.place(x, ph.mesh, rows=True)
        extra = () if known is None else label_data(known, cfg.k)
        self.extra = tuple(parallel.place(a, ph.mesh, rows=True) for a in extra)
        self.rid, self.owner, self.saved_at = at["rid"], at["owner"], at["saved_at"]
        self.inputs = at["inputs"]
        self.q, self.queued = None, None

    def refresh(self, state) -> tuple:
        out = self.queued or self.refresh_fn(state.params, self.x, self.hp["alpha"])
        self.q, p, labels = out
        self.queued = None
        return p, parallel.to_host(labels)[None]

    def step(self, state, p, runs: Runs, steps: int) -> tuple:
        key = jax.random.fold_in(self.key, runs.it)
        state, parts = self.step_fn(state, (self.x, p, *self.extra), key, steps, self.hp)
        # the next refresh is queued before the sync, so the device has it in hand
        self.queued = self.refresh_fn(state.params, self.x, self.hp["alpha"])
        parts = jax.device_get(parts)  # one sync per dispatch
        means = {k: np.asarray([v]) for k, v in parts.items()}  # "finite": loss and weights
        return state, means

    def logged(self, runs: Runs, t0: float, it0: int) -> None:
        if self.log:
            el, it = time.time() - t0, runs.it
            eta = None if it == it0 else el / (it - it0) * max(self.max_iter - it, 0)
            self.log(
                {"event": "cluster_refresh", **runs.history[0][-1], "max_iter": self.max_iter}
                | {"elapsed_s": el, "eta_s": eta}
            )

    def save(self, store, state, runs: Runs, finished: bool = False) -> None:
        """The "cluster" checkpoint; ``finished``: after the last refresh, whose record the
        resumed run writes again."""
        assert runs.prev is not None, "saved after a chunk: there is a previous refresh"
        history = runs.history[0][:-1] if finished else runs.history[0]
        meta = {"iteration": runs.it, "history": history, "parts": runs.parts[0], "run": self.rid}
        meta["inputs"] = self.inputs  # (a store is there, so the digest is too)
        if self.owner is not None:
            meta["owner"] = self.owner
        store.put("cluster", {"state": state, "prev": runs.prev[0]}, meta)
        self.saved_at = runs.it


def _resume(store, state, ident: tuple, n: int, mesh, log: Log) -> tuple:
    """(state, :class:`Runs` of one run) to start the phase from: the store's "cluster"
    checkpoint when it holds one of this run (``ident`` = (run id, the store's pretraining
    key, which names the data and seed, and the digest of the data and key)), else the
    start."""
    runs = Runs.start([True])
    if store is None or (hit := store.get("cluster")) is None:
        return state, runs
    meta, raw = hit
    # (older checkpoints carry none of them; a store without a key, no owner)
    if any(meta.get(k, v) != v for k, v in zip(("run", "owner", "inputs"), ident)):
        where = store.path("cluster") if hasattr(store, "path") else "in this store"
        raise ValueError(
            f"the clustering checkpoint {where} belongs to another run (other "
            "settings, data, seed, start or library version); give each run its own store or "
            "delete it"
        )
    template = {"state": state, "prev": np.zeros(n, np.int32)}
    saved = checkpoint.restore_or_drop(store, "cluster", template, raw)
    if saved is None:
        return state, runs
    if log:
        log({"event": "cluster_resumed", "iteration": meta["iteration"]})
    runs.prev, runs.it = np.asarray(saved["prev"])[None], meta["iteration"]
    runs.history, runs.parts = [meta["history"]], [meta["parts"]]
    return parallel.place(saved["state"], mesh), runs

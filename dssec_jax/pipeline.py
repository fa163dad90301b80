"""Host-side drivers of one run: pretraining (end-to-end or greedy layer-wise), K-means
initialisation and the clustering phase. The heavy work happens in the compiled pieces of
``train``; these loops only dispatch them, log progress and checkpoint through a store
(``checkpoint.FileStore`` or anything with ``get``/``put``/``drop``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from . import checkpoint, choose_k, metrics, parallel, sae, train
from .methods import Config
from .validation import check_config, check_data, check_labels

Log = Optional[Callable[[str], None]]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


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


def _eta(elapsed: float, done: float, total: float) -> str:
    if done <= 0:
        return "?"
    return f"{elapsed / done * max(total - done, 0):.0f}s"


def _check_finite(value: float, phase: str, where: str) -> None:
    if not np.isfinite(value):
        raise NonFiniteLossError(
            f"non-finite loss ({value}) in {phase} at {where}; the last good checkpoint is kept. "
            "Lower the learning rate or beta, or check the input scaling"
        )


# ---------------------------------------------------------------- pretraining


class Stage(NamedTuple):
    """One pretraining stage: greedy training of hidden layer ``layer`` alone (name
    "layer<i>"), or fine-tuning of the whole autoencoder (``layer`` None, "finetune")."""

    name: str
    layer: Optional[int]
    epochs: int


def pretrain_stages(cfg: Config) -> list[Stage]:
    """Greedy stages layer 0..L then fine-tuning (``pretrain="stacked"``), or fine-tuning only."""
    stages = []
    if cfg.pretrain == "stacked":
        lw = cfg.layerwise_epochs or cfg.pretrain_epochs
        stages += [Stage(f"layer{i}", i, lw) for i in range(len(cfg.hidden_dims) + 1)]
    return stages + [Stage("finetune", None, cfg.pretrain_epochs)]


def stage_params(ae: dict, stage: Stage) -> dict:
    """The parameters a stage trains: all, or layer i of the encoder and its mirror."""
    if stage.layer is None:
        return ae
    i = stage.layer
    return {"encoder": [ae["encoder"][i]], "decoder": [ae["decoder"][-1 - i]]}


def merge_stage(ae: dict, stage: Stage, params: dict) -> dict:
    """``ae`` with the parameters trained by ``stage`` put back."""
    if stage.layer is None:
        return params
    i = stage.layer
    enc, dec = list(ae["encoder"]), list(ae["decoder"])
    enc[i], dec[-1 - i] = params["encoder"][0], params["decoder"][0]
    return {"encoder": enc, "decoder": dec}


def mesh_of(cfg: Config):
    """The data-parallel mesh when ``cfg.data_parallel``, else None."""
    return parallel.data_mesh() if cfg.data_parallel else None


def place(tree, cfg: Config, rows: bool = False):
    """Put arrays on the device(s): sharded by rows (data) or replicated (state) under a mesh."""
    mesh = mesh_of(cfg)
    if mesh is None:
        return jax.tree.map(jnp.asarray, tree)
    return parallel.put_rows(tree, mesh) if rows else parallel.replicate(tree, mesh)


def stage_fn(cfg: Config, stage: Stage, n: int, batched: bool = False):
    """Compiled steps of one epoch of a pretraining stage on ``n`` samples (batched: vmapped
    over runs; the data of the first layer and of fine-tuning is shared, deeper layers'
    codes are per run)."""
    acts = cfg.hidden_acts()
    cd = cfg.compute_dtype()
    opt = cfg.pretrain_opt()
    schedule = (train.steps_per_epoch(n, cfg.batch_size), cfg.batch_size)
    shared = stage.layer in (None, 0)
    axes = (None if shared else 0) if batched else train.UNBATCHED
    if stage.layer is None:
        return train.autoencoder_steps(
            acts,
            cfg.penalised_layers(),
            cfg.sparsity_reduction,
            cfg.rate_form(),
            cd,
            opt,
            schedule,
            axes,
            mesh_of(cfg),
        )
    i = stage.layer
    layer_acts = acts + ("linear",)
    out_act = "linear" if i == 0 else layer_acts[i - 1]
    return train.layer_steps(
        layer_acts[i],
        out_act,
        i in cfg.penalised_layers(),
        cfg.sparsity_reduction,
        cfg.rate_form(),
        cd,
        opt,
        schedule,
        axes,
        mesh_of(cfg),
    )


def stage_input(
    x: jax.Array, ae: dict, cfg: Config, stage: Stage, batched: bool = False
) -> jax.Array:
    """Training data of a stage: x, or the codes of the layers below layer i."""
    if stage.layer in (None, 0):
        return x
    i = stage.layer
    acts = cfg.hidden_acts()[:i]
    return train.stack_fn(acts, cfg.compute_dtype(), batched=batched)(ae["encoder"][:i], x)


def pretrain(
    x: np.ndarray, cfg: Config, key: jax.Array, *, store=None, log: Log = None
) -> tuple[dict, list]:
    """Pretrain the autoencoder of ``cfg`` on ``x``; returns (params, per-epoch history).

    A finished autoencoder found in ``store`` is returned at once; a partial one resumes.
    """
    cfg = check_config(cfg, x.shape[0])  # a batch never exceeds the data
    if store is not None and (hit := store.get("pretrained")) is not None:
        meta, raw = hit
        if log:
            log(f"pretrain: reusing cached autoencoder {store.pretrain_key}")
        return (
            checkpoint.restore(sae.init_params(key, cfg.dims(x.shape[1])), raw),
            meta.get("history", []),
        )
    xd = place(x, cfg, rows=True)
    n = x.shape[0]
    ae = place(sae.init_params(jax.random.fold_in(key, 0), cfg.dims(x.shape[1]), cfg.init), cfg)
    optimizer = train.make_optimizer(*cfg.pretrain_opt())
    hp = pretrain_hyper(cfg)
    steps = train.steps_per_epoch(n, cfg.batch_size)
    stages = pretrain_stages(cfg)
    start_stage, start_epoch, opt_state, history = 0, 0, None, []
    if store is not None and (hit := store.get("pretrain_progress")) is not None:
        meta, raw = hit
        start_stage, start_epoch, history = meta["stage"], meta["epoch"], meta["history"]
        stage_name = stages[start_stage].name
        template = {"ae": ae, "opt_state": optimizer.init(stage_params(ae, stages[start_stage]))}
        restored = place(checkpoint.restore(template, raw), cfg)
        ae, opt_state = restored["ae"], restored["opt_state"]
        if log:
            log(f"pretrain: resuming at stage {stage_name}, epoch {start_epoch}")
    last_save = time.time()
    t0 = time.time()
    total_epochs = sum(st.epochs for st in stages)
    done_before = sum(st.epochs for st in stages[:start_stage]) + start_epoch
    for si in range(start_stage, len(stages)):
        stage = stages[si]
        epochs = stage.epochs
        fn = stage_fn(cfg, stage, n)
        params = stage_params(ae, stage)
        if opt_state is None:
            opt_state = optimizer.init(params)
        xin = stage_input(xd, ae, cfg, stage)
        skey = jax.random.fold_in(key, si + 1)
        first = start_epoch if si == start_stage else 0
        for epoch in range(first, epochs):
            params, opt_state, parts = fn(
                params, opt_state, xin, jax.random.fold_in(skey, epoch), steps, hp
            )
            parts = {k: float(v) for k, v in jax.device_get(parts).items()}
            _check_finite(parts["loss"], "pretraining", f"stage {stage.name} epoch {epoch + 1}")
            history.append({"stage": stage.name, "epoch": epoch + 1, **parts})
            done = sum(st.epochs for st in stages[:si]) + epoch + 1
            if log:
                el = time.time() - t0
                log(
                    f"pretrain {stage.name} epoch {epoch + 1}/{epochs} loss {parts['loss']:.5f} "
                    f"(rec {parts['reconstruction']:.5f}, sparsity {parts['sparsity']:.4f}) "
                    f"elapsed {el:.0f}s eta {_eta(el, done - done_before, total_epochs - done_before)}"
                )
            stage_end = epoch + 1 == epochs
            if store is not None and (stage_end or time.time() - last_save >= store.min_interval_s):
                ae = merge_stage(ae, stage, params)
                nxt = (si + 1, 0) if stage_end else (si, epoch + 1)
                if stage_end and si + 1 < len(stages):
                    nxt_opt = optimizer.init(stage_params(ae, stages[si + 1]))
                else:
                    nxt_opt = opt_state
                if not (stage_end and si + 1 == len(stages)):
                    store.put(
                        "pretrain_progress",
                        {"ae": ae, "opt_state": nxt_opt},
                        {"stage": nxt[0], "epoch": nxt[1], "history": history},
                    )
                last_save = time.time()
        ae = merge_stage(ae, stage, params)
        opt_state = None
    if store is not None:
        store.put("pretrained", ae, {"history": history, "settings": cfg.pretrain_settings()})
        store.drop("pretrain_progress")
    return ae, history


# ---------------------------------------------------------------- K-means


def kmeans(z: np.ndarray, n_clusters: int, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn K-means with ``n_init`` restarts; returns (centers (K, e), labels (n,))."""
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    labels = km.fit_predict(np.asarray(z, np.float64))
    return km.cluster_centers_.astype(np.float32), labels.astype(np.int32)


# ---------------------------------------------------------------- clustering phase


def embed_scale(
    z: np.ndarray, embed_std, centers: np.ndarray, labels: np.ndarray, alpha: float
) -> float:
    """Factor s applied to the embedding before the clustering phase.

    A number: s = embed_std / std(z) (std over all entries of z). "kernel": the scale of
    the Student's t kernel itself, s = sqrt(alpha / median_i ||z_i - mu_{l_i}||^2), so the
    median point lies at squared distance alpha from its K-means centre (kernel value
    2^(-(alpha+1)/2) there), whatever the autoencoder's scale.
    """
    if embed_std == "kernel":
        d2 = np.sum(np.square(np.asarray(z, np.float64) - centers[labels]), axis=1)
        return float(np.sqrt(alpha / max(np.median(d2), 1e-12)))
    return float(embed_std / np.std(z))


def cluster_record(it, labels, delta, parts, y, n_clusters, seconds) -> dict:
    """History entry of one target refresh: label change, cluster sizes, loss parts, metrics."""
    sizes = np.bincount(labels, minlength=n_clusters)
    rec = {
        "iteration": int(it),
        "delta_label": float(delta),
        "seconds": round(seconds, 3),
        "n_empty_clusters": int(np.sum(sizes == 0)),
        "min_cluster_size": int(sizes.min()),
        "max_cluster_size": int(sizes.max()),
        **parts,
    }
    if y is not None:
        rec.update(metrics.evaluate(y, labels))
    return rec


def pretrain_hyper(cfg: Config) -> dict:
    """Traced hyper-parameters of pretraining (the sparsity penalty's beta and rho)."""
    return train.hyper(beta=cfg.beta, rho=cfg.rho)


def cluster_hyper(cfg: Config) -> dict:
    """Traced hyper-parameters of the clustering phase."""
    return train.hyper(
        gamma=cfg.cluster_gamma(), beta=cfg.cluster_beta(), rho=cfg.rho, alpha=cfg.alpha
    )


def clustering_fns(cfg: Config, data_axes, mesh=None) -> tuple:
    """(compiled clustering steps, target refresh, optimizer) of ``cfg``; ``data_axes`` as
    ``train.clustering_steps`` takes it (UNBATCHED for one run, vmapped otherwise)."""
    acts, cd = cfg.hidden_acts(), cfg.compute_dtype()
    opt = (cfg.cluster_optimizer, cfg.cluster_learning_rate, cfg.momentum)
    step_fn = train.clustering_steps(
        acts,
        cfg.penalised_layers(),
        cfg.sparsity_reduction,
        cfg.rate_form(),
        cfg.spec.use_decoder,
        cd,
        opt,
        (cfg.update_interval, cfg.batch_size),
        data_axes,
        mesh,
    )
    refresh = train.refresh_fn(acts, cd, batched=data_axes != train.UNBATCHED)
    return step_fn, refresh, train.make_optimizer(*opt)


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


def trained_params(ae: dict, centers, cfg: Config) -> dict:
    """What the clustering phase trains: the autoencoder (the encoder alone for DEC) and
    the centres."""
    trained = ae if cfg.spec.use_decoder else {"encoder": ae["encoder"]}
    return {"ae": trained, "centers": centers}


def with_decoder(params: dict, ae: dict, cfg: Config) -> dict:
    """``params`` with ``ae``'s untouched decoder put back (DEC)."""
    if cfg.spec.use_decoder:
        return params
    return {**params, "ae": {**params["ae"], "decoder": ae["decoder"]}}


def cluster_run_id(cfg: Config, shape: tuple) -> str:
    """What a clustering checkpoint belongs to: the settings (k included) and the data's
    shape. Not the start's centres, which may differ by rounding on other hardware."""
    blob = json.dumps([cfg.to_dict(), list(shape)], sort_keys=True, default=lambda o: o.item())
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cluster(
    x: np.ndarray,
    ae_params: dict,
    centers: np.ndarray,
    cfg: Config,
    key: jax.Array,
    y: Optional[np.ndarray] = None,
    *,
    store=None,
    log: Log = None,
) -> dict:
    """Clustering phase (DEC / IDEC / DSSEC). Every ``update_interval`` iterations Q, P and the
    labels are recomputed on the whole dataset; stop when the fraction of changed labels is
    below ``tol`` or after ``max_iter`` iterations. The caller's ``ae_params`` and ``centers``
    are copied, never donated. Checkpoints go to ``store`` ("cluster") at most every
    ``store.min_interval_s`` seconds and at the end, and a run resumes from them.
    DEC trains the encoder and centres only; its decoder is returned unchanged.

    Returns dict(params, labels, q, history, n_iter, stop_reason).
    """
    cfg = check_config(cfg, x.shape[0])  # a batch never exceeds the data
    hp = cluster_hyper(cfg)
    step_fn, refresh, optimizer = clustering_fns(cfg, train.UNBATCHED, mesh_of(cfg))
    xd = place(x, cfg, rows=True)
    n = x.shape[0]
    params = place(jax.tree.map(np.array, trained_params(ae_params, centers, cfg)), cfg)
    opt_state = optimizer.init(params)
    it, prev, history, parts = 0, None, [], {}
    run_id = None if store is None else cluster_run_id(cfg, x.shape)
    if store is not None and (hit := store.get("cluster")) is not None:
        meta, raw = hit
        if meta.get("run", run_id) != run_id:  # (older checkpoints carry no run id)
            raise ValueError(
                "the clustering checkpoint in this store belongs to another run (other "
                "settings, data or start); give each run its own store or delete it"
            )
        st = checkpoint.restore(
            {"params": params, "opt_state": opt_state, "prev": np.zeros(n, np.int32)}, raw
        )
        params, opt_state = place((st["params"], st["opt_state"]), cfg)
        prev = np.asarray(st["prev"])
        it, history, parts = meta["iteration"], meta["history"], meta["parts"]
        if log:
            log(f"cluster: resuming at iteration {it}")
    t0 = last_save = time.time()
    it0 = saved = it
    q, p, labels = refresh(params, xd, hp["alpha"])
    labels = parallel.to_host(labels)
    while True:
        delta = label_change(labels, prev)
        rec = cluster_record(it, labels, delta, parts, y, cfg.n_clusters, time.time() - t0)
        history.append(rec)
        if log:
            el = time.time() - t0
            msg = " ".join(
                f"{k} {rec[k]:.4f}"
                for k in ("loss", "reconstruction", "sparsity", "clustering", "acc", "nmi", "ari")
                if k in rec
            )
            log(
                f"cluster iter {it}/{cfg.max_iter} delta_label {delta:.4f} {msg} empty "
                f"{rec['n_empty_clusters']} elapsed {el:.0f}s eta<= {_eta(el, it - it0, cfg.max_iter - it0)}"
            )
        if (stop := stop_reason(it, delta, prev is not None, cfg)) is not None:
            break
        steps = min(cfg.update_interval, cfg.max_iter - it)
        params, opt_state, parts = step_fn(
            params, opt_state, (xd, p), jax.random.fold_in(key, it), steps, hp
        )
        q, p, new_labels = refresh(params, xd, hp["alpha"])
        parts = {k: float(v) for k, v in jax.device_get(parts).items()}  # one sync per dispatch
        _check_finite(parts["loss"], "clustering", f"iterations {it}-{it + steps}")
        it += steps
        prev, labels = labels, parallel.to_host(new_labels)
        if store is not None and time.time() - last_save >= store.min_interval_s:
            store.put(
                "cluster",
                {"params": params, "opt_state": opt_state, "prev": prev},
                {"iteration": it, "history": history, "parts": parts, "run": run_id},
            )
            last_save, saved = time.time(), it
    if store is not None and it > saved:
        store.put(
            "cluster",
            {"params": params, "opt_state": opt_state, "prev": prev},
            {"iteration": it, "history": history[:-1], "parts": parts, "run": run_id},
        )
    return {
        "params": with_decoder(params, ae_params, cfg),
        "labels": labels,
        "q": parallel.to_host(q),
        "history": history,
        "n_iter": it,
        "stop_reason": stop,
    }


# ---------------------------------------------------------------- one run


def resolve_k(
    features: np.ndarray, cfg: Config, seed: int, log: Log = None
) -> tuple[Config, Optional[dict]]:
    """``cfg`` with ``n_clusters`` chosen from ``features`` when it is "auto"
    (:func:`dssec_jax.choose_k.choose_k`), and the criterion per k tried (else None)."""
    if cfg.n_clusters != "auto":
        return cfg, None
    k, scores = choose_k.choose_k(features, cfg.k_range, seed, cfg.k_criterion)
    if log:
        shown = ", ".join(
            f"{j}: {v:.4g}" if v is not None else f"{j}: -" for j, v in scores.items()
        )
        log(f"n_clusters=auto: {cfg.k_criterion} chooses k={k} (tried {shown})")
    return dataclasses.replace(cfg, n_clusters=k), scores


def fit(x, cfg: Config, seed: int = 0, y=None, *, store=None, log: Log = None) -> FitResult:
    """Run method ``cfg.method`` on ``x`` (n, d) with ``seed``; ``y`` only feeds the history.
    With ``n_clusters="auto"`` the number of clusters is chosen on the features (raw, PCA
    or the pretrained embedding) before K-means."""
    x = check_data(x, cfg.n_clusters)
    cfg = check_config(cfg, x.shape[0])
    parallel.check_batch(cfg.batch_size, mesh_of(cfg))
    y = None if y is None else check_labels(y, x.shape[0])
    spec = cfg.spec
    key = jax.random.PRNGKey(seed)
    seconds = {}
    t = time.time()
    if spec.features == "raw":
        cfg, k_scores = resolve_k(x, cfg, seed, log)
        centers, labels = kmeans(x, cfg.n_clusters, cfg.n_init, seed)
        seconds["kmeans"] = time.time() - t
        return FitResult(
            labels,
            x.copy(),  # never the caller's own array
            centers,
            kmeans_labels=labels,
            stop_reason="kmeans",
            seconds=seconds,
            n_clusters=cfg.n_clusters,
            k_scores=k_scores,
        )
    if spec.features == "pca":
        pca = PCA(n_components=cfg.embed_dim, random_state=seed).fit(x)
        z = pca.transform(x).astype(np.float32)
        cfg, k_scores = resolve_k(z, cfg, seed, log)
        centers, labels = kmeans(z, cfg.n_clusters, cfg.n_init, seed)
        seconds["kmeans"] = time.time() - t
        return FitResult(
            labels,
            z,
            centers,
            kmeans_labels=labels,
            stop_reason="kmeans",
            seconds=seconds,
            pca=pca,
            n_clusters=cfg.n_clusters,
            k_scores=k_scores,
        )
    ae, pre_hist = pretrain(x, cfg, jax.random.fold_in(key, 1), store=store, log=log)
    seconds["pretrain"] = time.time() - t
    t = time.time()
    acts = cfg.hidden_acts()
    z = parallel.to_host(train.embed(ae, place(x, cfg, rows=True), acts, cfg.compute_dtype()))
    cfg, k_scores = resolve_k(z, cfg, seed, log)
    k_info = {"n_clusters": cfg.n_clusters, "k_scores": k_scores}
    centers, km_labels = kmeans(z, cfg.n_clusters, cfg.n_init, seed)
    seconds["kmeans"] = time.time() - t
    if log and y is not None:
        log(f"K-means on the embedding: {json.dumps(metrics.evaluate(y, km_labels))}")
    if spec.clustering is None:
        return FitResult(
            km_labels,
            z,
            centers,
            ae,
            km_labels,
            pretrain_history=pre_hist,
            stop_reason="kmeans",
            seconds=seconds,
            **k_info,
        )
    if cfg.embed_std:
        scale = embed_scale(z, cfg.embed_std, centers, km_labels, cfg.alpha)
        ae, centers = sae.rescale_embedding(ae, scale), centers * scale
    t = time.time()
    out = cluster(x, ae, centers, cfg, jax.random.fold_in(key, 2), y, store=store, log=log)
    seconds["cluster"] = time.time() - t
    if k_scores is not None:  # the choice of k, on the record of the clustering phase's start
        out["history"][0].update(
            n_clusters=cfg.n_clusters, k_scores={str(k): v for k, v in k_scores.items()}
        )
    params = out["params"]
    z = parallel.to_host(
        train.embed(params["ae"], place(x, cfg, rows=True), acts, cfg.compute_dtype())
    )
    return FitResult(
        out["labels"],
        z,
        np.asarray(params["centers"]),
        params["ae"],
        km_labels,
        out["history"],
        pre_hist,
        out["n_iter"],
        out["stop_reason"],
        seconds,
        **k_info,
    )

"""Many runs in one compiled program: ``vmap`` over seeds and scalar hyper-parameters.

All runs share the static settings (method, architecture, activations, penalised layers,
budgets, batch size, optimizers, update interval); they may differ in seed, ``gamma``,
``beta``, ``rho`` and ``alpha``, which are traced, and in ``tol``. Pretraining, the target refreshes and
the clustering steps run vmapped over the run axis; each run stops on its own (a converged
run is frozen while the others go on). Results equal sequential ``pipeline.fit`` runs of
the same seeds up to float rounding. With ``shard_runs`` the run axis is split over all
local devices (parameters, optimizer state and hyper-parameters sharded by run, the
dataset replicated), so S runs on D devices train S / D per device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoint, clustering, metrics, parallel, pretraining, sae, train
from .methods import Config
from .pipeline import FitResult
from .validation import NonFiniteLossError, check_config, check_data, check_true_labels

__all__ = ["fit_batched", "run_mesh", "pretrain_batched"]

TRACED = ("gamma", "beta", "rho", "alpha")
PER_RUN = TRACED + ("tol",)  # tol is only read on the host


def _static(cfg: Config) -> Config:
    zeros: dict[str, Any] = {k: 0.0 for k in PER_RUN}
    return dataclasses.replace(cfg, **zeros)


def _effective(cfg: Config) -> tuple:
    """The per-run settings that change ``cfg``'s result."""
    return tuple(getattr(cfg, k) for k in PER_RUN if k not in cfg.unused_settings())


class _BatchStore:
    """A checkpoint store that owns its checkpoints by the batch's identity (its runs'
    settings and seeds, the data's digest and the store's key): one written for another
    batch is dropped, with a warning, and its phase starts afresh instead of resuming
    someone else's runs."""

    def __init__(self, store, ident: str):
        self.store, self.ident = store, ident
        self.min_interval_s = store.min_interval_s

    def get(self, name):
        hit = self.store.get(name)
        if hit is not None and hit[0].get("batch") != self.ident:
            warnings.warn(f"the checkpoint {name} belongs to another batch; dropped")
            self.store.drop(name)
            return None
        return hit

    def put(self, name, state, meta):
        self.store.put(name, state, {**meta, "batch": self.ident})

    def drop(self, name):
        self.store.drop(name)


def _stack(trees):
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def _unstack(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def _by_run(tree, mesh):
    """Split the leading (run) axis of every leaf over ``mesh`` (no-op without one)."""
    return tree if mesh is None else parallel.put_rows(tree, mesh)


def run_mesh(n_runs: int, shard_runs: bool):
    """The mesh that splits ``n_runs`` runs over the local devices, or None."""
    if not shard_runs:
        return None
    mesh = parallel.data_mesh()
    if n_runs % mesh.size:
        raise ValueError(
            f"{n_runs} runs do not divide over {mesh.size} devices; use a "
            f"multiple of {mesh.size} runs or shard_runs=False"
        )
    return mesh


def pretrain_batched(
    x: jax.Array, cfgs: Sequence[Config], keys: jax.Array, log=None, mesh=None, store=None
) -> tuple[dict, np.ndarray]:
    """Pretrain S autoencoders at once (keys (S, 2)); returns params with a leading run axis
    (split over ``mesh`` when given) and which runs stayed finite (S,): a run whose loss
    turns non-finite is frozen at its last finite epoch while the others go on (all of
    them failing is a NonFiniteLossError). With a ``store`` (``checkpoint.FileStore``) the
    batch resumes as a single run does: its progress ("batched_pretrain") is saved at each
    stage's end and at most every ``store.min_interval_s`` seconds, the finished
    autoencoders as "batched_pretrained". Emits a "batched_pretrain_epoch" record per
    epoch."""
    cfg = cfgs[0]
    dims = cfg.dims(x.shape[1])
    ae = _by_run(
        jax.vmap(lambda k: sae.init_params(jax.random.fold_in(k, 0), dims, init=cfg.init))(keys),
        mesh,
    )
    alive = np.ones(len(cfgs), bool)
    hit = None if store is None else store.get("batched_pretrained")
    template = {"ae": ae, "alive": alive}
    done = (
        None
        if hit is None
        else checkpoint.restore_or_drop(store, "batched_pretrained", template, hit[1])
    )
    if done is not None:
        return _by_run(done["ae"], mesh), np.array(done["alive"], bool)
    hp = _by_run(_stack([pretraining.hyper(c) for c in cfgs]), mesh)
    batch = _Pretraining(pretraining.phase(cfg), pretraining.stages(cfg), hp, store, log, mesh)
    batch.data, batch.keys = x, keys
    start, first, state, ae, batch.alive = batch.resume(ae, alive)
    ae = pretraining.run_stages(batch, start, first, ae, state)
    if store is not None:
        store.put("batched_pretrained", {"ae": ae, "alive": batch.alive}, {})
        store.drop("batched_pretrain")
    return ae, batch.alive


class _Pretraining:
    """The pieces of S runs' pretraining loop (``pretraining.run_stages``): settings,
    stages, hyper-parameters, data, keys, store, log, and which runs are alive."""

    def __init__(self, ph, plan, hp, store, log, mesh):
        self.ph, self.plan, self.hp, self.store, self.log, self.mesh = (
            ph,
            plan,
            hp,
            store,
            log,
            mesh,
        )
        self.data, self.keys, self.alive = None, None, np.ones(0, bool)

    def fresh(self, si: int, ae):
        """The optimizer states of stage ``si`` at its start."""
        params = pretraining.stage_params(ae, self.plan[si])
        return jax.vmap(lambda p: train.init_state(p, self.ph.optimizer.build()))(params)

    def resume(self, ae, alive) -> tuple:
        """(stage, epoch, state or None, ae, alive) from "batched_pretrain", else the start."""
        if self.store is None or (hit := self.store.get("batched_pretrain")) is None:
            return 0, 0, None, ae, alive
        meta, raw = hit
        template = {"ae": ae, "state": self.fresh(meta["stage"], ae), "alive": alive}
        saved = checkpoint.restore_or_drop(self.store, "batched_pretrain", template, raw)
        if saved is None:
            return 0, 0, None, ae, alive
        if self.log:
            stage = self.plan[meta["stage"]].name
            self.log({"event": "pretrain_resumed", "stage": stage, "epoch": meta["epoch"]})
        ae, state = _by_run(saved["ae"], self.mesh), _by_run(saved["state"], self.mesh)
        return meta["stage"], meta["epoch"], state, ae, np.array(saved["alive"], bool)

    def compiled(self, si: int, ae) -> tuple:
        stage, n = self.plan[si], self.data.shape[0]
        fn = pretraining.stage_steps(self.ph, stage, n, batched=True)
        return fn, pretraining.stage_input(self.data, ae, self.ph, stage, batched=True)

    def epoch(self, fn, state, data, si: int, epoch: int):
        """One epoch of every live run; a run turned non-finite is frozen (``alive``)."""
        stage = self.plan[si]
        keys = jax.vmap(lambda k: jax.random.fold_in(jax.random.fold_in(k, si + 1), epoch))
        steps = train.steps_per_epoch(self.data.shape[0], self.ph.batch_size)
        active = jnp.asarray(self.alive)
        state, parts = fn(state, data, keys(self.keys), steps, self.hp, active)
        where = f"stage {stage.name} epoch {epoch + 1}"
        _freeze_lost(self.alive, np.asarray(parts["finite"]), where, self.log)
        if self.log:
            self.log(
                {"event": "batched_pretrain_epoch", "stage": stage.name}
                | {"epoch": epoch + 1, "epochs": stage.epochs}
                | {"loss": np.asarray(parts["loss"]).tolist()}
            )
        return state

    def save(self, si: int, epoch: int, ae, state) -> None:
        """Progress after ``epoch`` of stage ``si``; at a stage's end the next one starts
        afresh, and nothing is kept after the last (the caller stores the result)."""
        end = epoch + 1 == self.plan[si].epochs
        if not (end and si + 1 == len(self.plan)):
            nxt, saved = ((si + 1, 0), self.fresh(si + 1, ae)) if end else ((si, epoch + 1), state)
            arrays = {"ae": ae, "state": saved, "alive": self.alive}
            self.store.put("batched_pretrain", arrays, {"stage": nxt[0], "epoch": nxt[1]})


def _freeze_lost(alive: np.ndarray, finite: np.ndarray, where: str, log) -> None:
    """Freeze (in ``alive``) the runs whose epoch turned non-finite; all of them is an error."""
    lost = alive & ~finite
    alive &= finite
    if not lost.any():
        return
    if not alive.any():
        raise NonFiniteLossError(f"non-finite loss in pretraining of every run at {where}")
    if log:
        log(
            {"event": "batched_nonfinite", "phase": "pretraining", "where": where}
            | {"runs": np.flatnonzero(lost).tolist()}
        )


def _check_batch(x, cfgs: Sequence[Config], seeds: Sequence[int]) -> tuple:
    """(x, cfgs) checked (``validation``); ValueError for a batch that cannot be one
    vmapped program: settings that differ beyond the per-run ones, identical runs, known
    labels, n_clusters="auto", data parallelism, or a method without a network."""
    if len(cfgs) != len(seeds) or not cfgs:
        raise ValueError("pass one seed per configuration (and at least one)")
    x = check_data(x, cfgs[0].n_clusters)
    cfgs = [check_config(c, x.shape[0]) for c in cfgs]
    if len({_static(c) for c in cfgs}) != 1:
        raise ValueError(
            "batched runs may differ only in "
            + ", ".join(PER_RUN)
            + " and the seed; split the grid by the other settings"
        )
    cfg = cfgs[0]
    if cfg.label_fraction or cfg.spec.semi_supervised:
        raise ValueError(
            "batched runs take no known labels; run a semi-supervised configuration on its "
            "own (dssec-run, or dssec_jax.fit with known=)"
        )
    effective = [(s, *_effective(c)) for s, c in zip(seeds, cfgs)]
    if len(set(effective)) < len(effective):
        raise ValueError(
            f"runs of this batch are identical: {cfg.method} does not use "
            f"{', '.join(k for k in PER_RUN if k in cfg.unused_settings())}"
            ", so runs that differ only there (and not in the seed) give one result; "
            "drop those duplicates from the grid"
        )
    if cfg.n_clusters == "auto":
        raise ValueError(
            "n_clusters='auto' is not supported in batched sweeps (each run may "
            "choose another k); run them sequentially"
        )
    if cfg.data_parallel:
        raise ValueError(
            "data_parallel is not supported in batched sweeps; shard the runs "
            "instead (shard_runs=True) or run them sequentially"
        )
    if cfg.spec.features != "autoencoder":
        raise ValueError(
            f"method {cfg.method!r} has no network to batch; run it with dssec_jax.fit"
        )
    return x, cfgs


def fit_batched(
    x,
    cfgs: Sequence[Config],
    seeds: Sequence[int],
    *,
    y=None,
    log=None,
    shard_runs: bool = False,
    store=None,
) -> list[FitResult]:
    """Run ``len(cfgs)`` configurations of an autoencoder method, one seed each, on the
    shared data ``x`` (n, d) as one vmapped program; they may differ only in gamma, beta,
    rho, alpha and tol. ``y``: true labels, only for the metrics in the histories;
    ``log``: a callback given one record (dict) per epoch and per refresh;
    ``shard_runs``: split the runs over the local devices (their number must divide by
    the device count); ``store`` (``checkpoint.FileStore``): an interrupted batch resumes
    where it was, as a single run does. Returns one :class:`~dssec_jax.pipeline.FitResult`
    per run, in order."""
    x, cfgs = _check_batch(x, cfgs, seeds)
    cfg = cfgs[0]
    y = None if y is None else check_true_labels(y, x.shape[0])
    n_runs = len(cfgs)
    mesh = run_mesh(n_runs, shard_runs)
    if store is not None:
        runs = [[clustering.run_id(c, x.shape), int(s)] for c, s in zip(cfgs, seeds)]
        ident = [runs, hashlib.sha256(x).hexdigest(), getattr(store, "pretrain_key", None)]
        store = _BatchStore(store, hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:16])
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    x_dev = jnp.asarray(x) if mesh is None else parallel.replicate(x, mesh)
    t0 = time.time()
    ae, alive = pretrain_batched(
        x_dev, cfgs, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), log, mesh, store
    )
    net = cfg.net()
    embed = train.stack_fn(net.acts + ("linear",), net.compute_dtype, batched=True)
    z = np.asarray(embed(ae["encoder"], x_dev))
    starts, base = _kmeans_starts(z, ae, cfgs, seeds, alive, time.time() - t0)
    if cfg.spec.clustering is None:
        return base
    centers = np.stack([c for c, *_ in starts])
    if cfg.embed_std:
        scale = np.array([s for _, _, s, _ in starts], np.float32)
        ae = jax.vmap(sae.rescale_embedding)(ae, jnp.asarray(scale))
        centers = centers * scale[:, None, None]
    centers = _by_run(centers, mesh)
    out = _cluster_batched(x_dev, ae, centers, cfgs, keys, y, log, mesh, alive, store)
    z = np.asarray(embed(out["params"]["ae"]["encoder"], x_dev))
    for i, r in enumerate(base):
        r.labels, r.embedding = out["labels"][i], z[i]
        r.centers = np.asarray(out["params"]["centers"][i])
        r.ae_params = _unstack(out["params"]["ae"], i)
        r.history, r.n_iter, r.stop_reason = out["history"][i], out["n_iter"][i], out["stop"][i]
        r.history[0].update(embed_scale=starts[i][2], embed_scale_rule=starts[i][3])
        r.seconds["cluster"] = out["seconds"]
    return base


def _kmeans_starts(z, ae, cfgs, seeds, alive, pretrain_s: float) -> tuple:
    """Each run's K-means start on its embedding z[i] (``clustering.start``; a run frozen
    in pretraining is not rescaled, its embedding may be degenerate), and its result."""
    starts = [
        clustering.start(z[i], c if alive[i] else dataclasses.replace(c, embed_std=None), seed)
        for i, (c, seed) in enumerate(zip(cfgs, seeds))
    ]
    base = [
        FitResult(
            labels=labels,
            embedding=z[i],
            centers=centers,
            ae_params=_unstack(ae, i),
            kmeans_labels=labels,
            stop_reason="kmeans" if alive[i] else "nonfinite",
            seconds={"pretrain": pretrain_s},
            n_clusters=cfgs[0].k,
        )
        for i, (centers, labels, *_) in enumerate(starts)
    ]
    return starts, base


def _resume_batched(store, state, runs: clustering.Runs, n: int, mesh, log) -> tuple:
    """(state, runs) from the store's "batched_cluster" checkpoint, else as given."""
    if store is None or (hit := store.get("batched_cluster")) is None:
        return state, runs
    meta, raw = hit
    shape = np.zeros((len(runs.stop), n), np.int32)
    template = {"state": state, "prev": shape, "final": shape}
    saved = checkpoint.restore_or_drop(store, "batched_cluster", template, raw)
    if saved is None:
        return state, runs
    runs = clustering.Runs(
        active=np.array(meta["active"], bool),
        final_labels=[
            np.asarray(saved["final"][i]) if done else None for i, done in enumerate(meta["final"])
        ],
        n_iter=meta["n_iter"],
        stop=meta["stop"],
        history=meta["history"],
        parts=meta["parts"],
        prev=np.asarray(saved["prev"]),  # saved after a chunk: there is always one
        it=meta["it"],
    )
    if log:
        log({"event": "cluster_resumed", "iteration": runs.it})
    return _by_run(saved["state"], mesh), runs


class _Batch:
    """The compiled programs and data of S runs' loop (``clustering.run_loop``)."""

    def __init__(self, ph, cfgs, x_dev, keys, log, mesh):
        cfg = cfgs[0]
        self.hp = _by_run(_stack([clustering.hyper(c) for c in cfgs]), mesh)
        self.step_fn, self.refresh_fn = clustering.compiled(ph, cfg.update_interval, (None, 0))
        self.x, self.log, self.n_runs = x_dev, log, len(cfgs)
        self.max_iter = max(c.max_iter for c in cfgs)
        self.keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
        self.queued = None

    def refresh(self, state) -> tuple:
        _, p, labels = self.queued or self.refresh_fn(state.params, self.x, self.hp["alpha"])
        self.queued = None
        return p, np.asarray(labels)

    def step(self, state, p, runs: clustering.Runs, steps: int) -> tuple:
        keys = jax.vmap(lambda k: jax.random.fold_in(k, runs.it))(self.keys)
        active = jnp.asarray(runs.active)
        state, means = self.step_fn(state, (self.x, p), keys, steps, self.hp, active)
        self.queued = self.refresh_fn(state.params, self.x, self.hp["alpha"])  # before the sync
        return state, jax.device_get(means)

    def logged(self, runs: clustering.Runs, t0: float, it0: int) -> None:
        if self.log:
            self.log(
                {"event": "batched_refresh", "iteration": runs.it, "max_iter": self.max_iter}
                | {"active": int(runs.active.sum()), "runs": self.n_runs}
            )

    def save(self, store, state, runs: clustering.Runs) -> None:
        assert runs.prev is not None, "saved after a chunk: there is a previous refresh"
        blank = np.zeros_like(runs.prev[0])
        final = np.stack([blank if f is None else f for f in runs.final_labels])
        arrays = {"state": state, "prev": runs.prev, "final": final}
        store.put("batched_cluster", arrays, runs.meta())


def _cluster_batched(x_dev, ae, centers, cfgs, keys, y, log, mesh, alive, store=None) -> dict:
    """The clustering phase of S runs at once (``clustering.run_loop``); a run that meets
    its stopping rule, or whose loss turns non-finite (stop reason "nonfinite", kept at
    its state and labels before that chunk), is frozen while the others go on. Runs not
    ``alive`` after pretraining start frozen. With a ``store`` the phase's state and
    bookkeeping are saved ("batched_cluster") at most every ``store.min_interval_s``
    seconds, and an interrupted phase resumes from them. Emits a "batched_refresh" record
    per refresh."""
    cfg, ph = cfgs[0], clustering.phase(cfgs[0])
    params = jax.tree.map(jnp.copy, clustering.trained_params(ae, centers, cfg))  # not donated
    state = jax.vmap(lambda p: train.init_state(p, ph.optimizer.build()))(params)
    batch = _Batch(ph, cfgs, x_dev, keys, log, mesh)
    runs = clustering.Runs.start(alive)
    t0 = time.time()
    state, runs = _resume_batched(store, state, runs, x_dev.shape[0], mesh, log)
    state = clustering.run_loop(state, runs, batch, cfgs, metrics.scorer(y), store)
    final_labels = runs.final_labels
    if (final_pass := clustering.final_refresh(ph, batched=True)) is not None:  # runs frozen
        last = np.asarray(final_pass(state.params, x_dev, batch.hp["alpha"])[2])
        for run in range(len(cfgs)):
            runs.history[run][-1]["final_pass_label_change"] = clustering.label_change(
                last[run], final_labels[run]
            )
        final_labels = list(last)
    return {
        "params": clustering.with_decoder(state.params, ae, cfg),
        "labels": final_labels,
        "history": runs.history,
        "n_iter": runs.n_iter,
        "stop": runs.stop,
        "seconds": time.time() - t0,
    }

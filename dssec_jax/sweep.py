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
import time
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import parallel, pipeline, sae, train
from .methods import Config
from .validation import check_config, check_data, check_labels

TRACED = ("gamma", "beta", "rho", "alpha")
PER_RUN = TRACED + ("tol",)  # tol is only read on the host


def _static(cfg: Config) -> Config:
    return dataclasses.replace(cfg, **{k: 0.0 for k in PER_RUN})


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
    x: jax.Array, cfgs: Sequence[Config], keys: jax.Array, log=None, mesh=None
) -> dict:
    """Pretrain S autoencoders at once (keys (S, 2)); returns params with a leading run axis
    (split over ``mesh`` when given)."""
    cfg = cfgs[0]
    n = x.shape[0]
    dims = cfg.dims(x.shape[1])
    ae = _by_run(
        jax.vmap(lambda k: sae.init_params(jax.random.fold_in(k, 0), dims, cfg.init))(keys), mesh
    )
    hp = _by_run(_stack([pipeline.pretrain_hyper(c) for c in cfgs]), mesh)
    steps = train.steps_per_epoch(n, cfg.batch_size)
    opt = train.make_optimizer(*cfg.pretrain_opt())
    for si, stage in enumerate(pipeline.pretrain_stages(cfg)):
        fn = pipeline.stage_fn(cfg, stage, n, batched=True)
        params = pipeline.stage_params(ae, stage)
        opt_state = jax.vmap(opt.init)(params)
        xin = pipeline.stage_input(x, ae, cfg, stage, batched=True)
        skeys = jax.vmap(lambda k: jax.random.fold_in(k, si + 1))(keys)
        for epoch in range(stage.epochs):
            ekeys = jax.vmap(lambda k: jax.random.fold_in(k, epoch))(skeys)
            params, opt_state, parts = fn(params, opt_state, xin, ekeys, steps, hp)
            loss = np.asarray(parts["loss"])
            if not np.all(np.isfinite(loss)):
                raise pipeline.NonFiniteLossError(
                    f"non-finite loss in pretraining at stage {stage.name} epoch {epoch + 1} "
                    f"(runs {np.flatnonzero(~np.isfinite(loss)).tolist()})"
                )
            if log:
                log(
                    f"batched pretrain {stage.name} epoch {epoch + 1}/{stage.epochs} loss "
                    + " ".join(f"{v:.5f}" for v in loss)
                )
        ae = pipeline.merge_stage(ae, stage, params)
    return ae


def fit_batched(
    x, cfgs: Sequence[Config], seeds: Sequence[int], y=None, log=None, shard_runs: bool = False
) -> list[pipeline.FitResult]:
    """Run ``len(cfgs)`` configurations (one seed each) as one vmapped program.

    Only autoencoder methods; the configurations may differ only in gamma, beta, rho,
    alpha, tol (and the seed). ``shard_runs`` splits the runs over the local devices
    (their number must divide by the device count). Returns one FitResult per run, in order.
    """
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
        raise ValueError(f"method {cfg.method!r} has no network to batch; run it with pipeline.fit")
    y = None if y is None else check_labels(y, x.shape[0])
    S = len(cfgs)
    mesh = run_mesh(S, shard_runs)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    xd = jnp.asarray(x) if mesh is None else parallel.replicate(x, mesh)
    t0 = time.time()
    ae = pretrain_batched(xd, cfgs, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), log, mesh)
    t_pre = time.time() - t0
    acts = cfg.hidden_acts()
    cd = cfg.compute_dtype()
    z = np.asarray(train.stack_fn(acts + ("linear",), cd, batched=True)(ae["encoder"], xd))
    km = [pipeline.kmeans(z[i], cfg.n_clusters, cfg.n_init, seeds[i]) for i in range(S)]
    base = [
        pipeline.FitResult(
            km[i][1],
            z[i],
            km[i][0],
            _unstack(ae, i),
            km[i][1],
            stop_reason="kmeans",
            seconds={"pretrain": t_pre},
            n_clusters=cfg.n_clusters,
        )
        for i in range(S)
    ]
    if cfg.spec.clustering is None:
        return base
    centers = np.stack([c for c, _ in km])
    if cfg.embed_std:
        scale = np.array(
            [
                pipeline.embed_scale(z[i], cfg.embed_std, km[i][0], km[i][1], cfgs[i].alpha)
                for i in range(S)
            ],
            np.float32,
        )
        ae, centers = (
            jax.vmap(sae.rescale_embedding)(ae, jnp.asarray(scale)),
            centers * scale[:, None, None],
        )
    centers = _by_run(centers, mesh)
    out = _cluster_batched(xd, ae, centers, cfgs, keys, y, log, mesh)
    z = np.asarray(
        train.stack_fn(acts + ("linear",), cd, batched=True)(out["params"]["ae"]["encoder"], xd)
    )
    for i, r in enumerate(base):
        r.labels, r.embedding = out["labels"][i], z[i]
        r.centers = np.asarray(out["params"]["centers"][i])
        r.ae_params = _unstack(out["params"]["ae"], i)
        r.history, r.n_iter, r.stop_reason = out["history"][i], out["n_iter"][i], out["stop"][i]
        r.seconds["cluster"] = out["seconds"]
    return base


def _cluster_batched(xd, ae, centers, cfgs, keys, y, log, mesh) -> dict:
    cfg = cfgs[0]
    S = len(cfgs)
    hp = _by_run(_stack([pipeline.cluster_hyper(c) for c in cfgs]), mesh)
    step_fn, refresh, optimizer = pipeline.clustering_fns(cfg, (None, 0))
    params = pipeline.trained_params(ae, centers, cfg)
    opt_state = jax.vmap(optimizer.init)(params)
    ckeys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
    active = np.ones(S, bool)
    final_labels: list[Optional[np.ndarray]] = [None] * S
    n_iter, stop = [0] * S, [""] * S
    history: list[list] = [[] for _ in range(S)]
    prev, parts, it, t0 = None, [{}] * S, 0, time.time()
    while True:
        _, p, labels = refresh(params, xd, hp["alpha"])
        labels = np.asarray(labels)
        for i in np.flatnonzero(active):
            delta = pipeline.label_change(labels[i], None if prev is None else prev[i])
            history[i].append(
                pipeline.cluster_record(
                    it, labels[i], delta, parts[i], y, cfg.n_clusters, time.time() - t0
                )
            )
            reason = pipeline.stop_reason(it, delta, prev is not None, cfgs[i])
            if reason is not None:
                active[i] = False
                final_labels[i], n_iter[i], stop[i] = labels[i], it, reason
        if log:
            log(f"batched cluster iter {it}: {int(active.sum())}/{S} runs active")
        if not active.any():
            break
        steps = min(cfg.update_interval, cfg.max_iter - it)
        ikeys = jax.vmap(lambda k: jax.random.fold_in(k, it))(ckeys)
        mask = jnp.asarray(active)
        new_params, new_state, means = step_fn(
            jax.tree.map(jnp.copy, params),
            jax.tree.map(jnp.copy, opt_state),
            (xd, p),
            ikeys,
            steps,
            hp,
        )
        keep = lambda new, old: jnp.where(mask.reshape((S,) + (1,) * (new.ndim - 1)), new, old)
        params = jax.tree.map(keep, new_params, params)
        opt_state = jax.tree.map(keep, new_state, opt_state)
        means = jax.device_get(means)
        if not np.all(np.isfinite(means["loss"][active])):
            raise pipeline.NonFiniteLossError(
                f"non-finite loss in clustering at iterations {it}-{it + steps}"
            )
        parts = [{k: float(v[i]) for k, v in means.items()} for i in range(S)]
        it += steps
        prev = labels
    return {
        "params": pipeline.with_decoder(params, ae, cfg),
        "labels": final_labels,
        "history": history,
        "n_iter": n_iter,
        "stop": stop,
        "seconds": time.time() - t0,
    }

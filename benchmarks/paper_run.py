"""Wall time of a paper-budget run, measured on a slice of the library's own ``fit`` path.

    python -m benchmarks.paper_run [--dataset=mnist] [--pretrain_epochs=4] [--max_iter=600]

Runs ``dssec_jax.cli.runner.run_config`` (the path of ``python -m experiments.run``: the
file store, its checkpoints and the pretrained-autoencoder cache) on the dataset at the
library defaults with ``tol=0``, for ``--pretrain_epochs`` epochs and ``--max_iter``
clustering iterations. Every phase is timed from the run's own progress records:

- pretraining: each epoch's wall time (the first one holds the compilation);
- K-means on the embedding (``FitResult.seconds``);
- the clustering phase: each dispatch of ``update_interval`` steps plus the target refresh
  that follows (the first holds the compilations), and separately one refresh alone;
- every checkpoint write (timed inside the store).

The paper-budget time (``--paper_epochs`` epochs, ``--paper_iter`` iterations) is then the
slice's wall time (compilation, K-means, set-up included) + the missing epochs x median
epoch + the missing intervals x median interval + one checkpoint write per
``--checkpoint_interval`` seconds of that extra time. It is a projection; the README puts
it beside the one full run that was timed end to end. Beside it, the machine's arithmetic
bound: the run's matmul FLOPs (``paper_flops``) at the same process's ``jnp.dot`` rate.
JSON goes to ``--out``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time

import jax
import numpy as np
from absl import flags

from benchmarks import machine
from dssec_jax import train
from dssec_jax.checkpoint import atomic_write_json
from dssec_jax.cli import common, runner
from dssec_jax.methods import Config

flags.DEFINE_string("dataset", "mnist", "dataset name or path")
flags.DEFINE_integer("paper_epochs", 200, "pretraining epochs of the paper's budget")
flags.DEFINE_integer("paper_iter", 20000, "clustering iterations of the paper's budget")
flags.DEFINE_string("out", "benchmarks/results/paper_run.json", "JSON output path")
FLAGS = flags.FLAGS


class TimedStore(runner.HookedStore):
    """The runner's store, with the seconds of every checkpoint write recorded."""

    writes: list = []

    def put(self, name, state, meta):
        t = time.perf_counter()
        super().put(name, state, meta)
        TimedStore.writes.append((name, time.perf_counter() - t))


def slice_config(n_clusters: int) -> Config:
    """Library defaults (and any setting flags) with tol 0 (no early stop) and the slice's
    budget: --pretrain_epochs (default 4) and --max_iter (default 600)."""
    cfg = common.build_config(n_clusters)
    cfg = dataclasses.replace(
        cfg, tol=0.0, pretrain_epochs=FLAGS.pretrain_epochs or 4, max_iter=FLAGS.max_iter or 600
    )
    if cfg.pretrain_epochs < 2 or cfg.max_iter < 2 * cfg.update_interval:
        raise ValueError(
            f"a slice needs at least 2 pretraining epochs and 2 update intervals "
            f"to time a steady epoch and interval; got --pretrain_epochs="
            f"{cfg.pretrain_epochs}, --max_iter={cfg.max_iter}"
        )
    return cfg


def run_slice(ds, cfg: Config, workdir: str) -> dict:
    """Run ``cfg`` once through the runner; returns the stamped progress records and seconds."""
    stamps = []

    def log(record):
        stamps.append((time.perf_counter(), record["event"]))

    TimedStore.writes = []
    original = runner.HookedStore
    runner.HookedStore = TimedStore
    try:
        t0 = time.perf_counter()
        res = runner.run_config(
            ds, cfg, [0], f"{workdir}/run", f"{workdir}/cache", log, FLAGS.checkpoint_interval
        )
        wall = time.perf_counter() - t0
    finally:
        runner.HookedStore = original
    return {"t0": t0, "stamps": stamps, "wall": wall, "result": res["per_seed"][0]}


def phase_seconds(run: dict) -> dict:
    """Per-epoch and per-interval durations from the progress records' time stamps."""
    t0, stamps = run["t0"], run["stamps"]
    epochs = [t for t, event in stamps if event == "pretrain_epoch"]
    refreshes = [t for t, event in stamps if event == "cluster_refresh"]
    epoch_s = np.diff([t0, *epochs])
    interval_s = np.diff(refreshes)
    return {
        "epoch_first": float(epoch_s[0]),
        "epoch_median": float(np.median(epoch_s[1:])),
        "interval_first": float(interval_s[0]),
        "interval_median": float(np.median(interval_s[1:])),
        "kmeans": run["result"]["seconds"]["kmeans"],
    }


def refresh_seconds(ds, cfg: Config, repeats: int = 3) -> float:
    """Median seconds of one full-dataset Q/P refresh (compiled, at a fresh start)."""
    from dssec_jax import sae

    dims = cfg.dims(ds.x.shape[1])
    params = {
        "ae": sae.init_params(jax.random.PRNGKey(0), dims),
        "centers": jax.random.normal(jax.random.PRNGKey(1), (cfg.n_clusters, cfg.embed_dim)),
    }
    refresh = train.refresh_fn(cfg.hidden_acts(), cfg.compute_dtype())
    x = jax.device_put(ds.x)
    jax.block_until_ready(refresh(params, x, 1.0))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(refresh(params, x, 1.0))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def intervals(iterations: int, cfg: Config) -> int:
    """Dispatches (each ending in a target refresh) of a clustering phase of ``iterations``:
    ceil(iterations / update_interval)."""
    return -(-iterations // cfg.update_interval)


def project(
    ph: dict, cfg: Config, wall: float, ckpt_s: float, paper_epochs: int, paper_iter: int
) -> dict:
    """Paper-budget seconds from the measured slice (see the module docstring)."""
    more_pre = (paper_epochs - cfg.pretrain_epochs) * ph["epoch_median"]
    more_clus = (intervals(paper_iter, cfg) - intervals(cfg.max_iter, cfg)) * ph["interval_median"]
    more_ckpt = (more_pre + more_clus) / max(FLAGS.checkpoint_interval, 1.0) * ckpt_s
    return {
        "slice": wall,
        "more_pretraining": more_pre,
        "more_clustering": more_clus,
        "more_checkpoints": more_ckpt,
        "total": wall + more_pre + more_clus + more_ckpt,
    }


def paper_flops(cfg: Config, n: int, d: int, epochs: int, iterations: int) -> dict:
    """The matmul FLOPs of a paper-budget run: ``epochs`` x n pretraining steps' samples,
    ``iterations`` x batch clustering steps' samples (the decoder's too, except DEC's), and
    an encoder pass over the n samples per refresh, ceil(iterations / update_interval) + 1
    of them. Left out: the embedding pass before K-means and, when the refreshes run at
    another precision, the last pass at the training precision (one refresh each)."""
    dims = cfg.dims(d)
    step, encoder = (machine.flops_per_sample(k, dims) for k in ("train", "encoder"))
    cluster = step if cfg.method != "dec" else 3 * encoder - 2.0 * d * dims[1]
    refreshes = intervals(iterations, cfg) + 1
    return {
        "pretraining": epochs * n * step,
        "clustering": iterations * cfg.batch_size * cluster,
        "refreshes": refreshes * n * encoder,
    }


def arithmetic_bound(cfg: Config, flops: dict, dot_gflops: dict) -> float:
    """Seconds of ``flops`` (``paper_flops``) at the machine's ``jnp.dot`` rates: training
    at ``precision``, the refreshes at ``refresh_precision`` (default: ``precision``)."""
    train_rate = dot_gflops[cfg.precision] * 1e9
    refresh_rate = dot_gflops[cfg.refresh_precision or cfg.precision] * 1e9
    return (flops["pretraining"] + flops["clustering"]) / train_rate + flops[
        "refreshes"
    ] / refresh_rate


def main(argv):
    ds = common.load(FLAGS.dataset)
    cfg = slice_config(ds.n_clusters)
    if cfg.n_clusters == "auto":
        raise ValueError("the paper-run benchmark times a fixed k; pass --n_clusters=<integer>")
    with tempfile.TemporaryDirectory() as wd:
        run = run_slice(ds, cfg, wd)
    ph = phase_seconds(run)
    ph["refresh"] = refresh_seconds(ds, cfg)
    ckpts = [s for _, s in TimedStore.writes]
    ckpt_s = float(np.median(ckpts)) if ckpts else 0.0
    proj = project(ph, cfg, run["wall"], ckpt_s, FLAGS.paper_epochs, FLAGS.paper_iter)
    steps_s = (ph["interval_median"] - ph["refresh"]) / cfg.update_interval
    out = {
        "dataset": ds.name,
        "n": int(ds.x.shape[0]),
        "config": cfg.to_dict(),
        "slice": {
            "pretrain_epochs": cfg.pretrain_epochs,
            "max_iter": cfg.max_iter,
            "wall_s": run["wall"],
            "acc": run["result"].get("acc"),
        },
        "measured_s": {
            **ph,
            "clustering_step": steps_s,
            "checkpoint_write": ckpt_s,
            "checkpoint_writes": len(ckpts),
        },
        "paper_budget": {"epochs": FLAGS.paper_epochs, "iterations": FLAGS.paper_iter},
        "projected_s": proj,
        "device": str(jax.devices()[0]),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(
        f"{ds.name} (n {ds.x.shape[0]}), slice of {cfg.pretrain_epochs} epochs and "
        f"{cfg.max_iter} iterations, {run['wall']:.1f} s wall, precision {cfg.precision}"
    )
    print("| phase | measured |\n|---|---|")
    print(f"| first pretraining epoch (with compilation) | {ph['epoch_first']:.2f} s |")
    print(f"| pretraining epoch | {ph['epoch_median']:.2f} s |")
    print(f"| K-means on the embedding | {ph['kmeans']:.2f} s |")
    print(f"| first clustering interval (with compilation) | {ph['interval_first']:.2f} s |")
    print(
        f"| clustering interval ({cfg.update_interval} steps + refresh) | "
        f"{ph['interval_median']:.3f} s |"
    )
    print(f"| one refresh alone | {ph['refresh']:.3f} s |")
    print(f"| one clustering step (interval less refresh) | {1000 * steps_s:.1f} ms |")
    print(f"| checkpoint write ({len(ckpts)} written) | {ckpt_s:.3f} s |")
    print(
        f"projected paper budget ({FLAGS.paper_epochs} epochs, {FLAGS.paper_iter} iterations): "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in proj.items())
    )
    out = machine.record(out, cfg.dims(ds.x.shape[1]), cfg.batch_size)
    flops = paper_flops(cfg, *ds.x.shape, FLAGS.paper_epochs, FLAGS.paper_iter)
    bound = arithmetic_bound(cfg, flops, out["machine"]["dot_gflops"])
    out["paper_budget"]["tflop"] = {k: v / 1e12 for k, v in flops.items()}
    out["paper_budget"]["arithmetic_bound_s"] = bound
    print(
        f"arithmetic bound: {sum(flops.values()) / 1e12:.0f} TFLOP at this machine's jnp.dot "
        f"rate ({cfg.precision}, refreshes {cfg.refresh_precision or cfg.precision}) = "
        f"{bound / 60:.1f} min; "
        f"the projected run is {proj['total'] / bound:.2f}x the bound"
    )
    atomic_write_json(FLAGS.out, out)
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    common.run_cli(main)

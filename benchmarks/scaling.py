"""Cost as the work grows: time per pretraining epoch, per clustering iteration, and peak
memory against the data's own size, at n = 10,000, 100,000 and 1,000,000 samples of
synthetic 784-dimensional float32 data (3.1 GB at a million). Each size runs in its own
process (its peak resident memory is that size's alone).

    python -m benchmarks.scaling [--sizes=10000,100000,1000000]

Both times should grow linearly with n (per-sample cost constant), and peak memory stay
at most 2.5 times the data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from absl import app, flags

from benchmarks import machine
from dssec_jax.checkpoint import atomic_write_json

flags.DEFINE_list("sizes", ["10000", "100000", "1000000"], "numbers of samples")
flags.DEFINE_integer("dim", 784, "input dimension")
flags.DEFINE_integer("epochs", 2, "pretraining epochs (the last one is timed)")
flags.DEFINE_integer("iterations", 60, "clustering iterations (two refreshes apart)")
flags.DEFINE_string("out", "benchmarks/results/scaling.json", "JSON output path")
FLAGS = flags.FLAGS

CHILD = """
import json, resource, sys, time
import numpy as np
from dssec_jax import Config, fit

n, d, epochs, iters = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
x = np.empty((n, d), np.float32)
for i in range(0, n, 100_000):  # drawn in blocks: no float64 copy of the whole data
    x[i : i + 100_000] = rng.random((min(100_000, n - i), d), dtype=np.float32)
events = []

def log(r):
    events.append((time.perf_counter(), r.get("event"), r.get("epoch"), r.get("iteration")))

cfg = Config(method="idec", n_clusters=10, pretrain_epochs=epochs, max_iter=iters,
             update_interval=iters // 2, tol=0.0, n_init=1)
t = time.perf_counter()
fit(x, cfg, seed=0, log=log)
total = time.perf_counter() - t
ep = [t for t, e, *_ in events if e == "pretrain_epoch"]
ref = [(t, it) for t, e, _, it in events if e == "cluster_refresh"]
print(json.dumps({
    "n": n,
    "data_gb": x.nbytes / 1e9,
    "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
    "epoch_s": ep[-1] - ep[-2],
    "iteration_s": (ref[-1][0] - ref[-2][0]) / (ref[-1][1] - ref[-2][1]),
    "total_s": total,
}))
"""


def run_size(n: int) -> dict:
    """One size in a fresh process (without the compilation cache: every size compiles)."""
    env = {**os.environ, "DSSEC_COMPILE_CACHE": "off"}
    args = [str(n), str(FLAGS.dim), str(FLAGS.epochs), str(FLAGS.iterations)]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"n={n} failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["peak_over_data"] = res["peak_gb"] / res["data_gb"]
    res["us_per_sample_epoch"] = res["epoch_s"] / n * 1e6
    return res


def main(argv):
    rows = []
    for n in map(int, FLAGS.sizes):
        rows.append(run_size(n))
        r = rows[-1]
        print(
            f"n {n:>9,}: epoch {r['epoch_s']:8.2f} s ({r['us_per_sample_epoch']:.1f} us/sample), "
            f"iteration {r['iteration_s'] * 1e3:7.1f} ms, peak {r['peak_gb']:.2f} GB = "
            f"{r['peak_over_data']:.2f}x the data ({r['data_gb']:.2f} GB)",
            flush=True,
        )
    network = (FLAGS.dim, *machine.MNIST_LAYERS[1:])
    out = machine.record({"dim": FLAGS.dim, "sizes": rows}, network)
    step = machine.flops_per_sample("train", network)
    for r in rows:  # a pretraining epoch's share of this process's float32 dot rate
        r["epoch_fraction_of_matmul"] = (
            r["n"] / r["epoch_s"] * step / 1e9 / out["machine"]["dot_gflops"]["float32"]
        )
        print(
            f"n {r['n']:>9,}: pretraining epoch at {r['epoch_fraction_of_matmul']:.0%} of the dot rate"
        )
    atomic_write_json(FLAGS.out, out)


if __name__ == "__main__":
    app.run(main)

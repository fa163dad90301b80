"""What the persistent compilation cache saves: the first one-epoch fit of a new process,
with an empty cache and with the cache the first process left, against a second fit in
the same process (compiled programs already in memory). Each fit runs in a subprocess.

    python -m benchmarks.compile_cache [--n=20000]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

from benchmarks import machine
from dssec_jax.checkpoint import atomic_write_json

flags.DEFINE_integer("n", 20000, "samples of synthetic 784-dimensional data")
flags.DEFINE_string("out", "benchmarks/results/compile_cache.json", "JSON output path")
FLAGS = flags.FLAGS

FIT = """
import json, sys, time
import numpy as np
from dssec_jax import DSSEC
x = np.random.default_rng(0).random((int(sys.argv[1]), 784), dtype=np.float32)
kw = dict(n_clusters=10, method="ae_kmeans", pretrain_epochs=1, n_init=1, random_state=0)
t = time.perf_counter(); DSSEC(**kw).fit(x); first = time.perf_counter() - t
t = time.perf_counter(); DSSEC(**kw).fit(x); second = time.perf_counter() - t
print(json.dumps({"first": first, "second": second}))
"""


def _fit(cache: str) -> dict:
    env = {**os.environ, "DSSEC_COMPILE_CACHE": cache}
    out = subprocess.run(
        [sys.executable, "-c", FIT, str(FLAGS.n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
    with tempfile.TemporaryDirectory() as cache:
        cold = _fit(cache)  # an empty cache: compiles, and fills the cache
        warm = _fit(cache)  # a new process reading the cache
    off = _fit("off")
    res = {
        "n": FLAGS.n,
        "first_fit_no_cache_s": round(off["first"], 2),
        "first_fit_empty_cache_s": round(cold["first"], 2),
        "first_fit_warm_cache_s": round(warm["first"], 2),
        "second_fit_same_process_s": round(warm["second"], 2),
        "warm_cache_over_same_process": round(warm["first"] / warm["second"], 2),
    }
    print(res)
    atomic_write_json(FLAGS.out, machine.record(res))


if __name__ == "__main__":
    app.run(main)

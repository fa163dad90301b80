"""What R restarts cost: ``DSSEC(n_restarts=R)`` against R fits of the same seeds one after
another, side by side in this process, each from a cold compilation cache (the persistent
cache off, the in-memory one cleared). On the CPU ``n_restarts`` runs its fits in turn; on
an accelerator, as one vmapped program.

    python -m benchmarks.restarts [--dataset=coil20] [--method=dssec] [--restarts=5] \\
        [--pretrain_epochs=50]

Writes the times, their ratio and the processor to --out.
"""

from __future__ import annotations

import os
import time

import jax
from absl import app, flags

from benchmarks import machine
from dssec_jax import DSSEC
from dssec_jax.checkpoint import atomic_write_json
from dssec_jax.data import load_dataset

flags.DEFINE_string("dataset", "coil20", "dataset")
flags.DEFINE_string("method", "dssec", "method")
flags.DEFINE_integer("restarts", 5, "R")
flags.DEFINE_integer("pretrain_epochs", 50, "pretraining epochs of every run")
flags.DEFINE_string("data_dir", None, "data folder (else $DSSEC_DATA_DIR)")
flags.DEFINE_string("out", "benchmarks/results/restarts.json", "JSON output path")
FLAGS = flags.FLAGS


def main(argv):
    os.environ["DSSEC_COMPILE_CACHE"] = "off"
    ds = load_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir)
    kw = dict(n_clusters=ds.n_clusters, method=FLAGS.method, pretrain_epochs=FLAGS.pretrain_epochs)
    r = FLAGS.restarts
    jax.clear_caches()
    t = time.perf_counter()
    for s in range(r):
        DSSEC(**kw, random_state=s).fit(ds.x)
    sequential = time.perf_counter() - t
    jax.clear_caches()
    t = time.perf_counter()
    DSSEC(**kw, random_state=0, n_restarts=r).fit(ds.x)
    batched = time.perf_counter() - t
    out = {
        "devices": [str(d) for d in jax.devices()],
        "dataset": ds.name,
        "method": FLAGS.method,
        "pretrain_epochs": FLAGS.pretrain_epochs,
        "restarts": r,
        "sequential_s": round(sequential, 1),
        "n_restarts_s": round(batched, 1),
        "ratio_to_one_run": round(batched / (sequential / r), 2),
        "ratio_to_sequential": round(batched / sequential, 2),
    }
    print(out)
    cfg = DSSEC(**kw).config()
    atomic_write_json(FLAGS.out, machine.record(out, cfg.dims(ds.x.shape[1]), cfg.batch_size))


if __name__ == "__main__":
    app.run(main)

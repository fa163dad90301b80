"""Fixed-seed labels of every method (and of a batched pair, a batched pair whose first run
stops early, with its centres, and a greedy run) on digits and
COIL-20, hashed: run it before and after a change that must not alter behaviour and
compare the two JSON files.

    python -m studies.refactor_labels_unchanged.labels_hash --data_dir=../shared/data --out=before.json
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from absl import flags

from dssec_jax import fit
from dssec_jax.cli import common
from dssec_jax.data import load_dataset
from dssec_jax.labels import reveal
from dssec_jax.methods import METHODS, Config
from dssec_jax.sweep import fit_batched

flags.DEFINE_string("out", "labels_hash.json", "where to write {run: sha256 of its labels}")
FLAGS = flags.FLAGS


def digest(values, dtype=np.int32) -> str:
    """sha256 of the values' bytes as ``dtype`` (labels as int32; centres bit for bit)."""
    return hashlib.sha256(np.asarray(values, dtype).tobytes()).hexdigest()[:16]


def main(argv):
    out = {}
    for name in ("digits", "coil20"):
        ds = load_dataset(name, data_dir=FLAGS.data_dir)
        base = dict(n_clusters=ds.n_clusters, tol=0.0, n_init=3)
        for m in METHODS:
            cfg = Config(method=m, pretrain_epochs=5, max_iter=150, update_interval=30, **base)
            known = reveal(ds.y, 0.1, 0) if METHODS[m].semi_supervised else None
            out[f"{name}/{m}"] = digest(fit(ds.x, cfg, 0, known=known).labels)
        cfgs = [Config(pretrain_epochs=3, max_iter=60, gamma=g, **base) for g in (0.1, 0.3)]
        for i, r in enumerate(fit_batched(ds.x, cfgs, [0, 1])):
            out[f"{name}/batched{i}"] = digest(r.labels)
        stops = [Config(pretrain_epochs=3, max_iter=90, **{**base, "tol": t}) for t in (0.5, 0.0)]
        for i, r in enumerate(fit_batched(ds.x, stops, [0, 0])):  # run 0 stops early, frozen
            out[f"{name}/batched_stop{i}"] = digest(r.labels) + "/" + digest(r.centers, np.float32)
        stacked = Config(
            pretrain="stacked", layerwise_epochs=2, pretrain_epochs=2, max_iter=60, **base
        )
        out[f"{name}/stacked"] = digest(fit(ds.x, stacked, 0).labels)
        common.log(f"{name} done")
    with open(FLAGS.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    common.log(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    common.run_cli(main)

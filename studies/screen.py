"""Quick design screens: one JSON list of Config overrides, several seeds, one line per run.

    python -m studies.screen --dataset=digits --seed_list=0,1,2 \
        --grid='[{"method": "idec"}, {"method": "dssec", "beta": 0.3}]' \
        --base='{"pretrain_epochs": 100, "update_interval": 30, "max_iter": 2000}'

Prints JSON lines (overrides, seed, K-means-init ACC, final ACC/NMI/ARI, iterations, seconds)
and a mean ± std (sample, ddof=1) summary per grid point. A run that fails (a non-finite
loss) prints an ``ERROR`` line naming its setting and seed, and the screen goes on. Used for the tables in BUILD_NOTES.md.
With --cache_dir (e.g. a sweep's runs/ae_cache) grid points with equal pretraining
settings share pretrained autoencoders.
"""

from __future__ import annotations

import json
import tempfile
import time

import numpy as np
from absl import flags

from dssec_jax import evaluate, fit
from dssec_jax.checkpoint import FileStore
from dssec_jax.cli import common, runner
from dssec_jax.validation import NonFiniteLossError, check_config

flags.DEFINE_string("dataset", "digits", "dataset name or path")
flags.DEFINE_list("seed_list", ["0", "1", "2"], "seeds")
flags.DEFINE_string("grid", '[{"method": "dssec"}]', "JSON list of Config overrides")
flags.DEFINE_string("base", "{}", "JSON Config overrides shared by all grid points")
FLAGS = flags.FLAGS


def main(argv):
    ds = common.load(FLAGS.dataset)
    base = {"n_clusters": ds.n_clusters, **json.loads(FLAGS.base)}
    data_id = runner.dataset_id(ds)
    scratch = tempfile.TemporaryDirectory()
    for kw in json.loads(FLAGS.grid):
        rows = []
        for seed in (int(s) for s in FLAGS.seed_list):
            t = time.time()
            cfg = check_config(common.config_from({**base, **kw}), len(ds.x))
            store = (
                FileStore(scratch.name, FLAGS.cache_dir, cfg.pretrain_hash(data_id, seed))
                if FLAGS.cache_dir
                else None
            )
            try:
                res = fit(ds.x, cfg, seed, ds.y, store=store)
            except NonFiniteLossError as e:
                print("ERROR " + json.dumps({"kw": kw, "seed": seed, "error": str(e)}), flush=True)
                continue
            finally:
                if store is not None:
                    store.drop("cluster")  # the scratch folder is shared by all grid points
            row = {
                "kw": kw,
                "seed": seed,
                "km": evaluate(ds.y, res.kmeans_labels)["acc"],
                **evaluate(ds.y, res.labels),
                "iters": res.n_iter,
                "s": round(time.time() - t, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if not rows:
            continue
        sd = (lambda v: np.std(v, ddof=1)) if len(rows) > 1 else np.std
        stats = {
            k: f"{np.mean([r[k] for r in rows]):.3f} ± {sd([r[k] for r in rows]):.3f}"
            for k in ("km", "acc", "nmi", "ari")
        }
        print("SUMMARY " + json.dumps({"kw": kw, **stats}), flush=True)


if __name__ == "__main__":
    common.run_cli(main)

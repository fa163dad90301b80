"""Evaluate the choice of k without labels (issue 19): every criterion of
``dssec_jax.choose_k`` on the pretrained embedding, then (``--fit``) the method's clustering
phase with the chosen k against the true k.

    python -m experiments.k_selection --dataset=usps --seed_list=0,1,2 \
        --cache_dir=~/.cache/dssec_jax/ae_cache --base='{"pretrain_epochs": 50}' [--fit=silhouette]

Prints one JSON line per (seed, criterion): chosen k, true k, seconds and the scores; with
``--fit``, one line per (seed, k) with ACC/NMI/ARI of the fit at that k.
"""

from __future__ import annotations

import json
import tempfile
import time

import jax
import numpy as np
from absl import flags

from dssec_jax import choose_k, evaluate, pipeline, train
from dssec_jax.checkpoint import FileStore
from dssec_jax.validation import check_config

from . import common, runner

flags.DEFINE_string("dataset", "digits", "dataset name or path")
flags.DEFINE_list("seed_list", ["0", "1", "2"], "seeds")
flags.DEFINE_string("base", "{}", "JSON Config overrides (method dssec unless given)")
flags.DEFINE_list("k_range", ["2", "30"], "k_min,k_max")
flags.DEFINE_list("criteria", list(choose_k.CRITERIA), "criteria to score")
flags.DEFINE_string("fit", None, "also fit at the k this criterion chooses and at the true k")
FLAGS = flags.FLAGS


def main(argv):
    ds = common.load(FLAGS.dataset)
    true_k = ds.n_clusters
    cfg = check_config(
        common.config_from({"method": "dssec", "n_clusters": true_k, **json.loads(FLAGS.base)}),
        len(ds.x),
    )
    k_range = tuple(int(k) for k in FLAGS.k_range)
    data_id = runner.dataset_id(ds)
    scratch = tempfile.TemporaryDirectory()
    cache = FLAGS.cache_dir or scratch.name
    for seed in (int(s) for s in FLAGS.seed_list):
        store = FileStore(scratch.name, cache, cfg.pretrain_hash(data_id, seed))
        ae, _ = pipeline.pretrain(ds.x, cfg, jax.random.PRNGKey(seed), store=store)
        z = np.asarray(train.embed(ae, ds.x, cfg.hidden_acts()))
        chosen = {}
        for crit in FLAGS.criteria:
            t = time.time()
            k, scores = choose_k.choose_k(z, k_range, seed, crit)
            chosen[crit] = k
            print(
                json.dumps(
                    {
                        "dataset": ds.name,
                        "seed": seed,
                        "criterion": crit,
                        "k": k,
                        "true_k": true_k,
                        "s": round(time.time() - t, 2),
                        "scores": {str(j): round(v, 5) for j, v in scores.items()},
                    }
                ),
                flush=True,
            )
        if FLAGS.fit:
            for k in sorted({chosen[FLAGS.fit], true_k}):
                c = common.config_from({**cfg.to_dict(), "n_clusters": k})
                res = pipeline.fit(ds.x, c, seed, store=store)
                print(
                    json.dumps(
                        {
                            "dataset": ds.name,
                            "seed": seed,
                            "fit_k": k,
                            "true_k": true_k,
                            "chosen_by": FLAGS.fit if k == chosen[FLAGS.fit] else None,
                            **evaluate(ds.y, res.labels),
                            "iters": res.n_iter,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    common.run_cli(main)

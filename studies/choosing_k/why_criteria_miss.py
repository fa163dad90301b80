"""Why Davies-Bouldin misses, and whether merging can mend it.

For each dataset and seed, on the cached pretrained DSSEC embedding (as studies/choosing_k/criteria_default_budget.sh):
- the K-means partition at the k Davies-Bouldin chooses (same subsample and seed as
  ``choose_k``), read against the labels: classes split over several clusters (by majority
  class), classes with no cluster of their own, clusters where a second class holds >= 25 %;
- the merge rule on centres: K-means with 60 clusters, single/average/Ward linkage of the
  centres, and the k (2-30) after the largest ratio between successive merge heights.

    python studies/choosing_k/why_criteria_miss.py coil20 0,1,2 ~/.cache/dssec_jax/campaign/paper/ae_cache
"""

import json
import sys
import tempfile

import jax
import numpy as np
from scipy.cluster.hierarchy import linkage
from sklearn.cluster import KMeans

from dssec_jax import Config, choose_k, pretraining, train
from dssec_jax.checkpoint import FileStore
from dssec_jax.cli import runner
from dssec_jax.data import load_dataset
from dssec_jax.validation import check_config


def largest_ratio_k(heights, k_min=2, k_max=30):
    """Cut of a linkage (ascending merge heights) before the merge with the largest ratio
    to the one before it: cutting to k clusters undoes the last k - 1 merges."""
    n = len(heights) + 1
    ratio = {k: heights[n - k] / max(heights[n - k - 1], 1e-12) for k in range(k_min, k_max + 1)}
    return max(ratio, key=ratio.get)


def main(name, seeds, cache):
    ds = load_dataset(name)
    cfg = check_config(Config(method="dssec", n_clusters=ds.n_clusters), len(ds.x))
    for seed in seeds:
        store = FileStore(tempfile.mkdtemp(), cache, cfg.pretrain_hash(runner.dataset_id(ds), seed))
        if not store.path("pretrained").exists():
            print(f"{name} seed {seed}: no cached autoencoder, skipped", file=sys.stderr)
            continue
        ae, _ = pretraining.pretrain(ds.x, cfg, jax.random.PRNGKey(seed), store=store)
        z = np.asarray(train.embed(ae, ds.x, cfg.hidden_acts()), np.float64)
        k, _ = choose_k.choose_k(z, cfg.k_range, seed)
        rows = choose_k.subsample_rows(len(z), seed)  # the rows choose_k scored
        sub, y = z[rows], ds.y[rows]
        lab = KMeans(k, n_init=5, random_state=seed).fit_predict(sub)
        table = np.zeros((k, ds.n_clusters), int)
        np.add.at(table, (lab, y), 1)
        major = table.argmax(1)
        order = np.argsort(-table, 1, kind="stable")  # [:, 0] is major (first of ties)
        second = np.take_along_axis(table, order[:, 1:2], 1)[:, 0]
        centres = KMeans(60, n_init=3, random_state=seed).fit(sub).cluster_centers_
        merge = {
            m: largest_ratio_k(linkage(centres, m)[:, 2]) for m in ("single", "average", "ward")
        }
        print(
            json.dumps(
                {
                    "dataset": name,
                    "seed": seed,
                    "true_k": ds.n_clusters,
                    "davies_bouldin_k": k,
                    "split_classes": {
                        int(c): int((major == c).sum())
                        for c in np.unique(major)
                        if (major == c).sum() > 1
                    },
                    "classes_without_cluster": sorted(
                        set(range(ds.n_clusters)) - set(major.tolist())
                    ),
                    "mixed_clusters": [
                        [int(major[i]), int(order[i, 1])]
                        for i in range(k)
                        if second[i] >= 0.25 * table[i].sum()
                    ],
                    "merge_k_60_centres": merge,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3])

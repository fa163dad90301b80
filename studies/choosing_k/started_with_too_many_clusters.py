"""Does DSSEC's clustering phase, started with too many clusters,
empty or merge the extra ones (the premise of a merge rule)?

DSSEC at the library defaults with ``n_clusters=K`` from the cached autoencoder; prints the
cluster sizes, how many clusters hold more than 1 % of the points, and for each centre
the distance to its nearest other centre over its cluster's RMS radius (near or below 1:
centres that coincide).

    python studies/choosing_k/started_with_too_many_clusters.py coil20 0 ~/.cache/dssec_jax/campaign/paper/ae_cache 30
"""

import json
import sys
import tempfile

import numpy as np

from dssec_jax import Config, evaluate, pipeline
from dssec_jax.checkpoint import FileStore
from dssec_jax.cli import runner
from dssec_jax.data import load_dataset
from dssec_jax.validation import check_config


def main(name, seed, cache, k):
    ds = load_dataset(name)
    true = check_config(Config(method="dssec", n_clusters=ds.n_clusters), len(ds.x))
    cfg = check_config(Config(method="dssec", n_clusters=k), len(ds.x))
    store = FileStore(tempfile.mkdtemp(), cache, true.pretrain_hash(runner.dataset_id(ds), seed))
    res = pipeline.fit(ds.x, cfg, seed, store=store)
    sizes = np.bincount(res.labels, minlength=k)
    z, mu = res.embedding, res.centers
    dist = np.sqrt(((mu[:, None] - mu[None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    radius = np.array(
        [
            np.sqrt(((z[res.labels == j] - mu[j]) ** 2).sum(1).mean()) if sizes[j] else np.nan
            for j in range(k)
        ]
    )
    print(
        json.dumps(
            {
                "dataset": name,
                "seed": seed,
                "k": k,
                "iters": res.n_iter,
                "stop": res.stop_reason,
                **{m: round(v, 4) for m, v in evaluate(ds.y, res.labels).items()},
                "sizes": sorted(sizes.tolist()),
                "above_1pct": int((sizes > 0.01 * len(res.labels)).sum()),
                "nearest_centre_over_radius": sorted(
                    round(float(v), 2) for v in dist.min(1) / radius
                ),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))

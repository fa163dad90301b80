"""Why does the sparse autoencoder's K-means start trail the plain one's on MNIST?

For the strong table's cached autoencoders (plain and sparse, seeds 0-2), the measures of
``studies.pretraining_length_coil20``: K-means ACC on the embedding, the 5-NN purity
(do the digits stay apart?) and the within-class share of the variance (how compact are
they?), on all 70,000 images:

    python -m studies.mnist_start_geometry.measure \
        --cache_dir=$HOME/.cache/dssec_jax/campaign/strong/ae_cache

With ``--objective``, instead: is a low start K-means's search or its objective? K-means's
inertia and ACC with 20 and with 100 restarts, and started from the true classes' means
(a diagnosis that uses the labels; nothing here chooses anything by them).
"""

from __future__ import annotations

import json
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from sklearn.cluster import KMeans

from dssec_jax import sae
from dssec_jax.checkpoint import FileStore, restore
from dssec_jax.cli import common, runner
from dssec_jax.metrics import cluster_acc
from dssec_jax.presets import recipe_config
from studies.pretraining_length_coil20.measure import measure

flags.DEFINE_string("dataset", "mnist", "dataset name")
flags.DEFINE_boolean("objective", False, "K-means's search against its objective")
FLAGS = flags.FLAGS  # --seed_list comes with the measures' module


def objective(ae, x, y, cfg, seed) -> dict:
    """Inertia and ACC of K-means on the embedding: 20 and 100 restarts, and one run
    started from the true classes' means."""
    z = np.asarray(sae.encode(ae, jnp.asarray(x), cfg.net().acts))
    out = {}
    for name, km in (
        ("restarts20", KMeans(cfg.k, n_init=20, random_state=seed)),
        ("restarts100", KMeans(cfg.k, n_init=100, random_state=seed)),
        (
            "from_class_means",
            KMeans(cfg.k, init=np.stack([z[y == c].mean(0) for c in range(cfg.k)]), n_init=1),
        ),
    ):
        labels = km.fit_predict(z)
        out[name] = {"inertia": float(km.inertia_), "acc": cluster_acc(y, labels)}
    return out


def main(argv):
    ds = common.load(FLAGS.dataset)
    data_id = runner.dataset_id(ds)
    none_held = np.zeros(len(ds.x), bool)
    for method in ("ae_kmeans", "sae_kmeans"):
        cfg = recipe_config("strong", method, n_clusters=ds.n_clusters)
        for seed in (int(s) for s in FLAGS.seed_list):
            store = FileStore(tempfile.mkdtemp(), FLAGS.cache_dir, cfg.pretrain_hash(data_id, seed))
            if (hit := store.get("pretrained")) is None:
                print(json.dumps({"method": method, "seed": seed, "error": "not cached"}))
                continue
            template = sae.init_params(jax.random.key(0), cfg.dims(ds.x.shape[1]))
            ae = jax.device_get(restore(template, hit[1]))
            row = {"dataset": FLAGS.dataset, "method": method, "seed": seed}
            if FLAGS.objective:
                row |= objective(ae, ds.x, ds.y, cfg, seed)
            else:
                row |= measure(ae, ds.x, ds.y, none_held, cfg, seed)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    common.run_cli(main, doc=__doc__)

"""Why does COIL-20 get worse with more pretraining?

Each recipe's plain and sparse autoencoder is pretrained for up to ``--epochs`` epochs on
COIL-20 with every ``--holdout``-th view of each object held out, and at each epoch of
``--at`` the snapshot is measured:

- ``km``: ACC of K-means (20 restarts) on the embedding of all 1,440 images, as the
  table's K-means start (before any rescale: K-means does not care);
- ``knn``: the share of each image's 5 nearest neighbours in the embedding that show the
  same object (do the objects stay apart, whatever their shape?);
- ``spread``: within-object variance over total variance of the embedding (how compact
  the objects are, which K-means needs);
- ``rec_train`` / ``rec_held``: mean squared reconstruction error on the trained and on
  the held-out views (does the autoencoder memorise the views it sees?).

    python -m studies.pretraining_length_coil20.measure --seed_list=0,1,2
    python -m studies.pretraining_length_coil20.measure --recipes=   # the pixels' line

One JSON line per (recipe, method, seed, epoch). Seeds fix the initialisation and the batch
order as in the library (``pipeline.fit``'s pretraining key).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from dssec_jax import pretraining, sae
from dssec_jax.cli import common
from dssec_jax.metrics import cluster_acc
from dssec_jax.presets import recipe_config

flags.DEFINE_list("seed_list", ["0", "1", "2"], "seeds")
flags.DEFINE_list("recipes", ["paper", "strong"], "recipes")
flags.DEFINE_list("methods", ["ae_kmeans", "sae_kmeans"], "plain and sparse")
flags.DEFINE_integer("epochs", 300, "pretraining epochs")
flags.DEFINE_list("at", ["10", "25", "50", "100", "150", "200", "300"], "epochs measured")
flags.DEFINE_integer("holdout", 8, "hold out every n-th view of each object (0: none)")
FLAGS = flags.FLAGS


class Snapshots:
    """A checkpoint store that keeps nothing but copies of the autoencoder after the
    epochs asked for (pretraining saves after every epoch when ``min_interval_s`` is 0)."""

    min_interval_s = 0.0
    pretrain_key = "snapshots"

    def __init__(self, at: set):
        self.at, self.kept = at, {}

    def get(self, name):
        return None

    def put(self, name, tree, meta):
        if name == "pretrain_progress" and meta["epoch"] in self.at:
            self.kept[meta["epoch"]] = jax.device_get(tree.params)  # before the next donation

    def drop(self, name):
        pass


def held_out(y: np.ndarray, every: int) -> np.ndarray:
    """Mask of every ``every``-th sample of each class (in the data's order)."""
    mask = np.zeros(len(y), bool)
    if every:
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            mask[rows[every - 1 :: every]] = True
    return mask


def geometry(z: np.ndarray, y: np.ndarray, k: int, seed: int) -> dict:
    """K-means ACC, 5-NN purity and within-class share of the variance of ``z``."""
    km = KMeans(k, n_init=20, random_state=seed).fit_predict(z)
    nn = NearestNeighbors(n_neighbors=6).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    within = sum(np.square(z[y == c] - z[y == c].mean(0)).sum() for c in np.unique(y))
    return {
        "km": cluster_acc(y, km),
        "knn": float(np.mean(y[nn] == y[:, None])),
        "spread": float(within / np.square(z - z.mean(0)).sum()),
    }


def measure(ae, x, y, held, cfg, seed) -> dict:
    """The snapshot's measures (module docstring)."""
    z, x_hat, _ = sae.forward(ae, jnp.asarray(x), cfg.net().acts)
    err = np.mean(np.square(np.asarray(x_hat) - x), axis=1)
    return {
        **geometry(np.asarray(z), y, cfg.k, seed),
        "rec_train": float(err[~held].mean()),
        "rec_held": float(err[held].mean()) if held.any() else None,
    }


def main(argv):
    ds = common.load("coil20")
    held = held_out(ds.y, FLAGS.holdout)
    at = {int(a) for a in FLAGS.at if int(a) <= FLAGS.epochs}
    if not FLAGS.recipes:  # --recipes= : the pixels themselves, for reference
        print(json.dumps({"space": "pixels", **geometry(ds.x, ds.y, ds.n_clusters, 0)}))
    for recipe in FLAGS.recipes:
        for method in FLAGS.methods:
            cfg = recipe_config(
                recipe, method, n_clusters=ds.n_clusters, pretrain_epochs=FLAGS.epochs
            )
            for seed in (int(s) for s in FLAGS.seed_list):
                store = Snapshots(at)
                key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
                ae, _ = pretraining.pretrain(ds.x[~held], cfg, key, store=store)
                store.kept[FLAGS.epochs] = jax.device_get(ae)
                for epoch in sorted(store.kept):
                    row = {"recipe": recipe, "method": method, "seed": seed, "epoch": epoch}
                    row |= measure(store.kept[epoch], ds.x, ds.y, held, cfg, seed)
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    common.run_cli(main, doc=__doc__)

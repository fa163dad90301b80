"""Would the KL floor's tangent below the 1e-6 clip change the strong recipe's sparse
autoencoder?

The floor's tangent is taken on the rate clipped at 1e-6, so a unit whose batch rate falls
below 1e-6 gets no gradient from the penalty. Taken on the unclipped rate instead, such a
unit would get the tangent's slope. This pretrains the strong recipe's sparse autoencoder
twice per seed, with the library's KL (as the tables ran) and with that variant, and
compares the two bit for bit, with the ACC of K-means on each one's embedding:

    python -m studies.sparsity_floor_below_clip.check --dataset=coil20 --seed_list=0,1,2
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from sklearn.cluster import KMeans

from dssec_jax import losses, pretraining, train
from dssec_jax.cli import common
from dssec_jax.metrics import cluster_acc
from dssec_jax.presets import recipe_config

flags.DEFINE_string("dataset", "coil20", "dataset name")
flags.DEFINE_list("seed_list", ["0"], "seeds")
FLAGS = flags.FLAGS
CURRENT = losses.sparsity_kl


def unclipped_tangent_kl(rho, rho_hat, *, eps=1e-6, rest=None, floor=None):
    """The library's KL with, below the floor, the tangent taken on the unclipped rate:
    slope (r - eps) added where r < eps, so the term is slope (r - f) all the way down."""
    out = CURRENT(rho, rho_hat, eps=eps, rest=rest, floor=floor)
    if floor is None:
        return out
    slope = -rho / floor + (1.0 - rho) / (1.0 - floor)
    r = jnp.asarray(rho_hat, jnp.float32)
    return out + jnp.sum(slope * (jnp.minimum(r, eps) - eps), axis=-1)


def pretrained(x, cfg, seed, kl) -> tuple[dict, float]:
    """The autoencoder pretrained with ``kl`` as the sparsity KL, and its final loss."""
    losses.sparsity_kl = kl
    jax.clear_caches()
    train.autoencoder_steps.cache_clear()  # traced again with this KL
    try:
        ae, history = pretraining.pretrain(x, cfg, jax.random.fold_in(jax.random.PRNGKey(seed), 1))
    finally:
        losses.sparsity_kl = CURRENT
    return jax.device_get(ae), history[-1]["loss"]


def kmeans_acc(ae, x, y, cfg, seed) -> float:
    z = np.asarray(train.embed(ae, jnp.asarray(x), cfg.net().acts))
    return cluster_acc(y, KMeans(cfg.k, n_init=20, random_state=seed).fit_predict(z))


def main(argv):
    ds = common.load(FLAGS.dataset)
    cfg = recipe_config("strong", "sae_kmeans", n_clusters=ds.n_clusters)
    for seed in (int(s) for s in FLAGS.seed_list):
        as_run, loss_as_run = pretrained(ds.x, cfg, seed, CURRENT)
        variant, loss_variant = pretrained(ds.x, cfg, seed, unclipped_tangent_kl)
        diff = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(jax.tree.leaves(as_run), jax.tree.leaves(variant))
        )
        row = {"dataset": FLAGS.dataset, "seed": seed, "identical": diff == 0.0}
        row |= {"max_abs_difference": diff, "loss_as_run": loss_as_run}
        row |= {"loss_unclipped_tangent": loss_variant}
        row |= {"acc_as_run": kmeans_acc(as_run, ds.x, ds.y, cfg, seed)}
        row |= {"acc_unclipped_tangent": kmeans_acc(variant, ds.x, ds.y, cfg, seed)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    common.run_cli(main, doc=__doc__)

"""A training loop of your own from the library's pure functions: the sparse autoencoder,
the sparsity penalty, the soft assignment q, the target p and the clustering loss.

    python examples/custom_loop.py
"""

import jax
import jax.numpy as jnp
import optax
from _budget import TINY
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from dssec_jax import (
    clustering_kl,
    evaluate,
    forward,
    init_params,
    reconstruction_loss,
    soft_assignment,
    sparsity_penalty,
    target_distribution,
)

x_np, y = load_digits(return_X_y=True)
x = jnp.asarray(x_np / 16.0, jnp.float32)
key = jax.random.PRNGKey(0)
params = init_params(key, (64, 128, 128, 256, 10))
acts = "relu"


# 1. pretrain the sparse autoencoder: L_rec + beta * KL(rho || rho_hat)
def pretrain_loss(p, xb):
    _, x_hat, hidden = forward(p, xb, acts)
    return reconstruction_loss(xb, x_hat) + 1.0 * sparsity_penalty(hidden[:2], rho=0.05)


opt = optax.adam(1e-3)
state = opt.init(params)


@jax.jit
def pretrain_step(p, s, xb):
    loss, g = jax.value_and_grad(pretrain_loss)(p, xb)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s, loss


for epoch in range(2 if TINY else 100):
    perm = jax.random.permutation(jax.random.fold_in(key, epoch), x.shape[0])
    for i in range(0, x.shape[0], 256):
        params, state, loss = pretrain_step(params, state, x[perm[i : i + 256]])
print("pretraining loss", float(loss))

# 2. the clustering phase: K-means start, then L_rec + gamma * KL(P || Q)
z = forward(params, x, acts)[0]
centers = jnp.asarray(KMeans(10, n_init=5, random_state=0).fit(z).cluster_centers_)
theta = {"ae": params, "centers": centers}


def cluster_loss(t, xb, pb):
    zb, x_hat, _ = forward(t["ae"], xb, acts)
    return reconstruction_loss(xb, x_hat) + 0.1 * clustering_kl(
        pb, soft_assignment(zb, t["centers"])
    )


opt2 = optax.adam(1e-3)
state2 = opt2.init(theta)


@jax.jit
def cluster_step(t, s, xb, pb):
    g = jax.grad(cluster_loss)(t, xb, pb)
    u, s = opt2.update(g, s, t)
    return optax.apply_updates(t, u), s


for it in range(2 if TINY else 30):  # refresh the target p on the whole data, then train
    q = soft_assignment(forward(theta["ae"], x, acts)[0], theta["centers"])
    p = target_distribution(q)
    for i in range(0, x.shape[0], 256):
        theta, state2 = cluster_step(theta, state2, x[i : i + 256], p[i : i + 256])
labels = jnp.argmax(soft_assignment(forward(theta["ae"], x, acts)[0], theta["centers"]), 1)
print({k: round(v, 3) for k, v in evaluate(y, labels).items()})

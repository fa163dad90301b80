"""The Flax NNX module computes exactly what the pure functions compute."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dssec_jax import losses, sae
from dssec_jax.flax_module import SparseAutoencoder

DIMS = (64, 32, 32, 48, 5)


def test_the_module_equals_sae_forward_for_the_same_parameters(digits):
    x = jnp.asarray(digits[0][:100])
    params = sae.init_params(jax.random.key(3), DIMS)
    model = SparseAutoencoder.from_params(params)
    z, x_hat, hidden = model(x)
    z0, x_hat0, hidden0 = sae.forward(params, x, "relu")
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(x_hat, x_hat0)
    for h, h0 in zip(hidden, hidden0):
        np.testing.assert_array_equal(h, h0)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), model.params(), params))
    np.testing.assert_array_equal(
        model.sparsity_penalty(hidden), losses.sparsity_penalty(hidden0[:2], rho=0.05)
    )
    quiet = [h * 1e-3 for h in hidden]  # rates below the floor, where it changes the KL
    floored = losses.sparsity_penalty(quiet[:2], rho=0.05, floor=0.005)
    np.testing.assert_array_equal(model.sparsity_penalty(quiet, floor=0.005), floored)
    assert float(floored) < float(model.sparsity_penalty(quiet))


def test_its_gradients_equal_the_pure_gradients(digits):
    x = jnp.asarray(digits[0][:100])
    model = SparseAutoencoder(DIMS, activation="relu", rngs=nnx.Rngs(0))
    assert len(nnx.state(model, nnx.Param)) == 2  # encoder and decoder
    params = model.params()

    def pure_loss(p):
        z, x_hat, hidden = sae.forward(p, x, "relu")
        return jnp.mean((x_hat - x) ** 2) + losses.sparsity_penalty(hidden[:2], rho=0.05)

    def module_loss(m):
        z, x_hat, hidden = m(x)
        return jnp.mean((x_hat - x) ** 2) + m.sparsity_penalty(hidden)

    g_pure = jax.grad(pure_loss)(params)
    g_mod = nnx.grad(module_loss)(model)
    for part in ("encoder", "decoder"):
        for i, layer in enumerate(g_pure[part]):
            for k in ("w", "b"):
                got = getattr(getattr(g_mod, part)[i], k)[...]
                np.testing.assert_array_equal(got, layer[k])
                assert np.any(got != 0)

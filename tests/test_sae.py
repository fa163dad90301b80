import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dssec_jax import sae


def test_init_shapes_and_mirror():
    p = sae.init_params(jax.random.PRNGKey(0), (784, 500, 500, 2000, 10))
    assert [layer["w"].shape for layer in p["encoder"]] == [
        (784, 500),
        (500, 500),
        (500, 2000),
        (2000, 10),
    ]
    assert [layer["w"].shape for layer in p["decoder"]] == [
        (10, 2000),
        (2000, 500),
        (500, 500),
        (500, 784),
    ]
    with pytest.raises(ValueError):
        sae.init_params(jax.random.PRNGKey(0), (5,))


def test_forward_matches_numpy_with_mixed_activations():
    key = jax.random.PRNGKey(1)
    p = sae.init_params(key, (6, 5, 4, 2))
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    z, xh, hidden = sae.forward(p, x, ("relu", "sigmoid"))
    relu = lambda a: np.maximum(a, 0)
    sig = lambda a: 1 / (1 + np.exp(-a))
    e, d = p["encoder"], p["decoder"]
    h1 = relu(x @ e[0]["w"] + e[0]["b"])
    h2 = sig(h1 @ e[1]["w"] + e[1]["b"])
    zz = h2 @ e[2]["w"] + e[2]["b"]
    g1 = sig(zz @ d[0]["w"] + d[0]["b"])
    g2 = relu(g1 @ d[1]["w"] + d[1]["b"])
    xx = g2 @ d[2]["w"] + d[2]["b"]
    np.testing.assert_allclose(z, zz, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xh, xx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden[1], h2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sae.encode(p, x, ("relu", "sigmoid")), zz, rtol=1e-5, atol=1e-6)


def test_bad_activations():
    p = sae.init_params(jax.random.PRNGKey(0), (6, 5, 4, 2))
    with pytest.raises(ValueError, match="expected 2 hidden"):
        sae.encode(p, np.zeros((1, 6)), ("relu",))
    with pytest.raises(ValueError, match="unknown activation"):
        sae.encode(p, np.zeros((1, 6)), "swishy")


def test_jit_vmap_and_bf16():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    ps = jax.vmap(lambda k: sae.init_params(k, (8, 16, 4)))(keys)
    x = jnp.ones((5, 8))
    z = jax.jit(jax.vmap(lambda p: sae.encode(p, x)))(ps)
    assert z.shape == (3, 5, 4)
    p0 = jax.tree.map(lambda a: a[0], ps)
    np.testing.assert_allclose(z[0], sae.encode(p0, x), rtol=1e-5)
    zb = sae.encode(p0, x, compute_dtype=jnp.bfloat16)
    assert zb.dtype == jnp.float32
    np.testing.assert_allclose(zb, z[0], rtol=0.05, atol=0.05)
    assert not np.array_equal(zb, z[0])  # computed in bf16, not float32 cast at the end


def test_rescale_embedding_scales_z_and_keeps_the_reconstruction():
    p = sae.init_params(jax.random.PRNGKey(0), (12, 16, 8, 3))
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 12))
    z, x_hat, _ = sae.forward(p, x)
    z2, x_hat2, _ = sae.forward(sae.rescale_embedding(p, 2.5), x)
    np.testing.assert_allclose(z2, 2.5 * z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x_hat2, x_hat, rtol=1e-4, atol=1e-5)


def test_row_major_backward_of_the_bf16_benchmark():
    """benchmarks.row_major (timed by benchmarks.bf16_backward): every backward product contracts lhs dim 1 with
    rhs dim 0 (row-major operands), XLA's own backward does not, and the gradients agree."""
    import re

    from benchmarks.row_major import low_dot, row_major_matmul

    if jax.default_backend() != "cpu":
        pytest.skip("the HLO of other backends has no plain dot ops to inspect")
    x = jax.random.uniform(jax.random.PRNGKey(1), (16, 12))
    w = jax.random.normal(jax.random.PRNGKey(2), (12, 8))
    pattern = r"lhs_contracting_dims=\{(\d)\}, rhs_contracting_dims=\{(\d)\}"

    def grads(mm):
        f = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.tanh(mm(x, w, jnp.bfloat16))), (0, 1)))
        return re.findall(pattern, f.lower(x, w).compile().as_text()), f(x, w)

    dims, (gx, gw) = grads(row_major_matmul)
    assert len(dims) == 3 and all(d == ("1", "0") for d in dims)
    plain, (px, pw) = grads(low_dot)
    assert any(d != ("1", "0") for d in plain)
    np.testing.assert_allclose(gx, px, rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(gw, pw, rtol=2e-2, atol=2e-2)


def _dot_operand_types(hlo: str) -> list:
    """(lhs dtype, rhs dtype) of every dot in optimised HLO text."""
    import re

    types = dict(re.findall(r"(%[\w.\-]+) = (\w+)\[", hlo))
    return [
        (types.get(a), types.get(b))
        for a, b in re.findall(r" dot\((%[\w.\-]+), (%[\w.\-]+)\)", hlo)
    ]


def test_bf16_training_runs_every_product_in_bf16():
    """With compute_dtype=bfloat16 the forward and both backward products of the compiled
    pretraining step take bf16 operands (differentiated by JAX alone, with XLA's CPU back
    end, the backward products ran in float32). The gradients agree with float32's within
    bf16's precision, for a batch of rank 3 and vmapped too; an empty batch has gradients."""
    from dssec_jax import train

    if jax.default_backend() != "cpu":
        pytest.skip("the HLO of other backends has no plain dot ops to inspect")
    net = train.Net(("relu", "relu"), (0,), compute_dtype=jnp.bfloat16)
    step = train.autoencoder_steps(net, train.Optimizer(), steps=2, batch_size=16)
    params = sae.init_params(jax.random.PRNGKey(0), (12, 16, 16, 4))
    x = jax.random.uniform(jax.random.PRNGKey(1), (64, 12))
    state = train.init_state(params, train.Optimizer().build())
    hlo = step.lower(state, x, jax.random.PRNGKey(2), 2, train.hyper(beta=1.0)).compile()
    types = _dot_operand_types(hlo.as_text())
    # 6 layers: 6 forward products, 6 weight gradients, 5 input gradients (not the data's)
    assert len(types) == 17 and all(t == ("bf16", "bf16") for t in types), types

    w = jax.random.normal(jax.random.PRNGKey(3), (12, 8))

    def loss(mm):
        return jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.tanh(mm(x, w))), (0, 1)))

    gx, gw = loss(sae.low_precision_matmul(jnp.dtype(jnp.bfloat16)))(x, w)
    fx, fw = loss(jnp.dot)(x, w)
    np.testing.assert_allclose(gx, fx, rtol=3e-2, atol=3e-2)
    np.testing.assert_allclose(gw, fw, rtol=3e-2, atol=3e-2)
    x3 = x[:60].reshape(3, 20, 12)  # leading dimensions
    gx3, gw3 = loss(sae.low_precision_matmul(jnp.dtype(jnp.bfloat16)))(x3, w)
    fx3, fw3 = loss(jnp.dot)(x3, w)
    np.testing.assert_allclose(gx3, fx3, rtol=3e-2, atol=3e-2)
    np.testing.assert_allclose(gw3, fw3, rtol=3e-2, atol=3e-2)
    empty = loss(sae.low_precision_matmul(jnp.dtype(jnp.bfloat16)))(x[:0], w)
    assert empty[0].shape == (0, 12) and float(jnp.abs(empty[1]).max()) == 0.0
    ws = jnp.stack([w, 2 * w])
    vg = jax.vmap(lambda w: loss(sae.low_precision_matmul(jnp.dtype(jnp.bfloat16)))(x, w)[1])(ws)
    np.testing.assert_allclose(vg[1], loss(jnp.dot)(x, 2 * w)[1], rtol=3e-2, atol=3e-2)


def test_input_weight_share_counts_the_squared_mass_leaving_the_chosen_inputs():
    params = sae.init_params(jax.random.PRNGKey(0), (4, 3, 2))
    w = np.zeros((4, 3), np.float32)
    w[0], w[3] = 1.0, 2.0  # masses 3 and 12; inputs 1 and 2 carry nothing
    params["encoder"][0]["w"] = jnp.asarray(w)
    assert sae.input_weight_share(params, [3]) == pytest.approx(0.8)
    assert sae.input_weight_share(params, np.array([False, True, True, False])) == 0.0
    uniform = sae.init_params(jax.random.PRNGKey(1), (400, 50, 2))
    assert sae.input_weight_share(uniform, np.arange(200, 400)) == pytest.approx(0.5, abs=0.03)

"""The public boundary leaves the caller's arrays alone: every entry point that takes data
or parameters is called with JAX arrays, which must stay usable and unchanged. The
compiled steps say that they consume their state, and they do."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dssec_jax import DSSEC, fit, pipeline, pretraining, sae, train
from dssec_jax.methods import Config
from dssec_jax.sweep import fit_batched
from dssec_jax.validation import NonFiniteLossError

TINY = Config(
    hidden_dims=(32, 32, 64),
    pretrain_epochs=2,
    batch_size=64,
    update_interval=5,
    max_iter=10,
    n_init=2,
)


def _alive_and_equal(tree, copy):
    for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(copy)):
        assert not a.is_deleted()
        np.testing.assert_array_equal(np.asarray(a), b)


def test_fit_fit_batched_and_pretrain_keep_the_callers_data(digits):
    x = jnp.asarray(digits[0][:300])
    x0 = np.array(x)
    fit(x, TINY, 0)
    fit_batched(x, [TINY, TINY], [0, 1])
    pretraining.pretrain(x, TINY, jax.random.PRNGKey(0))
    _alive_and_equal(x, x0)


def test_a_float32_numpy_input_is_left_as_it_was(digits):
    """The common case: a C-contiguous float32 array goes in without a copy at the
    boundary (``check_data`` returns it as it is), so a step that donated or wrote into
    its input would change the caller's array; a guard, as no step does."""
    x = np.ascontiguousarray(digits[0][:300], np.float32)
    x0 = x.copy()
    fit(x, TINY, 0)
    fit_batched(x, [TINY, TINY], [0, 1])
    pretraining.pretrain(x, TINY, jax.random.PRNGKey(0))
    DSSEC(
        n_clusters=10,
        **{
            k: getattr(TINY, k)
            for k in ("hidden_dims", "pretrain_epochs", "batch_size", "max_iter", "n_init")
        },
    ).fit(x)
    np.testing.assert_array_equal(x, x0)


def test_the_estimator_keeps_the_callers_data_and_its_own_parameters(digits):
    x = jnp.asarray(digits[0][:300])
    est = DSSEC(
        n_clusters=10,
        hidden_dims=(32, 32, 64),
        pretrain_epochs=2,
        batch_size=64,
        max_iter=10,
        n_init=2,
        random_state=0,
    ).fit(x)
    params = jax.tree.map(np.array, est.params_)
    z = est.transform(x)
    np.testing.assert_array_equal(est.transform(x), z)  # twice: nothing was consumed
    est.predict(x), est.soft_assign(x)
    _alive_and_equal(est.params_, params)
    _alive_and_equal(x, np.asarray(digits[0][:300]))


def test_pure_functions_leave_their_inputs(digits):
    x = jnp.asarray(digits[0][:50])
    params = sae.init_params(jax.random.key(0), (64, 16, 4))
    copy, x_copy = jax.tree.map(np.array, params), np.array(x)
    sae.forward(params, x, "relu")
    train.embed(params, x, ("relu",))
    _alive_and_equal(params, copy)
    _alive_and_equal(x, x_copy)


def test_the_compiled_steps_consume_their_state_as_documented(digits):
    x = jnp.asarray(digits[0][:128])
    params = sae.init_params(jax.random.key(0), (64, 16, 4))
    opt = train.Optimizer("adam", 1e-3)
    state = train.init_state(params, opt.build())
    run = train.autoencoder_steps(train.Net(("relu",)), opt, steps=2, batch_size=64)
    new, parts = run(state, x, jax.random.key(1), 2, train.hyper())
    assert all(a.is_deleted() for a in jax.tree.leaves(state))  # donated, as the docs say
    assert not any(a.is_deleted() for a in jax.tree.leaves(new)) and np.isfinite(parts["loss"])


def test_a_step_that_leaves_non_finite_weights_is_caught_though_its_loss_was_finite(digits):
    """The loss of a step is computed before its update: an update that overflows the
    weights shows only in the part "finite", and pretraining stops there instead of
    storing them."""
    x = jnp.asarray(digits[0][:64] * 1e3)
    params = sae.init_params(jax.random.key(0), (64, 16, 4))
    opt = train.Optimizer("sgd", 1e38)
    run = train.autoencoder_steps(train.Net(("relu",)), opt, steps=1, batch_size=64)
    new, parts = run(train.init_state(params, opt.build()), x, jax.random.key(1), 64, train.hyper())
    assert np.isfinite(parts["loss"]) and not bool(parts["finite"])
    assert not all(np.isfinite(a).all() for a in jax.tree.leaves(new.params))
    cfg = Config(
        hidden_dims=(16,),
        sparse_layers=(0,),
        embed_dim=4,
        n_clusters=3,
        batch_size=64,
        pretrain_epochs=2,
        pretrain_optimizer="sgd",
        learning_rate=1e38,
    )
    with pytest.raises(NonFiniteLossError, match="at stage finetune epoch 1;"):
        pipeline.fit(np.asarray(x), cfg, 0)

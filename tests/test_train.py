import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import TINY_NET

from dssec_jax import clustering, losses, pipeline, pretraining, sae, train
from dssec_jax.methods import Config
from dssec_jax.validation import NonFiniteLossError


@pytest.mark.parametrize("n, steps, batch", [(10, 3, 4), (10, 7, 4), (37, 20, 8), (5, 4, 5)])
def test_batch_indices_are_consecutive_slices_of_whole_permutations(n, steps, batch):
    """What the sampler does, as its docstring says: the batches, read in order, are
    permutations of range(n) one after another (each sample once per n draws; the last
    batch of an epoch is completed from the next permutation), and different keys draw
    different orders."""
    for seed in range(20):
        flat = np.asarray(train.batch_indices(jax.random.PRNGKey(seed), n, steps, batch))
        assert flat.shape == (steps, batch) and flat.dtype == np.int32
        flat = flat.ravel()
        for start in range(0, len(flat) - n + 1, n):
            assert sorted(flat[start : start + n].tolist()) == list(range(n))
        tail = flat[len(flat) - len(flat) % n :]
        assert len(set(tail.tolist())) == len(tail)  # a partial permutation: no repeats
    a, b = (np.asarray(train.batch_indices(jax.random.PRNGKey(s), n, steps, batch)) for s in (0, 1))
    assert not np.array_equal(a, b)


def test_chunked_map_matches_direct():
    x = jnp.arange(70.0).reshape(35, 2)
    out = train.chunked_map(lambda b: b * 2 + 1, x, chunk=8)
    np.testing.assert_allclose(out, x * 2 + 1)


def _reference_steps(params, x, idx, hp, opt):
    ref_p, ref_s, losses_ = params, opt.init(params), []
    for b in np.asarray(idx):
        g, aux = jax.grad(train.autoencoder_loss, has_aux=True)(
            ref_p,
            x[b],
            hp,
            acts=("relu",),
            sparse_layers=(0,),
            reduction="mean",
            form="ratio",
            compute_dtype=None,
        )
        u, ref_s = opt.update(g, ref_s, ref_p)
        ref_p = optax.apply_updates(ref_p, u)
        losses_.append(float(aux["loss"]))
    return ref_p, ref_s, losses_


@pytest.mark.parametrize("n_valid", [5, 3])
def test_scan_steps_equal_python_loop(n_valid):
    """The scanned, compiled steps (indices drawn inside the program) equal plain optax steps
    one by one on the same indices; steps past ``n_valid`` change nothing."""
    key = jax.random.PRNGKey(0)
    params = sae.init_params(key, (6, 8, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (20, 6))
    idx = train.batch_indices(jax.random.PRNGKey(2), 20, 5, 4)
    hp = train.hyper(beta=0.5, rho=0.1)
    opt = optax.adam(1e-2)
    ref_p, ref_s, ref_losses = _reference_steps(params, x, idx[:n_valid], hp, opt)
    fn = train.autoencoder_steps(
        train.Net(("relu",), (0,)), train.Optimizer("adam", 1e-2), steps=5, batch_size=4
    )
    state = train.init_state(jax.tree.map(jnp.copy, params), opt)
    state, parts = fn(state, x, jax.random.PRNGKey(2), n_valid, hp)
    p, s = state.params, state.opt_state
    assert int(state.step) == n_valid
    assert np.isclose(float(parts["loss"]), np.mean(ref_losses), rtol=1e-4)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(ref_p)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
    for a, b in zip(jax.tree.leaves(s), jax.tree.leaves(ref_s)):  # Adam's count and moments
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)


def test_vmapped_steps_mask_every_run_alike():
    """Batched (vmapped) steps with n_valid < steps equal each run's unbatched steps."""
    params = sae.init_params(jax.random.PRNGKey(0), (6, 8, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (20, 6))
    hp = train.hyper(beta=0.5, rho=0.1)
    opt = optax.adam(1e-2)
    args = (train.Net(("relu",), (0,)), train.Optimizer("adam", 1e-2))
    one = train.autoencoder_steps(*args, steps=5, batch_size=4)
    many = train.autoencoder_steps(*args, steps=5, batch_size=4, data_axes=None)
    keys = jnp.stack([jax.random.PRNGKey(7), jax.random.PRNGKey(8)])
    stack = lambda t: jax.tree.map(lambda a: jnp.stack([a, a]), t)
    hps = jax.tree.map(lambda a: jnp.stack([a, a]), hp)
    both, _ = many(stack(train.init_state(params, opt)), x, keys, 2, hps, jnp.ones(2, bool))
    for i in range(2):
        single = train.init_state(jax.tree.map(jnp.copy, params), opt)
        single, _ = one(single, x, keys[i], 2, hp)
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(both)):
            np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)
        assert int(single.opt_state[0].count) == 2 and int(single.step) == 2


def test_vmapped_steps_leave_inactive_runs_unchanged():
    """A run marked inactive comes back exactly as it went in; the active one trains."""
    params = sae.init_params(jax.random.PRNGKey(0), (6, 8, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (20, 6))
    opt = optax.adam(1e-2)
    many = train.autoencoder_steps(
        train.Net(("relu",), (0,)),
        train.Optimizer("adam", 1e-2),
        steps=5,
        batch_size=4,
        data_axes=None,
    )
    start = jax.tree.map(lambda a: jnp.stack([a, a]), train.init_state(params, opt))
    before = jax.tree.map(np.array, start)
    keys = jnp.stack([jax.random.PRNGKey(7), jax.random.PRNGKey(8)])
    hps = jax.tree.map(lambda a: jnp.stack([a, a]), train.hyper(beta=0.5, rho=0.1))
    after, _ = many(start, x, keys, 5, hps, jnp.array([True, False]))
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before)):
        np.testing.assert_array_equal(np.asarray(a)[1], b[1])  # frozen, bit for bit
    assert int(after.step[0]) == 5 and int(after.step[1]) == 0
    w0, w1 = after.params["encoder"][0]["w"], before.params["encoder"][0]["w"]
    assert not np.array_equal(np.asarray(w0)[0], w1[0])  # the active run trained


@pytest.mark.parametrize("n", [100, 4096, 8192, 5000])
def test_chunked_map_sizes(n):
    x = jnp.arange(2.0 * n).reshape(n, 2)
    np.testing.assert_allclose(train.chunked_map(lambda b: b * 3, x, 4096), x * 3)


def test_chunked_map_reads_x_in_place_with_an_overlapping_last_block():
    x = jnp.arange(2 * 4099.0).reshape(4099, 2)
    out = jax.jit(lambda a: train.chunked_map(lambda b: b @ jnp.ones((2, 3)), a, 1000))(x)
    np.testing.assert_allclose(out, x @ jnp.ones((2, 3)))
    hlo = jax.jit(lambda a: train.chunked_map(lambda b: b * 2, a, 1000)).lower(x).as_text()
    assert "pad" not in hlo


def test_refresh_matches_losses():
    key = jax.random.PRNGKey(0)
    ae = sae.init_params(key, (5, 7, 2))
    x = jax.random.normal(key, (50, 5))
    centers = jax.random.normal(jax.random.PRNGKey(3), (4, 2))
    q, p, labels = train.refresh_fn(("relu",), None, 16)({"ae": ae, "centers": centers}, x, 1.0)
    q_ref = losses.soft_assignment(sae.encode(ae, x, ("relu",)), centers)
    np.testing.assert_allclose(q, q_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p, losses.target_distribution(q_ref), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(labels, np.argmax(q_ref, 1))


def test_stacked_pretraining_trains_each_layer_then_finetunes(digits):
    x = digits[0][:512]
    cfg = Config(
        method="dssec",
        hidden_dims=(32, 32, 64),
        embed_dim=5,
        pretrain="stacked",
        sparse_layers=(2,),
        pretrain_epochs=3,
        layerwise_epochs=2,
        batch_size=128,
    )
    ae, hist = pretraining.pretrain(x, cfg, jax.random.PRNGKey(0))
    stages = [h["stage"] for h in hist]
    assert (
        stages
        == ["layer0"] * 2 + ["layer1"] * 2 + ["layer2"] * 2 + ["layer3"] * 2 + ["finetune"] * 3
    )
    assert [layer["w"].shape for layer in ae["encoder"]] == [(64, 32), (32, 32), (32, 64), (64, 5)]
    # layer 2 is penalised: its one-layer stage reports a sparsity term, layer 0 does not
    assert hist[4]["sparsity"] > 0 and hist[0]["sparsity"] == 0
    fin = [h["loss"] for h in hist if h["stage"] == "finetune"]
    assert np.isfinite(fin).all()


def test_pretraining_reduces_reconstruction(digits):
    x = digits[0][:512]
    cfg = Config(method="ae_kmeans", hidden_dims=(64, 64, 128), pretrain_epochs=15, batch_size=64)
    _, hist = pretraining.pretrain(x, cfg, jax.random.PRNGKey(0))
    assert hist[-1]["reconstruction"] < 0.5 * hist[0]["reconstruction"]


def test_clustering_phase_history_and_stopping(digits):
    x, y = digits[0][:600], digits[1][:600]
    cfg = Config(
        method="idec",
        hidden_dims=(64, 64, 128),
        pretrain_epochs=5,
        batch_size=64,
        update_interval=10,
        max_iter=40,
        tol=0.0,
    )
    res = pipeline.fit(x, cfg, 0, y)
    assert res.stop_reason == "max_iter" and res.n_iter == 40
    its = [h["iteration"] for h in res.history]
    assert its == [0, 10, 20, 30, 40]
    for h in res.history[1:]:
        assert {"loss", "reconstruction", "clustering", "delta_label", "acc", "nmi", "ari"} <= set(
            h
        )
    cfg2 = Config(
        **{
            **cfg.to_dict(),
            "hidden_dims": (64, 64, 128),
            "sparse_layers": (2,),
            "tol": 1.0,
            "max_iter": 1000,
        }
    )
    res2 = pipeline.fit(x, cfg2, 0, y)
    assert res2.stop_reason == "tol" and res2.n_iter == 10


def test_embed_std_rescales_the_start_of_the_clustering_phase(digits):
    x = digits[0][:300]
    base = dict(
        method="dssec",
        hidden_dims=(32, 32, 64),
        pretrain_epochs=2,
        batch_size=64,
        max_iter=0,
        n_init=2,
    )
    plain = pipeline.fit(x, Config(**base), 0)
    scaled = pipeline.fit(x, Config(**base, embed_std=3.0), 0)
    assert abs(np.std(scaled.embedding) - 3.0) < 1e-3 and abs(np.std(plain.embedding) - 3.0) > 0.1
    s = 3.0 / np.std(plain.embedding)
    np.testing.assert_allclose(scaled.centers, s * plain.centers, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(scaled.labels, plain.labels)  # K-means is scale-free
    # the decoder absorbs the factor: the rescaled autoencoder reconstructs as before
    recon = [sae.forward(r.ae_params, x, "relu")[1] for r in (plain, scaled)]
    np.testing.assert_allclose(recon[1], recon[0], rtol=1e-4, atol=1e-5)
    assert np.abs(recon[0] - x).mean() < np.abs(x).mean()  # and it is a reconstruction at all


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_kernel_scale_puts_the_median_point_at_squared_distance_alpha(digits, alpha):
    x = digits[0][:300]
    cfg = Config(
        method="dssec",
        hidden_dims=(32, 32, 64),
        pretrain_epochs=2,
        batch_size=64,
        max_iter=0,
        n_init=2,
        embed_std="kernel",
        alpha=alpha,
    )
    res = pipeline.fit(x, cfg, 0)
    d2 = np.sum((res.embedding - res.centers[res.kmeans_labels]) ** 2, axis=1)
    assert abs(np.median(d2) - alpha) < 1e-3 * alpha


def _small_ae(x, seed=0):
    return pretraining.pretrain(
        x,
        Config(method="ae_kmeans", hidden_dims=(32, 32, 64), pretrain_epochs=2, batch_size=64),
        jax.random.PRNGKey(seed),
    )[0]


@pytest.mark.parametrize("method", ["dec", "idec"])
def test_cluster_keeps_the_callers_arrays_and_dec_keeps_the_decoder(digits, method):
    """Donation inside the clustering phase never deletes the caller's parameters, and DEC
    trains the encoder and centres but returns the decoder it was given."""
    x = digits[0][:300]
    ae = _small_ae(x)
    centers = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (10, 10)), np.float32)
    before = jax.tree.map(np.array, ae)
    cfg = Config(
        method=method,
        hidden_dims=(32, 32, 64),
        batch_size=64,
        update_interval=5,
        max_iter=10,
        tol=0.0,
    )
    out = clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(2))
    again = clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(2))  # inputs still usable
    np.testing.assert_array_equal(out["labels"], again["labels"])
    for a, b in zip(jax.tree.leaves(ae), jax.tree.leaves(before)):
        assert not a.is_deleted()
        np.testing.assert_array_equal(np.asarray(a), b)
    dec_same = [
        np.array_equal(a, b)
        for a, b in zip(
            jax.tree.leaves(out["params"]["ae"]["decoder"]), jax.tree.leaves(before["decoder"])
        )
    ]
    enc_same = [
        np.array_equal(a, b)
        for a, b in zip(
            jax.tree.leaves(out["params"]["ae"]["encoder"]), jax.tree.leaves(before["encoder"])
        )
    ]
    assert not any(enc_same)
    assert all(dec_same) if method == "dec" else not any(dec_same)
    if method == "dec":
        assert all(h["reconstruction"] == 0.0 for h in out["history"][1:])


def test_a_last_short_chunk_reuses_the_compiled_step(digits):
    """max_iter not a multiple of update_interval: the last, shorter chunk runs the same
    compiled program with masked steps, and the run stops exactly at max_iter."""
    x = digits[0][:300]
    ae = _small_ae(x)
    centers = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (10, 10)), np.float32)
    cfg = Config(
        method="idec",
        hidden_dims=(32, 32, 64),
        batch_size=64,
        update_interval=7,
        max_iter=17,
        tol=0.0,
    )
    train.clustering_steps.cache_clear()
    out = clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(2))
    assert out["n_iter"] == 17 and [h["iteration"] for h in out["history"]] == [0, 7, 14, 17]
    assert train.clustering_steps.cache_info().currsize == 1  # one step builder ...
    fn = train.clustering_steps(
        train.Net(cfg.hidden_acts()),
        train.Optimizer("adam", 1e-3),
        use_decoder=True,
        steps=7,
        batch_size=64,
        data_axes=train.UNBATCHED,
        mesh=None,
        labelled=False,
    )
    assert (
        train.clustering_steps.cache_info().hits == 1 and fn._cache_size() == 1
    )  # ... compiled once


def test_nonfinite_loss_stops_with_phase(digits):
    x = digits[0][:300] * 1e30
    cfg = Config(method="ae_kmeans", hidden_dims=(32, 32, 64), pretrain_epochs=2, batch_size=64)
    with pytest.raises(NonFiniteLossError, match="pretraining at stage finetune epoch 1"):
        pipeline.fit(x, cfg, 0)


def test_cluster_beta_switch():
    assert Config(method="dssec", beta=0.7).cluster_beta() == 0.7
    assert Config(method="dssec", beta=0.7, cluster_sparsity=False).cluster_beta() == 0.0
    assert Config(method="idec", beta=0.7).cluster_beta() == 0.0


class _CountingStore:
    def __init__(self, min_interval_s):
        self.min_interval_s, self.puts = min_interval_s, []

    def get(self, name):
        return None

    def put(self, name, state, meta):
        self.puts.append(meta["iteration"])


@pytest.mark.parametrize("interval, puts", [(0.0, [5, 10, 15, 20]), (1e9, [20])])
def test_cluster_checkpoints_on_a_time_interval_and_at_the_end(digits, interval, puts):
    x = digits[0][:300]
    ae = _small_ae(x)
    centers = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (10, 10)), np.float32)
    cfg = Config(
        method="idec",
        hidden_dims=(32, 32, 64),
        batch_size=64,
        update_interval=5,
        max_iter=20,
        tol=0.0,
    )
    store = _CountingStore(interval)
    clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(2), store=store)
    assert store.puts == puts


def test_a_clip_norm_bounds_the_pretraining_step_and_leaves_small_gradients_alone():
    """clip_norm scales g to g * min(1, c / ||g||): with plain SGD at learning rate 1 the
    update is -g below the norm and has norm exactly c above it."""
    cfg = Config(pretrain_optimizer="sgd", learning_rate=1.0, pretrain_momentum=0.0)
    opt = dataclasses.replace(cfg, pretrain_clip_norm=2.0).pretrain_opt().build()
    params = {"w": jnp.zeros(4)}
    state = opt.init(params)
    for g, norm in ((jnp.array([3.0, 4.0, 0.0, 0.0]), 2.0), (jnp.array([0.3, 0.4, 0, 0]), 0.5)):
        upd, _ = opt.update({"w": g}, state, params)
        np.testing.assert_allclose(float(jnp.linalg.norm(upd["w"])), norm, rtol=1e-6)
        np.testing.assert_allclose(
            upd["w"] / -jnp.linalg.norm(upd["w"]), g / jnp.linalg.norm(g), rtol=1e-6
        )


@pytest.mark.parametrize(
    "builder",
    [
        train.autoencoder_steps,
        train.layer_steps,
        train.clustering_steps,
        train.stack_fn,
        train.refresh_fn,
    ],
)
def test_compiled_program_caches_are_bounded(builder):
    """A long-lived process (a grid over batch sizes) must not keep every executable."""
    assert builder.cache_info().maxsize == train.COMPILED_CACHE
    builder.cache_clear()
    for b in range(1, 3 * train.COMPILED_CACHE):  # builders are lazy: nothing compiles here
        if builder in (train.stack_fn, train.refresh_fn):
            builder(("relu",), None, b)
        elif builder is train.layer_steps:
            builder(train.Net(("relu",)), train.Optimizer(), layer=0, steps=1, batch_size=b)
        else:
            extra = {"use_decoder": False} if builder is train.clustering_steps else {}
            builder(train.Net(("relu",)), train.Optimizer(), steps=1, batch_size=b, **extra)
    assert builder.cache_info().currsize == train.COMPILED_CACHE  # kept, the oldest evicted
    builder.cache_clear()


def test_the_pure_train_step_serves_a_loop_of_ones_own():
    import functools

    x = jax.random.uniform(jax.random.PRNGKey(0), (64, 20))
    params = sae.init_params(jax.random.PRNGKey(1), (20, 16, 16, 32, 4))
    loss = functools.partial(
        train.autoencoder_loss,
        acts=("relu",) * 3,
        sparse_layers=(0, 1),
        reduction="mean",
        form="ratio",
        compute_dtype=None,
    )
    opt = optax.adam(1e-2)
    hp = train.hyper(beta=1.0)
    step = jax.jit(train.make_train_step(loss, opt, hp))  # train_step(state, batch)
    state = train.init_state(params, opt)
    first = None
    for _ in range(30):
        state, parts = step(state, x)
        first = float(parts["loss"]) if first is None else first
    assert int(state.step) == 30 and float(parts["loss"]) < 0.5 * first
    # one step by hand: the same update
    s0 = train.init_state(params, opt)
    grads = jax.grad(lambda p: loss(p, x, hp)[0])(params)
    upd, _ = opt.update(grads, s0.opt_state, params)
    want = optax.apply_updates(params, upd)
    got = train.make_train_step(loss, opt)(s0, x, hp)[0].params  # hp given per call
    with pytest.raises(ValueError, match="no hyper-parameters"):
        train.make_train_step(loss, opt)(s0, x)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method, beta", [("dssec", 0.7), ("idec", 0.7), ("dec", 0.7)])
def test_the_trained_loss_is_the_methods_formula_of_its_parts(digits, method, beta):
    """The loss the steps minimise, as recorded: pretraining L_rec + beta * Omega (beta
    only for the sparse autoencoder), clustering L_rec + beta * Omega + gamma * L_c for
    DSSEC, beta 0 for IDEC, L_c alone for DEC; a loss that dropped a part fails here."""
    x = digits[0][:300]
    used = {"dssec": dict(beta=beta, gamma=0.3), "idec": dict(gamma=0.3), "dec": {}}[method]
    cfg = Config(method=method, pretrain_epochs=2, update_interval=5, max_iter=10, **used)
    cfg = dataclasses.replace(cfg, tol=0.0, **TINY_NET)
    res = pipeline.fit(x, cfg, 0)
    sparse = method == "dssec"
    pre = res.pretrain_history[-1]
    assert (pre["sparsity"] > 0) == sparse
    want = pre["reconstruction"] + (beta * pre["sparsity"] if sparse else 0.0)
    assert pre["loss"] == pytest.approx(want, rel=1e-4)
    for h in res.history[1:]:
        rec = {"dssec": 1.0, "idec": 1.0, "dec": 0.0}[method]
        want = rec * (h["reconstruction"] + (beta if sparse else 0.0) * h["sparsity"])
        gamma = 1.0 if method == "dec" else 0.3
        assert h["loss"] == pytest.approx(want + gamma * h["clustering"], rel=1e-4)
        assert h["clustering"] > 0 and (h["sparsity"] > 0) == sparse

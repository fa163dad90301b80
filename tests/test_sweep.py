import jax
import numpy as np
import pytest

from dssec_jax import pipeline
from dssec_jax.methods import Config
from dssec_jax.sweep import fit_batched

BASE = dict(
    n_clusters=10,
    hidden_dims=(64, 64, 128),
    pretrain_epochs=4,
    batch_size=128,
    update_interval=10,
    max_iter=40,
    n_init=3,
)


@pytest.mark.parametrize("method, pretrain", [("dssec", "end_to_end"), ("idec", "stacked")])
def test_batched_equals_sequential(digits, method, pretrain):
    x, y = digits[0][:800], digits[1][:800]
    cfgs = [
        Config(method=method, pretrain=pretrain, layerwise_epochs=2, gamma=g, **BASE)
        for g in (0.1, 0.5)
    ]
    seeds = [0, 1]
    batched = fit_batched(x, cfgs, seeds, y=y)
    for cfg, seed, b in zip(cfgs, seeds, batched):
        s = pipeline.fit(x, cfg, seed, y)
        np.testing.assert_allclose(b.kmeans_labels == s.kmeans_labels, True)
        assert np.mean(b.labels == s.labels) > 0.99
        assert b.n_iter == s.n_iter and b.stop_reason == s.stop_reason
        assert b.n_clusters == s.n_clusters == cfg.n_clusters  # results.json reads it
        # float rounding differs between vmapped and single matmuls and grows through Adam
        assert np.max(np.abs(b.embedding - s.embedding)) < 0.02 * np.max(np.abs(s.embedding))
        assert [h["iteration"] for h in b.history] == [h["iteration"] for h in s.history]


def test_per_run_stopping(digits):
    x = digits[0][:600]
    cfgs = [Config(method="idec", tol=t, **{**BASE, "max_iter": 60}) for t in (1.0, 0.0)]
    a, b = fit_batched(x, cfgs, [0, 0])
    assert a.stop_reason == "tol" and a.n_iter == 10
    assert b.stop_reason == "max_iter" and b.n_iter == 60
    # the stopped run is frozen: its returned network is the one at iteration 10, as a
    # single run that stops there returns it (not 50 iterations further on)
    s = pipeline.fit(x, cfgs[0], 0)
    assert s.n_iter == 10
    assert np.max(np.abs(a.embedding - s.embedding)) < 1e-3 * np.max(np.abs(s.embedding))


def test_batched_rejects_mixed_static_settings(digits):
    x = digits[0][:300]
    cfgs = [Config(method="idec", **BASE), Config(method="idec", **{**BASE, "batch_size": 64})]
    with pytest.raises(ValueError, match="may differ only in"):
        fit_batched(x, cfgs, [0, 1])
    with pytest.raises(ValueError, match="one seed per configuration"):
        fit_batched(x, cfgs[:1], [0, 1])


def test_batched_runs_that_a_method_cannot_tell_apart_are_refused(digits):
    x = digits[0][:300]
    cfgs = [Config(method="dec", gamma=g, **BASE) for g in (0.1, 1.0)]
    with pytest.raises(ValueError, match="does not use .*gamma"):
        fit_batched(x, cfgs, [0, 0])
    cfgs = [Config(method="idec", beta=b, **BASE) for b in (0.1, 1.0)]
    with pytest.raises(ValueError, match="does not use .*beta"):
        fit_batched(x, cfgs, [0, 0])


def test_batched_path_takes_layer_sizes_as_lists(digits):
    x = digits[0][:300]
    kw = {**BASE, "hidden_dims": [16, 16, 32], "pretrain_epochs": 1, "max_iter": 10}
    out = fit_batched(x, [Config(method="idec", **kw)] * 2, [0, 1])
    assert len(out) == 2 and out[0].embedding.shape == (300, 10)


def test_each_run_of_a_batch_keeps_its_own_hyper_parameters(digits):
    """Negative control of batched == sequential: gamma 0 and gamma 10 in one batch each
    equal their own sequential run and differ from each other (a batch that gave every run
    the first run's hyper-parameters would pass the plain equality test)."""
    x, y = digits[0][:800], digits[1][:800]
    cfgs = [Config(method="idec", gamma=g, **{**BASE, "max_iter": 30}) for g in (0.0, 10.0)]
    batched = fit_batched(x, cfgs, [0, 0], y=y)
    singles = [pipeline.fit(x, c, 0, y) for c in cfgs]
    for b, s in zip(batched, singles):
        assert np.mean(b.labels == s.labels) > 0.99
        assert np.max(np.abs(b.embedding - s.embedding)) < 0.02 * np.max(np.abs(s.embedding))
    a, b = batched
    assert np.max(np.abs(a.embedding - b.embedding)) > 0.1 * np.max(np.abs(a.embedding))


def _poison(monkeypatch, module, name, when):
    """Make ``module.name``'s loss NaN for runs where ``when(kwargs)`` holds (traced)."""
    import jax.numpy as jnp

    from dssec_jax import train

    real = getattr(module, name)

    def poisoned(*a, **kw):
        total, parts = real(*a, **kw)
        bad = jnp.where(when({"hp": a[2] if len(a) > 2 else None, **kw}), jnp.nan, 1.0)
        return total * bad, {k: v * bad for k, v in parts.items()}

    monkeypatch.setattr(module, name, poisoned)
    for b in (train.autoencoder_steps, train.clustering_steps):
        b.cache_clear()


def test_a_diverging_run_is_frozen_and_the_others_of_its_batch_finish(digits, monkeypatch):
    """One run of a batch turning non-finite in the clustering phase no longer ends the
    batch: it stops ("nonfinite") with its last finite network, the others finish as
    they would alone."""
    from dssec_jax import losses, train

    x, y = digits[0][:600], digits[1][:600]
    cfgs = [Config(method="idec", gamma=g, tol=0.0, **BASE) for g in (0.1, 10.0)]
    alone = pipeline.fit(x, cfgs[0], 0, y)
    _poison(monkeypatch, losses, "dssec_loss", lambda kw: kw["gamma"] > 5)
    good, bad = fit_batched(x, cfgs, [0, 0], y=y)
    assert bad.stop_reason == "nonfinite" and good.stop_reason == "max_iter"
    assert all(np.isfinite(a).all() for a in jax.tree.leaves(bad.ae_params))
    assert np.isfinite(bad.embedding).all() and bad.history[-1]["nonfinite_at"] == [0, 10]
    assert np.mean(good.labels == alone.labels) > 0.99
    monkeypatch.undo()
    train.clustering_steps.cache_clear()


def test_a_run_diverging_in_pretraining_is_frozen_there(digits, monkeypatch):
    from dssec_jax import train

    x = digits[0][:600]
    cfgs = [Config(method="dssec", rho=r, **BASE) for r in (0.05, 0.3)]
    _poison(monkeypatch, train, "autoencoder_loss", lambda kw: kw["hp"]["rho"] > 0.2)
    good, bad = fit_batched(x, cfgs, [0, 0])
    assert bad.stop_reason == "nonfinite" and good.stop_reason in ("tol", "max_iter")
    assert np.isfinite(bad.embedding).all()
    monkeypatch.undo()
    train.autoencoder_steps.cache_clear()
    alone = pipeline.fit(x, cfgs[0], 0)
    assert np.mean(good.labels == alone.labels) > 0.99


def test_a_batch_checkpoint_of_another_batch_is_not_resumed(digits, tmp_path):
    from dssec_jax import checkpoint

    x = digits[0][:300]
    kw = {**BASE, "pretrain_epochs": 2, "max_iter": 10}
    store = checkpoint.FileStore(tmp_path, tmp_path, "batch", min_interval_s=0)
    a = fit_batched(
        x, [Config(method="idec", gamma=g, **kw) for g in (0.1, 0.5)], [0, 0], store=store
    )
    assert checkpoint.load(store.path("batched_pretrained")) is not None
    other = [Config(method="idec", gamma=g, **kw) for g in (0.1, 0.5)]
    with pytest.warns(UserWarning, match="belongs to another batch"):
        b = fit_batched(x, other, [1, 1], store=store)
    fresh = fit_batched(x, other, [1, 1])  # what seeds 1 give when trained afresh
    np.testing.assert_array_equal(b[0].embedding, fresh[0].embedding)
    assert not np.array_equal(a[0].embedding, b[0].embedding)


def test_a_batch_checkpoint_made_on_other_data_of_the_same_shape_is_not_resumed(digits, tmp_path):
    """The same settings and seeds on other data (a corrupted copy, say) in the same store:
    the first data's autoencoders are dropped, not reused."""
    from dssec_jax import checkpoint

    x = digits[0][:300]
    noisy = np.clip(x + np.random.default_rng(0).normal(0, 0.3, x.shape), 0, 1).astype(np.float32)
    cfgs = [
        Config(method="idec", gamma=g, **{**BASE, "pretrain_epochs": 2, "max_iter": 10})
        for g in (0.1, 0.5)
    ]
    store = checkpoint.FileStore(tmp_path, tmp_path, "batch", min_interval_s=0)
    fit_batched(x, cfgs, [0, 0], store=store)
    with pytest.warns(UserWarning, match="belongs to another batch"):
        b = fit_batched(noisy, cfgs, [0, 0], store=store)
    fresh = fit_batched(noisy, cfgs, [0, 0])
    np.testing.assert_array_equal(b[0].embedding, fresh[0].embedding)


def test_a_batch_checkpoint_of_another_layout_is_dropped_not_fatal(digits, tmp_path):
    """A checkpoint of this batch that no longer fits its state (another version's layout)
    is reported and dropped, and the phase starts afresh, as for a single run."""
    from dssec_jax import checkpoint

    x = digits[0][:300]
    cfgs = [
        Config(method="idec", gamma=g, **{**BASE, "pretrain_epochs": 2, "max_iter": 10})
        for g in (0.1, 0.5)
    ]
    store = checkpoint.FileStore(tmp_path, tmp_path, "batch", min_interval_s=0)
    a = fit_batched(x, cfgs, [0, 0], store=store)
    path = store.path("batched_pretrained")
    meta, raw = checkpoint.load(path)
    raw["alive"] = np.ones(5, bool)  # two runs in the batch: a leaf of another shape
    checkpoint.save(path, raw, meta)
    with pytest.warns(UserWarning, match="does not fit"):
        b = fit_batched(x, cfgs, [0, 0], store=store)
    np.testing.assert_array_equal(a[0].labels, b[0].labels)  # trained afresh, the same

"""Behaviours the other tests leave out: greedy pretraining freezes the layers below and
resumes across a stage boundary; the tol stop on a fractional label change; a full bf16
fit; predictions on data the model has not seen."""

import dataclasses

import jax
import numpy as np
import pytest
from conftest import TINY_NET

from dssec_jax import DSSEC, cluster_acc, pipeline, pretraining
from dssec_jax.checkpoint import FileStore
from dssec_jax.methods import Config

STACKED = Config(
    method="sae_kmeans",
    hidden_dims=(32, 32, 64),
    embed_dim=5,
    pretrain="stacked",
    layerwise_epochs=2,
    pretrain_epochs=2,
    batch_size=64,
)


class Killed(Exception):
    pass


class RecordingStore(FileStore):
    """Keeps the autoencoder of every pretraining checkpoint; raises Killed right after
    writing the one whose next stage is ``kill_before_stage``."""

    def __init__(self, root, kill_before_stage=None):
        super().__init__(root, root, "k", min_interval_s=1e9)  # stage ends only
        self.saved, self.kill_before_stage = [], kill_before_stage

    def put(self, name, state, meta):
        super().put(name, state, meta)
        if name == "pretrain_progress":
            self.saved.append((meta["stage"], jax.device_get(state.params)))
            if meta["stage"] == self.kill_before_stage:
                raise Killed


def _leaves_equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_greedy_pretraining_freezes_the_layers_below(digits, tmp_path):
    x = digits[0][:300]
    store = RecordingStore(tmp_path)
    pretraining.pretrain(x, STACKED, jax.random.PRNGKey(0), store=store)
    after = [ae for _, ae in store.saved]  # after stage layer0, layer1, layer2, layer3
    assert [s for s, _ in store.saved] == [1, 2, 3, 4]
    for s in range(1, 4):
        for j in range(s):  # the layers trained before stage s are left as they were
            assert _leaves_equal(after[s]["encoder"][j], after[s - 1]["encoder"][j])
            assert _leaves_equal(after[s]["decoder"][-1 - j], after[s - 1]["decoder"][-1 - j])
        assert not _leaves_equal(after[s]["encoder"][s], after[s - 1]["encoder"][s])  # trained
        for j in range(s + 1, 4):  # the layers above are untouched so far
            assert _leaves_equal(after[s]["encoder"][j], after[0]["encoder"][j])


def test_greedy_pretraining_resumes_across_a_stage_boundary(digits, tmp_path):
    x = digits[0][:300]
    ref, _ = pretraining.pretrain(
        x, STACKED, jax.random.PRNGKey(0), store=RecordingStore(tmp_path / "a")
    )
    with pytest.raises(Killed):  # stopped right after stage layer1 ended
        pretraining.pretrain(
            x,
            STACKED,
            jax.random.PRNGKey(0),
            store=RecordingStore(tmp_path / "b", kill_before_stage=2),
        )
    records = []
    resumed, _ = pretraining.pretrain(
        x, STACKED, jax.random.PRNGKey(0), store=RecordingStore(tmp_path / "b"), log=records.append
    )
    assert {"event": "pretrain_resumed", "stage": "layer2", "epoch": 0} in records
    assert _leaves_equal(resumed, ref)


def test_a_checkpoint_of_an_older_layout_is_dropped_and_pretraining_starts_afresh(digits, tmp_path):
    """The pretraining checkpoint before TrainState ({"ae", "opt_state"}) does not fit: it
    is reported, dropped, and the run gives what a fresh run gives."""
    x = digits[0][:300]
    cfg = Config(method="ae_kmeans", pretrain_epochs=2, **TINY_NET)
    fresh, _ = pretraining.pretrain(x, cfg, jax.random.PRNGKey(0))
    store = FileStore(tmp_path, tmp_path, "k")
    old = {"ae": jax.tree.map(np.zeros_like, fresh), "opt_state": np.zeros(3)}
    store.put("pretrain_progress", old, {"stage": 0, "epoch": 1, "history": []})
    with pytest.warns(UserWarning, match="dropped: that phase starts afresh"):
        again, hist = pretraining.pretrain(x, cfg, jax.random.PRNGKey(0), store=store)
    assert _leaves_equal(again, fresh) and len(hist) == 2
    assert store.get("pretrain_progress") is None


def test_a_partial_pretraining_with_other_settings_is_refused_not_resumed(digits, tmp_path):
    """A run killed in pretraining, restarted under the same store key with another
    learning rate or another schedule: its progress names the settings and is refused."""
    from dssec_jax.checkpoint import CheckpointError

    x = digits[0][:300]
    with pytest.raises(Killed):  # stopped right after stage layer1 ended
        pretraining.pretrain(
            x, STACKED, jax.random.PRNGKey(0), store=RecordingStore(tmp_path, kill_before_stage=2)
        )
    store = RecordingStore(tmp_path)
    assert store.get("pretrain_progress")[0]["settings"]["learning_rate"] == STACKED.learning_rate
    slower = dataclasses.replace(STACKED, learning_rate=STACKED.learning_rate / 2)
    with pytest.raises(CheckpointError, match="other settings .*learning_rate"):
        pretraining.pretrain(x, slower, jax.random.PRNGKey(0), store=store)
    meta, raw = store.get("pretrain_progress")
    del meta["settings"]  # a record from before progress named its settings: not checked
    FileStore(tmp_path / "old", tmp_path / "old", "k").put("pretrain_progress", raw, meta)
    records, old = [], RecordingStore(tmp_path / "old")
    pretraining.pretrain(x, STACKED, jax.random.PRNGKey(0), store=old, log=records.append)
    assert {"event": "pretrain_resumed", "stage": "layer2", "epoch": 0} in records
    FileStore(tmp_path, tmp_path, "k").put("pretrain_progress", raw, {**meta, "stage": 4})
    with pytest.raises(CheckpointError, match="at stage 4 of a pretraining with other stages"):
        pretraining.pretrain(
            x,
            dataclasses.replace(STACKED, pretrain="end_to_end"),
            jax.random.PRNGKey(0),
            store=store,
        )


def test_the_tol_stop_acts_on_the_fraction_of_changed_labels(digits):
    cfg = Config(
        method="idec",
        hidden_dims=(32, 32, 64),
        pretrain_epochs=5,
        batch_size=64,
        update_interval=10,
        max_iter=2000,
        tol=0.02,
        n_init=2,
    )
    res = pipeline.fit(digits[0], cfg, 0)
    deltas = np.array([h["delta_label"] for h in res.history[1:]])
    assert res.stop_reason == "tol" and res.n_iter < cfg.max_iter
    assert deltas[-1] < 0.02 and np.all(deltas[:-1] >= 0.02)
    # fractions of the 1,797 labels, not counts: each is k / 1797 for an integer k
    changed = deltas * len(digits[0])
    assert np.all(deltas <= 1) and np.allclose(changed, np.round(changed), atol=1e-6)
    assert np.any((changed > 1) & (deltas < 1))


def test_a_full_bf16_fit(digits):
    x, y = digits
    kw = dict(
        n_clusters=10,
        hidden_dims=(64, 64, 128),
        pretrain_epochs=10,
        max_iter=300,
        n_init=3,
        random_state=0,
    )
    bf16 = DSSEC(precision="bf16", **kw).fit(x, y)
    f32 = DSSEC(**kw).fit(x, y)
    assert bf16.transform(x).dtype == np.float32 and np.all(np.isfinite(bf16.transform(x)))
    assert bf16.pretrain_history_[0]["loss"] != f32.pretrain_history_[0]["loss"]  # not ignored
    rec = {
        p: [h["reconstruction"] for h in e.pretrain_history_]
        for p, e in (("bf16", bf16), ("f32", f32))
    }
    assert rec["bf16"][-1] < 0.5 * rec["bf16"][0]  # it learns,
    assert rec["bf16"][-1] < 1.25 * rec["f32"][-1], rec  # about as well as float32
    # one seed at this budget says little about accuracy (the paper-budget runs measure that); it clusters
    assert cluster_acc(y, bf16.labels_) > 0.5 and bf16.n_iter_ > 0


def test_predict_on_data_the_model_has_not_seen(digits):
    x, y = digits
    est = DSSEC(
        n_clusters=10,
        hidden_dims=(64, 64, 128),
        pretrain_epochs=20,
        max_iter=300,
        n_init=3,
        random_state=0,
    ).fit(x[:1200])
    new = est.predict(x[1200:])
    # Student's t falls with the distance: each new row goes to its nearest centre
    z = est.transform(x[1200:])
    nearest = np.argmin(((z[:, None] - est.cluster_centers_) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(new, nearest)
    train_acc, new_acc = cluster_acc(y[:1200], est.labels_), cluster_acc(y[1200:], new)
    assert new_acc > 0.5 and abs(new_acc - train_acc) < 0.1, (train_acc, new_acc)


def test_one_cluster_is_a_valid_request(digits):
    est = DSSEC(
        n_clusters=1,
        hidden_dims=(32, 32, 64),
        pretrain_epochs=2,
        max_iter=30,
        n_init=2,
        random_state=0,
    ).fit(digits[0][:200])
    assert set(est.labels_) == {0} and est.cluster_centers_.shape == (1, 10)
    np.testing.assert_allclose(est.soft_assign(digits[0][:5]), 1.0)


def test_a_clustering_checkpoint_of_another_run_is_refused(digits, tmp_path):
    x = digits[0][:300]
    store = FileStore(tmp_path, tmp_path, "k", min_interval_s=0.0)
    base = dict(
        hidden_dims=(32, 32, 64),
        pretrain_epochs=2,
        batch_size=64,
        max_iter=20,
        update_interval=10,
        tol=0.0,
        n_init=2,
    )
    first = pipeline.fit(x, Config(n_clusters=10, **base), 0, store=store)
    again = pipeline.fit(x, Config(n_clusters=10, **base), 0, store=store)  # resumes: same run
    np.testing.assert_array_equal(first.labels, again.labels)
    with pytest.raises(ValueError, match="belongs to another run"):
        pipeline.fit(x, Config(n_clusters=11, **base), 0, store=store)
    # same settings and data shape, another seed (the store's key names it): not resumed
    other_seed = FileStore(tmp_path, tmp_path, "k-seed1", min_interval_s=0.0)
    with pytest.raises(ValueError, match="belongs to another run"):
        pipeline.fit(x, Config(n_clusters=10, **base), 1, store=other_seed)


def test_a_store_key_reused_for_another_seed_or_other_data_is_refused(digits, tmp_path):
    """One store made by hand and passed to runs of two seeds (or two datasets of one
    shape): the second is refused, not given the first's autoencoder or clustering."""
    from dssec_jax import clustering
    from dssec_jax.checkpoint import CheckpointError

    x = digits[0][:300]
    budget = dict(pretrain_epochs=2, max_iter=20, update_interval=10, tol=0.0, n_init=2)
    cfg = Config(n_clusters=10, **budget, **TINY_NET)
    store = FileStore(tmp_path, tmp_path, "k", min_interval_s=0.0)
    first = pipeline.fit(x, cfg, 0, store=store)
    np.testing.assert_array_equal(pipeline.fit(x, cfg, 0, store=store).labels, first.labels)
    for seed, data in ((1, x), (0, x[::-1].copy())):
        with pytest.raises(CheckpointError, match="pretrained on other data or from another"):
            pipeline.fit(data, cfg, seed, store=store)
    ae, _ = pretraining.pretrain(x, cfg, jax.random.PRNGKey(5))
    centers = np.zeros((cfg.k, cfg.embed_dim), np.float32)
    mine = FileStore(tmp_path / "c", tmp_path / "c", "k", min_interval_s=0.0)
    clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(0), store=mine)
    with pytest.raises(ValueError, match="belongs to another run"):
        clustering.cluster(x, ae, centers, cfg, jax.random.PRNGKey(1), store=mine)


def test_numpy_typed_settings_fit_and_save(digits, tmp_path):
    # as a grid search hands them over: numpy scalars and arrays
    est = DSSEC(
        n_clusters=np.int64(10),
        max_iter=np.int64(20),
        hidden_dims=np.array([32, 32, 64]),
        pretrain_epochs=np.int64(2),
        gamma=np.float64(0.1),
        n_init=2,
        random_state=np.int64(0),
    ).fit(digits[0][:300])
    est.save(tmp_path / "m.dssec")
    np.testing.assert_array_equal(
        DSSEC.load(tmp_path / "m.dssec").predict(digits[0][:50]), est.predict(digits[0][:50])
    )


def test_bf16_refreshes_report_labels_of_a_last_float32_pass(digits, monkeypatch):
    """refresh_precision="bf16": the targets come from bf16 passes, but the labels returned
    are argmax Q of the final parameters in float32, as ``predict`` computes them, in the
    single and the batched path (the last pass is called once in each)."""
    from dssec_jax import clustering, soft_assignment
    from dssec_jax.sweep import fit_batched

    calls = []
    real = clustering.final_refresh

    def counted(ph, batched=False):
        fn = real(ph, batched)
        if fn is not None:
            calls.append(batched)
        return fn

    monkeypatch.setattr(clustering, "final_refresh", counted)
    x = digits[0][:400]
    budget = dict(pretrain_epochs=3, update_interval=10, max_iter=40, tol=0.0)
    cfg = Config(method="dssec", refresh_precision="bf16", **TINY_NET, **budget)
    same = (Config(), Config(refresh_precision="float32"))
    assert all(real(clustering.phase(c)) is None for c in same)
    single = pipeline.fit(x, cfg, 0)
    (batched,) = fit_batched(x, [cfg], [0])
    assert calls == [False, True]
    for res in (single, batched):
        q = soft_assignment(res.embedding, res.centers, alpha=cfg.alpha)
        np.testing.assert_array_equal(res.labels, np.argmax(np.asarray(q), axis=1))
        assert res.n_iter == 40 and 0 <= res.history[-1]["final_pass_label_change"] <= 1

"""Known labels: LCAE+K-means and the label term of every autoencoder method."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_experiments import TINY, run

from dssec_jax import DSSEC, Config, fit, losses, pretraining, sae, train
from dssec_jax.labels import digest, label_data, reveal
from dssec_jax.metrics import cluster_acc
from dssec_jax.sweep import fit_batched
from dssec_jax.validation import check_config


def toy(n=400, seed=0):
    """Two classes told apart by 2 weak inputs; 8 strong inputs split the data another way.
    A 1-d code that only reconstructs keeps the strong split."""
    rng = np.random.default_rng(seed)
    cls, nuisance = rng.integers(0, 2, n), rng.integers(0, 2, n)
    x = np.concatenate(
        [
            np.where(nuisance[:, None] == 1, 3.0, -3.0) * np.ones((n, 8)),
            np.where(cls[:, None] == 1, 0.5, -0.5) * np.ones((n, 2)),
        ],
        axis=1,
    )
    return (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32), cls


TOY = dict(
    n_clusters=2,
    embed_dim=1,
    hidden_dims=(16,),
    sparse_layers=(0,),
    pretrain_epochs=60,
    batch_size=64,
    n_init=5,
    label_weight=100.0,
)


def test_reveal_is_stratified_seeded_and_leaves_the_rest_unknown():
    y = np.repeat(np.arange(4), [100, 50, 20, 3])
    a, b, c = reveal(y, 0.1, seed=1), reveal(y, 0.1, seed=1), reveal(y, 0.1, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    known = a >= 0
    assert np.all(a[known] == y[known]) and np.all(a[~known] == -1)
    assert np.bincount(y[known]).tolist() == [10, 5, 2, 1]  # at least one of each class
    assert digest(a) == digest(b) != digest(c)
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\)"):
        reveal(y, 1.0)
    for bad in ([-1, -1, 1, 1], [0.0, 1.0]):  # a class -1 would read as unknown
        with pytest.raises(ValueError, match="y must hold class indices 0..K-1"):
            reveal(bad, 0.5)
    # nested: a larger share of the same seed knows every label a smaller one knows
    few, more = reveal(y, 0.05, seed=1), reveal(y, 0.2, seed=1)
    assert np.all(more[few >= 0] == few[few >= 0]) and (more >= 0).sum() > (a >= 0).sum()
    assert np.all(more[a >= 0] == a[a >= 0]) and np.all(a[few >= 0] == few[few >= 0])
    # no class of several samples is given whole, so each keeps samples to score on
    y = np.array([0, 0, 1, 1, 1, 2])
    high = reveal(y, 0.9, seed=0)
    assert np.bincount(y[high < 0], minlength=3).tolist() == [1, 1, 0]  # a class of one: known
    assert set(high[high >= 0].tolist()) == {0, 1, 2}


def test_the_label_term_is_the_mean_squared_error_of_the_linear_map():
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(size=(6, 3)), jnp.float32)
    lm = {"w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32), "b": jnp.ones(4) * 0.1}
    onehot = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 0]]
    pred = np.asarray(z) @ np.asarray(lm["w"]) + 0.1
    want = np.mean(np.sum((onehot - pred) ** 2, axis=1))
    assert float(losses.label_loss(z, lm, onehot)) == pytest.approx(want, rel=1e-5)


def test_label_data_pairs_every_batch_with_known_rows_only():
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    known = np.array([-1, 2, -1, -1, 0, -1, -1, -1, -1, -1])
    rows, onehot = label_data(known, 3)
    assert rows.shape == (10,) and rows.dtype == np.int32 and onehot.shape == (10, 3)
    assert set(rows.tolist()) == {1, 4}  # rows 1 and 4, in turn
    assert np.bincount(rows, minlength=5)[[1, 4]].tolist() == [5, 5]
    np.testing.assert_array_equal(onehot.argmax(1), np.where(rows == 1, 2, 0))
    batch = train.labelled_batch((jnp.asarray(x), rows, onehot), jnp.asarray([0, 3, 6]))
    np.testing.assert_array_equal(batch[0], x[[0, 3, 6]])  # every sample, as drawn
    np.testing.assert_array_equal(batch[1], x[rows[[0, 3, 6]]])  # known ones only
    np.testing.assert_array_equal(batch[2], onehot[[0, 3, 6]])


def test_the_extra_copies_of_known_rows_are_not_the_first_classes():
    """1440 class-sorted samples of 20 classes, 7 known per class: the 140 known rows fill
    1440 places, 40 of them once more. In index order those 40 were the first 6 classes' rows
    (10 % more weight on those classes); drawn at random they fall across the classes."""
    y = np.repeat(np.arange(20), 72)
    known = np.full(y.shape, -1)
    for c in range(20):
        known[c * 72 : c * 72 + 7] = c
    rows, onehot = label_data(known, 20)
    copies = np.bincount(rows, minlength=y.size)[known >= 0]
    assert sorted(set(copies.tolist())) == [10, 11] and (copies == 11).sum() == 40
    extra_classes = set(y[np.flatnonzero(known >= 0)[copies == 11]].tolist())
    assert len(extra_classes) >= 15, extra_classes
    np.testing.assert_array_equal(onehot.argmax(1), y[rows])


def test_unknown_rows_take_no_part_in_the_label_term():
    """The label term's value and gradient on a minibatch do not move when the samples
    whose label is unknown change (the batch of known rows is gathered from x itself)."""
    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(method="lcae_kmeans", **TOY)
    params = sae.init_params(jax.random.PRNGKey(0), cfg.dims(x.shape[1]))
    params["label_map"] = sae.init_layer(jax.random.PRNGKey(1), 1, 2)
    rows, onehot = label_data(known, 2)
    hp = pretraining.hyper(cfg, labelled=True)
    bidx = jnp.arange(64)

    def label_part(p, data):
        batch = train.labelled_batch(data, bidx)
        return train.autoencoder_loss(p, batch, hp, **cfg.net()._asdict(), labelled=True)[1][
            "labels"
        ]

    other = x.copy()
    other[known < 0] += 100.0
    a, ga = jax.value_and_grad(label_part)(params, (jnp.asarray(x), rows, onehot))
    b, gb = jax.value_and_grad(label_part)(params, (jnp.asarray(other), rows, onehot))
    assert float(a) == float(b) and float(a) > 0
    for u, v in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_array_equal(u, v)
    total = jax.grad(
        lambda p, d: train.autoencoder_loss(
            p, train.labelled_batch(d, bidx), hp, **cfg.net()._asdict(), labelled=True
        )[0]
    )
    assert any(  # the whole loss does see them: the test can tell the two apart
        not np.array_equal(u, v)
        for u, v in zip(
            jax.tree.leaves(total(params, (jnp.asarray(x), rows, onehot))),
            jax.tree.leaves(total(params, (jnp.asarray(other), rows, onehot))),
        )
    )


def test_the_label_term_trains_finite_under_the_strong_recipe():
    from sklearn.datasets import load_digits

    from dssec_jax.presets import recipe_config

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    for fraction in (0.01, 0.1):  # weighting the known rows of a batch by n / n_known, or
        # the weight 1, made this non-finite in the first epoch
        cfg = recipe_config("strong", "lcae_kmeans", n_clusters=10, pretrain_epochs=8, n_init=2)
        res = fit(x, cfg, seed=0, known=reveal(y, fraction, seed=0))
        first, last = res.pretrain_history[0], res.pretrain_history[-1]
        assert np.isfinite(last["loss"]) and last["labels"] < first["labels"]


def test_known_labels_pull_the_code_to_the_classes_where_reconstruction_alone_fails():
    x, cls = toy()
    plain = fit(x, Config(method="ae_kmeans", **TOY), seed=0)
    lcae = fit(x, Config(method="lcae_kmeans", **TOY), seed=0, known=reveal(cls, 0.1, seed=0))
    assert cluster_acc(cls, plain.labels) < 0.6  # the code keeps the strong split
    assert cluster_acc(cls, lcae.labels) > 0.95
    assert "labels" in lcae.pretrain_history[-1] and "labels" not in plain.pretrain_history[-1]
    assert set(lcae.ae_params) == {"encoder", "decoder"}  # the label map is not kept


def test_all_labels_unknown_is_the_unsupervised_run_bit_for_bit():
    """Known labels all -1 take the unsupervised path (``check_known`` drops them)."""
    x, _ = toy(n=200)
    cfg = Config(method="dssec", **{**TOY, "pretrain_epochs": 3}, max_iter=20, update_interval=10)
    a = fit(x, cfg, seed=0)
    b = fit(x, cfg, seed=0, known=np.full(len(x), -1))
    np.testing.assert_array_equal(a.labels, b.labels)
    for u, v in zip(jax.tree.leaves(a.ae_params), jax.tree.leaves(b.ae_params)):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert a.pretrain_history == b.pretrain_history
    # without labels the compiled steps get exactly the hyper-parameters they had before
    assert set(pretraining.hyper(cfg)) == {"gamma", "beta", "rho", "alpha"}
    assert set(pretraining.hyper(cfg, labelled=True)) == {
        "gamma",
        "beta",
        "rho",
        "alpha",
        "label_weight",
    }


def test_without_labels_the_steps_minimise_the_papers_losses_alone():
    """The unlabelled pretraining and clustering losses, value and gradient, are exactly
    those written from the public pure functions: nothing of the label term enters a run
    that knows no labels."""
    x = jax.random.uniform(jax.random.key(0), (32, 8))
    params = sae.init_params(jax.random.key(1), (8, 6, 6, 12, 3))
    centers = jax.random.normal(jax.random.key(2), (4, 3))
    p = losses.target_distribution(jax.random.dirichlet(jax.random.key(3), jnp.ones(4), (32,)))
    hp = {"gamma": 0.3, "beta": 0.7, "rho": 0.05, "alpha": 1.0}
    net = dict(acts=("relu",) * 3, sparse_layers=(0, 2), reduction="mean", form="ratio")

    def paper(ae, centers, use_decoder=True, with_clustering=True):
        z, x_hat, hidden = sae.forward(ae, x, net["acts"])
        penalty = losses.sparsity_penalty([hidden[0], hidden[2]], rho=0.05, form="ratio")
        rec = losses.reconstruction_loss(x, x_hat) + 0.7 * penalty
        if not with_clustering:
            return rec
        kl = losses.clustering_kl(p, losses.soft_assignment(z, centers))
        return (rec if use_decoder else 0.0) + 0.3 * kl

    def same(ours, ref, args):
        (v, _), g = jax.value_and_grad(ours, has_aux=True)(args)
        rv, rg = jax.value_and_grad(ref)(args)
        assert float(v) == float(rv)
        assert jax.tree.structure(g) == jax.tree.structure(rg)
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(rg)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    same(
        lambda ae: train.autoencoder_loss(ae, x, hp, **net, compute_dtype=None),
        lambda ae: paper(ae, None, with_clustering=False),
        params,
    )
    for use_decoder in (True, False):
        ps = {"ae": params if use_decoder else {"encoder": params["encoder"]}, "centers": centers}
        same(
            lambda ps: train.clustering_loss(
                ps, (x, p), hp, **net, use_decoder=use_decoder, compute_dtype=None
            ),
            lambda ps: paper({**params, **ps["ae"]}, ps["centers"], use_decoder),
            ps,
        )


@pytest.mark.parametrize(
    "method, kw",
    [
        ("ae_kmeans", {}),
        ("sae_kmeans", {"pretrain": "stacked", "layerwise_epochs": 2}),
        ("dec", {}),
        ("idec", {}),
    ],
)
def test_every_autoencoder_method_trains_with_the_label_term(method, kw):
    """The label term in the pretraining of every method (in greedy pretraining, its
    fine-tuning) and in the clustering phase of DEC (encoder only) and IDEC."""
    x, cls = toy(n=200)
    cfg = Config(
        method=method, **{**TOY, "pretrain_epochs": 3}, max_iter=40, update_interval=20, **kw
    )
    res = fit(x, cfg, seed=0, known=reveal(cls, 0.1, seed=0))
    assert "labels" in res.pretrain_history[-1], res.pretrain_history[-1]
    tuned = [h["labels"] for h in res.pretrain_history if "labels" in h]
    assert len(tuned) >= 2 and tuned[-1] < 0.8 * tuned[0], tuned  # it trains the code
    refreshes = [h for h in res.history if h["iteration"] > 0]
    if method in ("dec", "idec"):
        assert refreshes and all("labels" in h and np.isfinite(h["labels"]) for h in refreshes)


def test_the_label_term_serves_the_other_autoencoder_methods_and_their_cache_key():
    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(method="dssec", **{**TOY, "pretrain_epochs": 3}, max_iter=20, update_interval=10)
    res = fit(x, cfg, seed=0, known=known)
    assert "labels" in res.pretrain_history[0] and res.history
    assert cfg.pretrain_hash("d", 0) != cfg.pretrain_hash("d", 0, digest(known))
    other_k = Config(method="dssec", **{**TOY, "n_clusters": 3})  # another label map
    assert other_k.pretrain_hash("d", 0, digest(known)) != cfg.pretrain_hash("d", 0, digest(known))
    assert cfg.pretrain_hash("d", 0, digest(known)) != cfg.pretrain_hash(
        "d", 0, digest(reveal(cls, 0.1, seed=1))
    )
    lighter = dataclasses.replace(cfg, label_weight=0.03)  # the recipes' weights differ
    assert lighter.pretrain_hash("d", 0, digest(known)) != cfg.pretrain_hash("d", 0, digest(known))
    assert lighter.pretrain_hash("d", 0) == cfg.pretrain_hash("d", 0)  # unused without labels


@pytest.mark.parametrize(
    "method, known, kw, message",
    [
        ("lcae_kmeans", None, {}, "needs known labels"),
        ("lcae_kmeans", np.full(200, -1), {}, "needs known labels"),
        ("lcae_kmeans", np.full(199, 0), {}, "got 199 known labels for 200 samples"),
        ("lcae_kmeans", np.r_[np.full(199, -1), 2], {}, r"known labels \[2\] lie outside 0..1"),
        ("lcae_kmeans", np.r_[np.full(199, -1), -3], {}, r"known labels \[-3\] lie outside"),
        ("lcae_kmeans", np.r_[np.full(199, -1.0), 0.5], {}, "must be integers, got 0.5"),
        ("lcae_kmeans", np.r_[np.full(199, -1.0), np.nan], {}, "must be integers, got nan"),
        ("lcae_kmeans", np.r_[np.full(199, -1.0), np.inf], {}, "must be integers, got inf"),
        ("kmeans", np.r_[np.full(199, -1), 1], {"label_weight": 0.1}, "has no autoencoder"),
        (
            "pca_kmeans",
            np.r_[np.full(199, -1), 1],
            {"embed_dim": 2, "label_weight": 0.1},
            "has no autoencoder",
        ),
        ("dssec", np.r_[np.full(199, -1), 1], {"label_weight": 0.0}, "label_weight=0"),
        ("dssec", np.r_[np.full(199, -1), 1], {"n_clusters": "auto"}, "fixed n_clusters"),
    ],
)
def test_ambiguous_known_labels_are_refused(method, known, kw, message):
    x, _ = toy(n=200)
    cfg = Config(method=method, **{**TOY, **kw})
    with pytest.raises(ValueError, match=message):
        fit(x, cfg, seed=0, known=known)


def test_the_estimator_keeps_known_labels_apart_from_evaluation_labels():
    x, cls = toy(n=200)
    est = DSSEC(method="lcae_kmeans", random_state=0, **{**TOY, "pretrain_epochs": 2})
    with pytest.raises(ValueError, match="needs known labels"):
        est.fit(x, cls)  # y is for the metrics only
    est.fit(x, cls, known_labels=reveal(cls, 0.1, seed=0))
    assert est.labels_.shape == (200,)
    # a clustering phase's records score the samples not given too
    given = reveal(cls, 0.1, seed=0)
    dssec = DSSEC(method="dssec", random_state=0, **{**TOY, "pretrain_epochs": 2, "max_iter": 40})
    last = dssec.fit(x, cls, known_labels=given).history_[-1]
    rest = given == -1
    assert last["acc_unknown"] == cluster_acc(cls[rest], dssec.labels_[rest])
    # the weight the strong recipe applies to a labelled run is what the fit records
    toy_defaults = {k: v for k, v in TOY.items() if k != "label_weight"}
    strong = DSSEC(method="lcae_kmeans", random_state=0, recipe="strong", **toy_defaults)
    strong.set_params(pretrain_epochs=2, learning_rate=0.01)  # the toy diverges at 1
    strong.fit(x, known_labels=reveal(cls, 0.1, seed=0))
    assert strong.get_params()["label_weight"] == 0.1  # the argument, as given
    assert (
        strong.settings_["label_weight"] == 0.03 and strong.settings_["init"] == "variance_scaling"
    )
    assert est.settings_["label_weight"] == 100.0  # a weight passed wins
    with pytest.raises(ValueError, match="asks for known labels and none were given"):
        fit(x, Config(method="dssec", **TOY, label_fraction=0.1), seed=0)
    with pytest.raises(ValueError, match="pass known_labels= to fit"):
        DSSEC(method="lcae_kmeans", label_fraction=0.1, **TOY).fit(x, cls)
    with pytest.raises(ValueError, match="cannot use known labels; set label_fraction=0"):
        DSSEC(method="pca_kmeans", label_fraction=0.1).fit(x, cls, known_labels=cls)
    with pytest.raises(ValueError, match=r"records a share the known labels do not have \(100 "):
        DSSEC(method="lcae_kmeans", label_fraction=0.1, **TOY).fit(
            x, known_labels=reveal(cls, 0.5, seed=0)
        )
    with pytest.raises(ValueError, match="batched runs take no known labels"):
        fit_batched(x, [Config(method="lcae_kmeans", **TOY)] * 2, [0, 1])
    known = reveal(cls, 0.1, seed=0)
    with pytest.raises(ValueError, match="not a mask of which are known"):
        fit(x, Config(method="lcae_kmeans", **TOY), known=known >= 0)
    with pytest.raises(ValueError, match=r"known labels must lie in int32's range"):
        fit(x, Config(method="lcae_kmeans", **TOY), known=np.where(known >= 0, 2**32 + 1, -1))
    with pytest.raises(ValueError, match="got 3 known labels for 200 samples"):
        fit(x, Config(method="lcae_kmeans", **TOY), known=[0, 1, -1])
    with pytest.raises(ValueError, match="which fix their number: pass n_clusters"):
        check_config(Config(method="lcae_kmeans", n_clusters="auto", label_fraction=0.1))
    from dssec_jax import restarts

    def dispatched(*a, **kw):
        raise AssertionError("known labels reached the restarts unchecked")

    with pytest.MonkeyPatch.context() as mp:  # checked before any dispatch
        mp.setattr(restarts, "fit_restarts", dispatched)
        with pytest.raises(ValueError, match="needs known labels"):
            DSSEC(method="lcae_kmeans", n_restarts=2, **TOY).fit(x)
    from dssec_jax import clustering

    with pytest.raises(ValueError, match="known labels and label_map go together"):
        cfg = Config(method="dssec", **TOY)
        clustering.cluster(x, {}, np.zeros((2, 1)), cfg, jax.random.PRNGKey(0), known=known)
    with pytest.raises(
        ValueError, match=r"centers must be \(n_clusters, embed_dim\) = \(3, 2\), got \(2, 2\)"
    ):
        cfg = Config(method="dssec", **{**TOY, "n_clusters": 3, "embed_dim": 2})
        clustering.cluster(x, {}, np.zeros((2, 2)), cfg, jax.random.PRNGKey(0))


def test_the_run_driver_takes_known_labels_from_a_file(tmp_path):
    """--known_labels: the same labels for every seed, scored on the rest and marked in
    the table; another file in the same folder, a share beside it, a subset, a file of the
    wrong length or with no known label, and a driver that does not read it, refused."""
    import json

    from sklearn.datasets import load_digits

    from dssec_jax.cli.report import collect, markdown_table

    y = load_digits().target
    known = np.where(np.arange(y.size) % 7 == 0, y, -1)
    path, text = tmp_path / "known.npy", tmp_path / "known.txt"
    np.save(path, known)
    text.write_text(",".join(map(str, known)))
    wd = tmp_path / "run"
    args = ["--method=lcae_kmeans", "--seeds=2", f"--workdir={wd}", *TINY, "--recipe=strong"]
    r = run("experiments.run", f"--known_labels={path}", *args)
    assert r.returncode == 0, r.stderr[-2000:]
    saved = json.loads((wd / "config.json").read_text())["config"]
    assert saved["label_weight"] == 0.03  # the strong recipe's weight for runs given labels
    for seed in (0, 1):
        out = np.load(next(wd.rglob(f"seed_{seed}/outputs.npz")))
        np.testing.assert_array_equal(out["known"], known)
        rec = json.loads(next(wd.rglob(f"seed_{seed}/result.json")).read_text())
        rest = known < 0
        assert rec["n_known"] == int((~rest).sum())
        assert rec["acc_unknown"] == cluster_acc(y[rest], out["labels"][rest])
    table = markdown_table(collect(tmp_path))
    assert "| lcae_kmeans | " in table and " ‡" in table
    assert "known labels 14% from a file, 257 of 1797 samples (label_weight 0.03;" in table
    again = run("experiments.run", f"--known_labels={text}", *args)  # the same labels: resumes
    assert again.returncode == 0 and "already finished" in again.stdout + again.stderr
    other = tmp_path / "other.npy"
    np.save(other, np.where(np.arange(y.size) % 5 == 0, y, -1))
    refusals = [
        ([f"--known_labels={other}", *args], "holds a run with other settings or data"),
        ([f"--known_labels={path}", "--label_fraction=0.1", *args], "pass one of them"),
        ([f"--known_labels={path}", "--subset=500", *args], "does not combine with --subset"),
        ([f"--known_labels={tmp_path / 'no.npy'}", *args], "cannot be read"),
    ]
    np.save(tmp_path / "short.npy", known[:-1])
    refusals.append(([f"--known_labels={tmp_path / 'short.npy'}", *args], "got 1796 known labels"))
    np.save(tmp_path / "none.npy", np.full(y.size, -1))
    refusals.append(([f"--known_labels={tmp_path / 'none.npy'}", *args], "knows no label"))
    np.save(tmp_path / "all.npy", y)
    refusals.append(([f"--known_labels={tmp_path / 'all.npy'}", *args], "knows every label"))
    k_wd = tmp_path / "kmeans"  # refused before its folder is made
    kmeans = [f"--known_labels={path}", "--method=kmeans", f"--workdir={k_wd}", *TINY]
    refusals.append((kmeans, "has no autoencoder and cannot use known labels"))
    for argv, message in refusals:
        bad = run("experiments.run", *argv)
        assert bad.returncode == 2 and message in bad.stderr, (argv, bad.stderr[-600:])
    assert not k_wd.exists()
    bad = run("experiments.campaign", f"--known_labels={path}", "--plan=smoke", "--dry_run")
    assert bad.returncode == 2 and "does not read --known_labels" in bad.stderr


def test_a_run_on_data_without_true_labels_records_how_many_labels_it_was_given(tmp_path):
    """Data of one's own without labels to score: a run given known labels from a file
    still says so in its record and in the table's settings line."""
    import json

    from sklearn.datasets import load_digits

    from dssec_jax.cli.report import collect, markdown_table

    x, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "x.npz", x=(x[:300] / 16).astype(np.float32))  # no y
    np.save(tmp_path / "known.npy", np.where(np.arange(300) % 10 == 0, y[:300], -1))
    wd = tmp_path / "run"
    r = run(
        "experiments.run",
        f"--dataset={tmp_path / 'x.npz'}",
        "--n_clusters=10",
        "--method=lcae_kmeans",
        f"--known_labels={tmp_path / 'known.npy'}",
        "--seeds=1",
        f"--workdir={wd}",
        *TINY,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((wd / "seed_0" / "result.json").read_text())
    assert rec["n_known"] == 30 and "acc" not in rec
    assert "known labels 10% from a file, 30 of 300 samples" in markdown_table(collect(tmp_path))


def test_the_sweep_driver_takes_known_labels_from_a_file(tmp_path):
    """--known_labels in a sweep: every run of the grid knows the file's labels and is
    scored on the rest; a method without an autoencoder in the grid, two datasets, and
    --batched are refused before any run."""
    import json

    from sklearn.datasets import load_digits

    y = load_digits().target
    known = np.where(np.arange(y.size) % 7 == 0, y, -1)
    path = tmp_path / "known.npy"
    np.save(path, known)
    wd = tmp_path / "sweep"
    args = [f"--known_labels={path}", "--seeds=1", f"--workdir={wd}", "--notsne", *TINY]
    r = run("experiments.sweep", "--methods=lcae_kmeans,ae_kmeans", *args)
    assert r.returncode == 0, r.stderr[-2000:]
    for method in ("lcae_kmeans", "ae_kmeans"):
        seed = wd / "runs" / f"digits__{method}__gna__e10" / "seed_0"
        rec = json.loads((seed / "result.json").read_text())
        out = np.load(seed / "outputs.npz")
        np.testing.assert_array_equal(out["known"], known)
        rest = known < 0
        assert rec["n_known"] == int((~rest).sum())
        assert rec["acc_unknown"] == cluster_acc(y[rest], out["labels"][rest])
    refusals = [
        (["--methods=kmeans,lcae_kmeans"], "'kmeans' has no autoencoder and cannot use known"),
        (["--datasets=digits,digits", "--methods=lcae_kmeans"], "sweep one dataset with it"),
        (["--batched", "--methods=lcae_kmeans"], "without --batched"),
    ]
    for flags_, message in refusals:
        bad = run("experiments.sweep", *flags_, *args[:2], f"--workdir={tmp_path / 'no'}", *TINY)
        assert bad.returncode == 2 and message in bad.stderr, (flags_, bad.stderr[-600:])
    assert not (tmp_path / "no").exists()


def test_the_run_driver_reveals_a_share_and_reports_acc_on_the_rest(tmp_path):
    import json

    wd = tmp_path / "run"
    r = run(
        "experiments.run",
        "--method=lcae_kmeans",
        "--label_fraction=0.1",
        "--seeds=2",
        f"--workdir={wd}",
        *TINY,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads(next(wd.rglob("seed_0/result.json")).read_text())
    out = np.load(next(wd.rglob("seed_0/outputs.npz")))
    np.testing.assert_array_equal(out["known"], reveal(out["y"], 0.1, seed=0))  # its seed's
    second = np.load(next(wd.rglob("seed_1/outputs.npz")))["known"]
    np.testing.assert_array_equal(second, reveal(out["y"], 0.1, seed=1))
    assert not np.array_equal(second, out["known"])
    rest = out["known"] < 0
    assert rec["n_known"] == int((~rest).sum())
    assert rec["acc_unknown"] == cluster_acc(out["y"][rest], out["labels"][rest])
    assert rec["acc_unknown"] != rec["acc"]  # scored on the other samples, not all
    from dssec_jax.cli.report import collect, markdown_table

    table = markdown_table(collect(tmp_path))
    assert " ‡" in table and "whose label was not given, ACC / NMI / ARI" in table
    both = [json.loads(next(wd.rglob(f"seed_{i}/result.json")).read_text()) for i in (0, 1)]
    cells = [
        f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f} (2)"
        for v in ([r[m] for r in both] for m in ("acc_unknown", "nmi_unknown"))
    ]
    assert " / ".join(cells) in table
    bad = run("experiments.run", "--method=lcae_kmeans", f"--workdir={tmp_path / 'b'}", *TINY)
    assert bad.returncode == 2 and "needs known labels" in bad.stderr


def test_the_label_map_follows_the_embedding_scale():
    from dssec_jax.labels import rescale_label_map

    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3)).astype(np.float32)
    lm = {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": np.ones(4, np.float32)}
    scaled = rescale_label_map(lm, 2.5)
    np.testing.assert_allclose(
        (2.5 * z) @ scaled["w"] + scaled["b"], z @ lm["w"] + lm["b"], rtol=1e-5
    )


def test_the_fit_hands_the_clustering_phase_a_label_map_for_the_rescaled_code(monkeypatch):
    """The embedding is rescaled before clustering; the label map handed on must predict
    from the rescaled code what pretraining's map predicted from the original one."""
    import copy

    from dssec_jax import clustering, pipeline

    x, cls = toy(n=200)
    seen = {}
    real_pretrain = pretraining.pretrain

    def pretrain(*a, **kw):
        ae, hist = real_pretrain(*a, **kw)
        seen["pretrained"] = copy.deepcopy(jax.tree.map(np.asarray, ae))
        return ae, hist

    def cluster(x, ae, centers, cfg, key, y=None, *, known, label_map, **kw):
        seen["ae"], seen["label_map"] = ae, label_map
        raise RuntimeError("captured")

    monkeypatch.setattr(pipeline.pretraining, "pretrain", pretrain)
    monkeypatch.setattr(pipeline.clustering, "cluster", cluster)
    cfg = Config(method="dssec", **{**TOY, "pretrain_epochs": 5, "embed_std": 3.0})
    with pytest.raises(RuntimeError, match="captured"):
        fit(x, cfg, seed=0, known=reveal(cls, 0.1, seed=0))
    acts = cfg.hidden_acts()
    before, after = seen["pretrained"], seen["ae"]
    z0, z1 = sae.encode(before, x, acts), sae.encode(after, x, acts)
    m0, m1 = before["label_map"], seen["label_map"]
    assert not np.allclose(z0, z1)  # the code was rescaled
    np.testing.assert_allclose(
        np.asarray(z1) @ np.asarray(m1["w"]) + np.asarray(m1["b"]),
        np.asarray(z0) @ np.asarray(m0["w"]) + np.asarray(m0["b"]),
        rtol=1e-4,
        atol=1e-5,
    )
    assert clustering.cluster is cluster


def test_the_clustering_phase_keeps_the_label_term():
    x, cls = toy()
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(method="dssec", **TOY, max_iter=60, update_interval=20, tol=0.0)
    res = fit(x, cfg, seed=0, known=known)
    refreshes = [h for h in res.history if h["iteration"] > 0]
    assert refreshes and all("labels" in h and np.isfinite(h["labels"]) for h in refreshes)
    assert cluster_acc(cls, res.labels) > 0.95
    assert set(res.ae_params) == {"encoder", "decoder"}
    plain = fit(x, Config(method="dssec", **TOY, max_iter=60, update_interval=20, tol=0.0), 0)
    assert all("labels" not in h for h in plain.history)


@pytest.mark.parametrize("method", ["dssec", "idec", "dec"])
def test_the_clustering_phase_trains_the_label_map_under_the_term(method):
    """From one start and one label map drawn at random, the phase at a large weight drives
    the label term below where a negligible weight leaves it, and trains the map on: the
    term acts in the clustering phase, not only in its records (DEC's encoder-only phase
    too)."""
    from dssec_jax.clustering import cluster

    x, cls = toy()
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(
        method=method, **TOY, max_iter=100, update_interval=20, tol=0.0, cluster_learning_rate=0.01
    )
    ae = sae.init_params(jax.random.key(0), cfg.dims(x.shape[1]))
    label_map = sae.init_layer(jax.random.key(1), cfg.embed_dim, 2)
    centers = np.array([[-0.1], [0.1]], np.float32)
    runs = {
        w: cluster(
            x,
            ae,
            centers,
            dataclasses.replace(cfg, label_weight=w),
            jax.random.key(2),
            known=known,
            label_map=label_map,
        )
        for w in (1e-6, 100.0)
    }
    weak, strong = (runs[w]["history"][-1]["labels"] for w in (1e-6, 100.0))
    assert strong < 0.5 * weak, (strong, weak)
    trained = runs[100.0]["params"]["label_map"]["w"]
    assert not np.allclose(trained, label_map["w"])


def test_a_clustering_checkpoint_names_the_known_labels():
    """A labelled run resumes only a checkpoint saved with the same known labels (and the
    same order of their rows); a run without labels has an id of its own, apart from both."""
    from dssec_jax.clustering import run_id

    cfg = Config(method="dssec", **TOY)
    _, cls = toy(n=200)
    a, b = reveal(cls, 0.1, seed=0), reveal(cls, 0.1, seed=1)
    ids = {run_id(cfg, (200, 10)), run_id(cfg, (200, 10), a), run_id(cfg, (200, 10), b)}
    assert len(ids) == 3 and run_id(cfg, (200, 10), a) == run_id(cfg, (200, 10), a.copy())


def test_label_data_refuses_labels_of_which_none_is_known():
    with pytest.raises(ValueError, match="no label is known"):
        label_data(np.full(10, -1), 3)


def test_a_store_refuses_an_autoencoder_pretrained_with_other_known_labels(tmp_path):
    """A store key that names no labels, reused by runs that know other labels or none: the
    stored autoencoder, finished or not, is refused by the known labels' digest its record
    names, not quietly reused."""
    from dssec_jax.checkpoint import CheckpointError, FileStore

    x, cls = toy(n=200)
    cfg = Config(method="ae_kmeans", **{**TOY, "pretrain_epochs": 2})
    a, b = reveal(cls, 0.1, seed=0), reveal(cls, 0.1, seed=1)

    def store(name):
        return FileStore(tmp_path / name, tmp_path / f"cache_{name}", "k", min_interval_s=0.0)

    labelled = store("a")
    fit(x, cfg, seed=0, known=a, store=labelled)
    meta, raw = labelled.get("pretrained")
    assert meta["known"] == digest(a)
    events = []
    fit(x, cfg, seed=0, known=a.copy(), store=labelled, log=events.append)  # the same labels
    assert "pretrain_cached" in [e["event"] for e in events]  # reused
    with pytest.raises(CheckpointError, match="pretrained with known labels and this run knows"):
        fit(x, cfg, seed=0, store=labelled)
    with pytest.raises(CheckpointError, match="with other known labels"):
        fit(x, cfg, seed=0, known=b, store=labelled)
    # an unfinished pretraining with labels, in the run folder of a run without them
    progress = store("d")
    progress.put("pretrain_progress", {"params": raw}, {"stage": 0, "epoch": 1, "history": []})
    with pytest.raises(CheckpointError, match="pretrained with known labels and this run knows"):
        fit(x, cfg, seed=0, store=progress)
    # the same, saved with its digest, for a run with other labels
    named = store("e")
    named.put(
        "pretrain_progress",
        {"params": raw},
        {"stage": 0, "epoch": 1, "history": [], "known": digest(a)},
    )
    with pytest.raises(CheckpointError, match="with other known labels"):
        fit(x, cfg, seed=0, known=b, store=named)
    unlabelled = store("c")
    fit(x, cfg, seed=0, store=unlabelled)
    assert unlabelled.get("pretrained")[0]["known"] is None
    with pytest.raises(CheckpointError, match="without known labels and this run knows some"):
        fit(x, cfg, seed=0, known=a, store=unlabelled)


@pytest.mark.parametrize("use_decoder", [True, False])
def test_unknown_rows_take_no_part_in_the_clustering_phases_label_term(use_decoder):
    """In the clustering phase too (IDEC/DSSEC with the decoder, DEC without), the label
    term and its gradient do not move when the samples whose label is unknown change."""
    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(method="dssec" if use_decoder else "dec", **TOY)
    ae = sae.init_params(jax.random.key(0), cfg.dims(x.shape[1]))
    params = {
        "ae": ae if use_decoder else {"encoder": ae["encoder"]},
        "centers": jnp.array([[-0.1], [0.1]]),
        "label_map": sae.init_layer(jax.random.key(1), 1, 2),
    }
    p = jnp.full((200, 2), 0.5)
    rows, onehot = label_data(known, 2)
    hp = train.hyper(gamma=0.1, beta=0.01, rho=0.05, alpha=1.0, label_weight=1.0)
    net = cfg.net()._asdict()

    def part(name):
        def f(prm, data):
            batch = train.labelled_batch(data, jnp.arange(64))
            out = train.clustering_loss(
                prm, batch, hp, **net, use_decoder=use_decoder, labelled=True
            )
            return out[0] if name == "loss" else out[1][name]

        return jax.value_and_grad(f)

    other = x.copy()
    other[known < 0] += 100.0
    data, moved = ((jnp.asarray(v), p, rows, onehot) for v in (x, other))
    a, ga = part("labels")(params, data)
    b, gb = part("labels")(params, moved)
    assert float(a) == float(b) > 0
    for u, v in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_array_equal(u, v)
    ta, tb = part("loss")(params, data)[1], part("loss")(params, moved)[1]
    assert any(not np.array_equal(u, v) for u, v in zip(jax.tree.leaves(ta), jax.tree.leaves(tb)))


def test_a_labelled_dssec_fit_is_repeatable():
    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    cfg = Config(method="dssec", **{**TOY, "pretrain_epochs": 3}, max_iter=40, update_interval=20)
    a, b = (fit(x, cfg, seed=0, known=known) for _ in range(2))
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.embedding, b.embedding)
    assert [h["labels"] for h in a.history[1:]] == [h["labels"] for h in b.history[1:]]
    assert a.pretrain_history == b.pretrain_history


def test_restarts_give_every_run_the_known_labels(monkeypatch):
    """Each restart fits with the known labels (run r is the labelled fit of seed + r), and
    on an accelerator the batched program, which takes no labels, is not used."""
    from dssec_jax import pipeline, restarts, sweep

    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    kw = dict(TOY, pretrain_epochs=3, max_iter=20, update_interval=10)
    seen = []
    real = pipeline.fit

    def spy(x, cfg, seed, y=None, known=None, log=None):
        seen.append((seed, known))
        return real(x, cfg, seed, y, known=known, log=log)

    monkeypatch.setattr(pipeline, "fit", spy)
    est = DSSEC(method="dssec", random_state=4, n_restarts=3, **kw).fit(x, known_labels=known)
    assert [s for s, _ in seen] == [4, 5, 6]
    for _, k in seen:
        np.testing.assert_array_equal(k, known)
    alone = real(x, Config(method="dssec", **kw), 5, known=known)
    np.testing.assert_array_equal(est.restarts_[1]["labels"], alone.labels)

    def batched(*a, **k):
        raise AssertionError("the batched program ran on labelled restarts")

    seen.clear()
    monkeypatch.setattr(restarts.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(sweep, "fit_batched", batched)
    DSSEC(method="dssec", random_state=4, n_restarts=3, **kw).fit(x, known_labels=known)
    assert [s for s, _ in seen] == [4, 5, 6]


def test_a_store_refuses_an_autoencoder_pretrained_with_other_settings(tmp_path):
    """A store key made by hand, reused with another label weight or learning rate: the
    stored autoencoder is refused by the settings its record names; a method with the same
    pretraining (IDEC after AE+K-means) reuses it."""
    from dssec_jax.checkpoint import CheckpointError, FileStore

    x, cls = toy(n=200)
    cfg = Config(method="ae_kmeans", **{**TOY, "pretrain_epochs": 2})
    known = reveal(cls, 0.1, seed=0)
    labelled = FileStore(tmp_path / "run", tmp_path / "cache", "k", min_interval_s=0.0)
    fit(x, cfg, seed=0, known=known, store=labelled)
    assert labelled.get("pretrained")[0]["settings"]["label_weight"] == cfg.label_weight
    events = []
    fit(
        x,
        dataclasses.replace(cfg, method="idec", max_iter=4),
        seed=0,
        known=known,
        store=labelled,
        log=events.append,
    )
    assert "pretrain_cached" in [e["event"] for e in events]
    with pytest.raises(CheckpointError, match=r"other settings \(label_weight"):
        fit(
            x,
            dataclasses.replace(cfg, label_weight=2 * cfg.label_weight),
            seed=0,
            known=known,
            store=labelled,
        )
    with pytest.raises(CheckpointError, match="learning_rate"):
        fit(
            x,
            dataclasses.replace(cfg, learning_rate=cfg.learning_rate / 2),
            seed=0,
            known=known,
            store=labelled,
        )
    with pytest.raises(CheckpointError, match="init 'glorot_uniform' there, 'variance_scaling'"):
        fit(
            x,
            dataclasses.replace(cfg, init="variance_scaling"),
            seed=0,
            known=known,
            store=labelled,
        )  # a setting the record leaves out at its default
    meta, raw = labelled.get("pretrained")  # a record from before settings were stored
    labelled.put("pretrained", raw, {k: v for k, v in meta.items() if k != "settings"})
    events = []
    fit(
        x,
        dataclasses.replace(cfg, init="variance_scaling"),
        seed=0,
        known=known,
        store=labelled,
        log=events.append,
    )
    assert "pretrain_cached" in [e["event"] for e in events]  # not checked, reused


def test_true_labels_only_score_and_a_minus_one_among_them_is_warned_of():
    """``y`` never trains: the same fit with and without it, for an unsupervised method and
    for LCAE+K-means given known labels; -1 in ``y`` (the semi-supervised habit) is warned
    of, naming known_labels=. The K-means record of a run given labels scores the samples
    not given too."""
    x, cls = toy(n=200)
    known = reveal(cls, 0.1, seed=0)
    for method, kw in (("ae_kmeans", {}), ("lcae_kmeans", {"known": known})):
        cfg = Config(method=method, **{**TOY, "pretrain_epochs": 2})
        events = []
        with_y = fit(x, cfg, seed=0, y=cls, log=events.append, **kw)
        without = fit(x, cfg, seed=0, **kw)
        np.testing.assert_array_equal(with_y.labels, without.labels)
        (kmeans,) = [e for e in events if e["event"] == "kmeans"]
        assert ("acc_unknown" in kmeans) == (method == "lcae_kmeans")
    cfg = Config(method="kmeans", n_clusters=2)
    with pytest.warns(UserWarning, match=f"{(known >= 0).sum()} true labels are -1.*known_labels="):
        fit(x, cfg, seed=0, y=np.where(known >= 0, -1, cls))
    with pytest.warns(UserWarning, match="1 true labels are -1"):  # the batched path's check
        ae = Config(method="ae_kmeans", **{**TOY, "pretrain_epochs": 1})
        fit_batched(x, [ae, ae], [0, 1], y=np.r_[-1, cls[1:]])

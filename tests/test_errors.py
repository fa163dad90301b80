"""Every documented error: each invalid setting, the drivers' refusals and the batched
path's limits raise a ValueError (or exit 2 in one line) that names the problem."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import TINY_NET
from test_experiments import run

from dssec_jax import DSSEC, Config, fit
from dssec_jax.sweep import fit_batched
from dssec_jax.validation import check_config


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n_clusters": 2.5}, "n_clusters must be an integer >= 1"),
        ({"beta": -1.0}, "beta must be a finite number >= 0"),
        ({"tol": -0.1}, "tol must be a finite number >= 0"),
        ({"alpha": 0.0}, r"alpha \(Student's t degrees of freedom\) must be finite and > 0"),
        ({"hidden_dims": (64, 0)}, "hidden_dims must be positive layer sizes"),
        ({"sparse_layers": (0, 0)}, r"sparse_layers \(0, 0\) names a layer twice"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"sparse_activation": "gelu"}, "unknown sparse_activation 'gelu'"),
        ({"sparsity_reduction": "max"}, "sparsity_reduction must be 'mean' or 'sum'"),
        ({"init": "he"}, "init must be one of glorot_uniform, variance_scaling"),
        ({"pretrain_optimizer": "lbfgs"}, "pretrain_optimizer must be 'adam' or 'sgd'"),
        ({"pretrain_momentum": 1.0}, r"pretrain_momentum must lie in \[0, 1\)"),
        ({"cluster_optimizer": "rmsprop"}, "cluster_optimizer must be 'adam' or 'sgd'"),
        ({"precision": "fp16"}, "precision must be 'float32' or 'bf16', got 'fp16'"),
        (
            {"refresh_precision": "fp16"},
            r"refresh_precision must be 'float32', 'bf16' or None \(as precision\), got 'fp16'",
        ),
        ({"pretrain_epochs": 0}, "pretrain_epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"update_interval": 0}, "update_interval must be >= 1"),
        ({"n_init": 0}, "n_init must be >= 1"),
        ({"layerwise_epochs": 0}, "layerwise_epochs must be >= 1 or None"),
        ({"max_iter": -1}, "max_iter must be >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be finite and > 0"),
        ({"cluster_learning_rate": -1e-3}, "cluster_learning_rate must be finite and > 0"),
        ({"beta": float("nan")}, "beta must be a finite number >= 0, got nan"),
        ({"gamma": float("inf")}, "gamma must be a finite number >= 0, got inf"),
        ({"tol": float("nan")}, "tol must be a finite number >= 0, got nan"),
        ({"alpha": float("inf")}, "alpha .* must be finite and > 0, got inf"),
        ({"learning_rate": float("nan")}, "learning_rate must be finite and > 0, got nan"),
        ({"cluster_learning_rate": float("inf")}, "cluster_learning_rate must be finite"),
        ({"pretrain_clip_norm": float("inf")}, "pretrain_clip_norm must be finite and > 0"),
        ({"method": "pca_kmeans", "embed_dim": 30}, "embed_dim=30 PCA components need at least"),
        ({"n_clusters": 40}, "20 samples but n_clusters=40"),
    ],
)
def test_every_invalid_setting_is_named(kw, match):
    with pytest.raises(ValueError, match=match):
        check_config(Config(**kw), n_samples=20)


def test_pca_components_beyond_the_features_are_refused_before_scikit_learn(digits):
    x = digits[0][:50, :5]
    with pytest.raises(ValueError, match="embed_dim=10 PCA components need at least that many "):
        fit(x, Config(method="pca_kmeans", embed_dim=10), 0)


def test_a_batch_size_of_the_wrong_type_is_named_by_fit(digits):
    with pytest.raises(ValueError, match="batch_size must be an integer, got '256'"):
        fit(digits[0][:50], Config(batch_size="256"), 0)


def test_the_phases_refuse_bad_data_with_the_fix(digits):
    """``pretraining.pretrain`` and ``clustering.cluster`` are public: they check x as
    ``fit`` does, and clustering checks it against the autoencoder's first layer."""
    import jax

    from dssec_jax import clustering, pretraining, sae

    cfg = Config(method="idec", **TINY_NET)
    key = jax.random.PRNGKey(0)
    x = digits[0][:50]
    nan = x.copy()
    nan[3, 3] = np.nan
    for bad, match in (
        (x[0], "must be 2-D"),
        (nan, "contains 1 NaN"),
        ([[0.0] * 64] * 50, "every feature of X is constant"),
    ):
        with pytest.raises(ValueError, match=match):
            pretraining.pretrain(bad, cfg, key)
    ae = sae.init_params(key, cfg.dims(64))
    centers = np.zeros((cfg.k, cfg.embed_dim), np.float32)
    with pytest.raises(ValueError, match="contains 1 NaN"):
        clustering.cluster(nan, ae, centers, cfg, key)
    with pytest.raises(ValueError, match="x has 32 features but the autoencoder's first layer "):
        clustering.cluster(x[:, :32], ae, centers, cfg, key)
    # an autoencoder of other widths than the config's: a clear error, not a shape error
    # deep in the compiled step (another embedding) or a silent run (other hidden widths)
    wider = dataclasses.replace(cfg, hidden_dims=tuple(h + 1 for h in cfg.hidden_dims))
    other_code = dataclasses.replace(cfg, embed_dim=cfg.embed_dim + 1)
    for ae_cfg, match in ((wider, "encoder has widths"), (other_code, "embed_dim")):
        with pytest.raises(ValueError, match=match):
            clustering.cluster(x, sae.init_params(key, ae_cfg.dims(64)), centers, cfg, key)
    known = np.where(np.arange(50) % 5 == 0, digits[1][:50] % cfg.k, -1)
    bad_map = sae.init_layer(key, cfg.embed_dim, cfg.k + 1)
    with pytest.raises(ValueError, match=r"label_map\['w'\] must be \(embed_dim, n_clusters\)"):
        clustering.cluster(x, ae, centers, cfg, key, known=known, label_map=bad_map)


def test_random_state_must_be_an_int_or_none(digits):
    with pytest.raises(ValueError, match="random_state must be an int or None, got str"):
        DSSEC(random_state="0", pretrain_epochs=1).fit(digits[0][:50])


def test_the_batched_path_names_what_it_cannot_do(digits):
    x = digits[0][:64]
    with pytest.raises(ValueError, match="method 'kmeans' has no network to batch"):
        fit_batched(x, [Config(method="kmeans")], [0])
    with pytest.raises(ValueError, match="data_parallel is not supported in batched sweeps"):
        fit_batched(x, [Config(data_parallel=True)], [0])
    with pytest.raises(ValueError, match="pass one seed per configuration"):
        fit_batched(x, [Config(), Config()], [0])


def test_config_file_with_unknown_keys_exits_2_in_one_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"gama": 0.3}))
    r = run("experiments.run", f"--config={path}", f"--workdir={tmp_path / 'w'}")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        "error: --config has unknown keys ['gama']"
    )


@pytest.mark.parametrize(
    "setup, args, msg",
    [
        (lambda p: (p / "f").write_text(""), ["--workdir={p}/f/w"], "error: "),
        (lambda p: (p / "c.json").write_text("3"), ["--config={p}/c.json"], "holds int, not"),
        (
            lambda p: (p / "c.json").write_text('{"gamma": "abc"}'),
            ["--config={p}/c.json"],
            "gamma must be a number, got 'abc'",
        ),
    ],
)
def test_unusable_paths_and_config_values_exit_2_in_one_line(tmp_path, setup, args, msg):
    setup(tmp_path)
    args = [a.format(p=tmp_path) for a in args]
    r = run("experiments.run", "--method=kmeans", f"--workdir={tmp_path / 'w'}", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("error:") and msg in r.stderr


def test_a_damaged_result_file_is_named_with_the_fix(tmp_path):
    wd = tmp_path / "w"
    assert (
        run("experiments.run", "--method=kmeans", "--n_init=2", f"--workdir={wd}").returncode == 0
    )
    (wd / "seed_0" / "result.json").write_text('{"seed": 0,')
    r = run("experiments.run", "--method=kmeans", "--n_init=2", f"--workdir={wd}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{wd / 'seed_0' / 'result.json'} is damaged" in r.stderr
    assert f"delete {wd / 'seed_0'} to run the seed again" in r.stderr


def test_a_workdir_with_other_settings_is_refused(tmp_path):
    wd = tmp_path / "w"
    first = run("experiments.run", "--method=kmeans", "--n_init=2", f"--workdir={wd}")
    assert first.returncode == 0, first.stderr[-1000:]
    other = run("experiments.run", "--method=kmeans", "--n_init=3", f"--workdir={wd}")
    assert other.returncode == 2 and "holds a run with other settings or data" in other.stderr
    assert np.load(wd / "seed_0" / "outputs.npz")["labels"].shape == (1797,)  # kept


@pytest.mark.parametrize("momentum", [1.5, 1.0, -1.0])
def test_clustering_momentum_out_of_range_is_refused(momentum):
    with pytest.raises(ValueError, match="momentum"):
        check_config(Config(momentum=momentum, cluster_optimizer="sgd"))


def test_clustering_momentum_under_adam_is_refused_not_ignored():
    with pytest.raises(ValueError, match="used by SGD only"):
        check_config(Config(momentum=0.9))
    check_config(Config(momentum=0.9, cluster_optimizer="sgd"))


def test_a_setting_the_method_ignores_is_named_in_a_warning(digits):
    x, _ = digits
    with pytest.warns(UserWarning, match="does not use gamma"):
        fit(x[:300], Config(method="dec", gamma=0.5, pretrain_epochs=1, max_iter=0, **TINY_NET))
    with pytest.warns(UserWarning, match="does not use beta, rho"):
        fit(x[:300], Config(method="ae_kmeans", beta=2.0, rho=0.1, pretrain_epochs=1, **TINY_NET))


def test_layer_sizes_given_as_lists_are_tuples_and_hashable():
    cfg = Config(hidden_dims=[8, 8], sparse_layers=[0], k_range=[2, 5])
    assert cfg.hidden_dims == (8, 8) and cfg.sparse_layers == (0,) and cfg.k_range == (2, 5)
    assert hash(cfg) == hash(Config(hidden_dims=(8, 8), sparse_layers=(0,), k_range=(2, 5)))


@pytest.mark.parametrize(
    "labels, named",
    [
        ([1, "a"], "got 'a' "),  # a string array: '1' reads as a class, 'a' does not
        (np.array([1, "a"], object), "got 'a' "),
        ([0.0, 2.5], "got 2.5 "),
        ([1.0, np.nan], "got nan "),
        (np.array([], "U1"), "got (dtype <U1)"),
    ],
)
def test_labels_that_are_not_integers_are_named_by_the_first_that_is_not(labels, named):
    from dssec_jax.validation import check_labels

    with pytest.raises(ValueError, match="Unknown label type") as err:
        check_labels(labels, len(labels))
    assert named in str(err.value)
    np.testing.assert_array_equal(check_labels([1.0, 2.0], 2), [1, 2])  # whole floats are fine

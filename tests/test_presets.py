"""Named recipes (dssec_jax.presets) in the estimator, the command line and the campaign."""

import json

import numpy as np
import pytest
from test_experiments import TINY, run

from dssec_jax import DSSEC
from dssec_jax.methods import Config
from dssec_jax.presets import apply_recipe, recipe_config, recipe_settings


def test_the_strong_recipe_per_kind_of_method():
    plain, sparse = recipe_settings("strong", "idec"), recipe_settings("strong", "dssec")
    assert plain == {
        "init": "variance_scaling",
        "pretrain_optimizer": "sgd",
        "learning_rate": 1.0,
        "pretrain_momentum": 0.9,
    }
    assert sparse == {**plain, "sparsity_floor": 0.005, "embed_std": "kernel"}
    assert recipe_settings("strong", "kmeans") == {} == recipe_settings("paper", "dssec")
    assert recipe_config("paper", "dssec") == Config(method="dssec")
    with pytest.raises(ValueError, match="unknown recipe 'best'; choose one of paper, strong"):
        recipe_settings("best", "dssec")


def test_a_setting_changed_from_its_default_wins_over_the_recipe():
    cfg = apply_recipe("strong", Config(method="dssec", learning_rate=0.5, embed_std=None))
    assert cfg.learning_rate == 0.5 and cfg.embed_std is None
    assert cfg.init == "variance_scaling" and cfg.sparsity_floor == 0.005
    est = DSSEC(method="idec", recipe="strong", learning_rate=0.5)
    c = est.config()
    assert c.learning_rate == 0.5 and c.init == "variance_scaling"
    # a value equal to the library default cannot be told from the default: the recipe's
    assert (
        DSSEC(method="idec", recipe="strong", pretrain_optimizer="adam").config().pretrain_optimizer
        == "sgd"
    )
    est = DSSEC(method="idec", recipe="strong")
    assert est.get_params()["learning_rate"] == 1e-3  # the parameters are left as given


def test_the_command_line_takes_a_recipe(tmp_path):
    wd = tmp_path / "run"
    r = run("experiments.run", "--method=dssec", "--recipe=strong", f"--workdir={wd}", *TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((wd / "config.json").read_text())["config"]
    assert cfg["sparsity_floor"] == 0.005 and cfg["pretrain_optimizer"] == "sgd"
    assert cfg["pretrain_epochs"] == 3  # a flag wins over the recipe


def test_the_strong_plan_runs_every_method_at_its_recipe():
    from dssec_jax.cli.campaign import PLANS, plan_runs

    runs = {name: kw for name, _, kw in plan_runs(PLANS["strong"], ["kmeans", "idec", "dssec"])}
    assert runs["kmeans"] == {}
    assert runs["idec"] == recipe_settings("strong", "idec")
    assert runs["dssec"]["sparsity_floor"] == 0.005


def test_runs_given_known_labels_take_the_recipes_label_weight(monkeypatch, tmp_path):
    """Under the strong recipe's SGD a run given labels takes label_weight 0.03 (0.1 turned
    non-finite on a COIL-20 seed); the paper recipe keeps 0.1; a weight passed wins; runs
    without labels keep their settings (the committed strong results stay comparable)."""
    from dssec_jax import pipeline
    from dssec_jax.cli.campaign import PLANS, plan_points

    given = Config(method="lcae_kmeans", label_fraction=0.1)
    assert apply_recipe("strong", given).label_weight == 0.03
    assert apply_recipe("paper", given).label_weight == 0.1
    assert apply_recipe("strong", Config(method="dssec")).label_weight == 0.1
    assert apply_recipe("strong", Config(method="dssec"), labelled=True).label_weight == 0.03
    mine = Config(method="dssec", label_fraction=0.1, label_weight=0.2)
    assert apply_recipe("strong", mine).label_weight == 0.2
    assert recipe_config("strong", "dssec", labelled=True).label_weight == 0.03
    assert recipe_config("strong", "lcae_kmeans", label_fraction=0.1).label_weight == 0.03
    assert recipe_config("strong", "dssec").label_weight == 0.1
    assert recipe_config("strong", "dssec", labelled=True, label_weight=0.2).label_weight == 0.2
    seen = {}

    def fit(x, cfg, *a, **kw):
        seen["cfg"] = cfg
        raise RuntimeError("captured")

    monkeypatch.setattr(pipeline, "fit", fit)
    x = np.random.default_rng(0).random((40, 5)).astype(np.float32)
    with pytest.raises(RuntimeError, match="captured"):
        DSSEC(n_clusters=2, method="dssec", recipe="strong").fit(x, known_labels=[0, 1] + [-1] * 38)
    assert seen["cfg"].label_weight == 0.03
    weights = {
        (r, kw.get("label_weight")) for _, _, r, _, kw in plan_points(PLANS["strong"], ["usps"])
    }
    assert ("lcae_kmeans", 0.03) in weights and ("dssec", None) in weights
    wd = tmp_path / "run"
    cli = run(
        "experiments.run",
        "--method=lcae_kmeans",
        "--recipe=strong",
        "--label_fraction=0.1",
        f"--workdir={wd}",
        *TINY,
    )
    assert cli.returncode == 0, cli.stderr[-1500:]
    assert json.loads((wd / "config.json").read_text())["config"]["label_weight"] == 0.03


def test_a_recipes_floor_above_the_users_rho_is_refused_naming_the_recipe():
    with pytest.raises(ValueError, match="recipe 'strong' sets sparsity_floor=0.005.*0.0004"):
        DSSEC(method="dssec", rho=0.004, recipe="strong").config()
    assert DSSEC(method="dssec", rho=0.004, recipe="strong", sparsity_floor=0.0004).config()
    with pytest.raises(ValueError, match="rho") as bad:  # a bad rho is named as such
        DSSEC(method="dssec", rho=0.0, recipe="strong").config()
    assert "recipe" not in str(bad.value)

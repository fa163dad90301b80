"""Named recipes (dssec_jax.presets) in the estimator, the command line and the campaign."""

import json

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

"""Named protocols ("recipes"): sets of Config values a user picks by one name.

``paper`` is the library's defaults, the protocol of the paper-budget table. ``strong`` is
DEC-keras's pretraining (VarianceScaling(1/3, fan_in, uniform) initialisation, SGD at
learning rate 1 with momentum 0.9), which the sparse autoencoder survives only with the
KL's derivative bounded below a floor rate (``sparsity_floor``), and its embedding is
scaled by the kernel rule (BUILD_NOTES, "The strong recipe"). Methods without an
autoencoder take nothing from a recipe.
"""

from __future__ import annotations

import dataclasses

from .methods import Config, get_method

# DEC-keras's pretraining, for the plain and the sparse autoencoder.
_DEC_KERAS = {
    "init": "variance_scaling",
    "pretrain_optimizer": "sgd",
    "learning_rate": 1.0,
    "pretrain_momentum": 0.9,
}
RECIPES: dict[str, dict[str, dict]] = {
    "paper": {"plain": {}, "sparse": {}},
    "strong": {
        "plain": dict(_DEC_KERAS),
        "sparse": {**_DEC_KERAS, "sparsity_floor": 0.005, "embed_std": "kernel"},
    },
}


def recipe_settings(recipe: str, method: str) -> dict:
    """The Config values ``recipe`` sets for ``method`` (empty without an autoencoder)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    spec = get_method(method)
    if spec.features != "autoencoder":
        return {}
    return dict(RECIPES[recipe]["sparse" if spec.sparse else "plain"])


def recipe_config(recipe: str, method: str = "dssec", **overrides) -> Config:
    """Config of ``method`` at ``recipe``, with ``overrides`` on top: library defaults <
    recipe < overrides.

    >>> recipe_config("strong", "idec").learning_rate
    1.0
    """
    return Config(**{"method": method, **recipe_settings(recipe, method), **overrides})


def apply_recipe(recipe: str, cfg: Config) -> Config:
    """``cfg`` with every setting that ``recipe`` names and ``cfg`` leaves at its library
    default taken from the recipe (a setting changed from its default wins)."""
    default = Config()
    chosen = {
        k: v
        for k, v in recipe_settings(recipe, cfg.method).items()
        if getattr(cfg, k) == getattr(default, k)
    }
    return dataclasses.replace(cfg, **chosen)

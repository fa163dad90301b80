"""Named protocols ("recipes"): sets of Config values a user picks by one name.

``paper`` is the library's defaults, the protocol of the paper-budget table. ``strong`` is
DEC-keras's pretraining (VarianceScaling(1/3, fan_in, uniform) initialisation, SGD at
learning rate 1 with momentum 0.9), which the sparse autoencoder at the paper's beta
survives only with the KL's derivative bounded below a floor rate (``sparsity_floor``;
at beta 0.1 it stays finite without one, and clusters worse on COIL-20), and its embedding is
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


# What a recipe adds to a run given known labels: under the strong recipe's SGD at
# learning rate 1 the label term at weight 0.1 turned non-finite on COIL-20 (seed 1 of
# seeds 1-4, 10 % labels); 0.03 trained every seed (BUILD_NOTES, "Known labels").
LABELLED: dict[str, dict] = {"paper": {}, "strong": {"label_weight": 0.03}}


def labelled_settings(recipe: str) -> dict:
    """The Config values ``recipe`` sets for a run given known labels."""
    if recipe not in LABELLED:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(LABELLED)}")
    return dict(LABELLED[recipe])


def recipe_settings(recipe: str, method: str, labelled: bool = False) -> dict:
    """The Config values ``recipe`` sets for ``method`` (empty without an autoencoder),
    with those for a run given known labels when ``labelled``."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    spec = get_method(method)
    if spec.features != "autoencoder":
        return {}
    named = dict(RECIPES[recipe]["sparse" if spec.sparse else "plain"])
    return {**named, **labelled_settings(recipe)} if labelled else named


def recipe_config(
    recipe: str, method: str = "dssec", labelled: bool = False, **overrides
) -> Config:
    """Config of ``method`` at ``recipe``, with ``overrides`` on top: library defaults <
    recipe < overrides; with the recipe's settings for a run given known labels when
    ``labelled`` or ``label_fraction`` is among the overrides.

    >>> recipe_config("strong", "idec").learning_rate
    1.0
    >>> recipe_config("strong", "dssec", labelled=True).label_weight
    0.03
    """
    labelled = labelled or bool(overrides.get("label_fraction"))
    return Config(**{"method": method, **recipe_settings(recipe, method, labelled), **overrides})


def apply_recipe(recipe: str, cfg: Config, labelled: bool = False) -> Config:
    """``cfg`` with every setting that ``recipe`` names and ``cfg`` leaves at its library
    default taken from the recipe (a setting changed from its default wins); those for
    known labels too when ``labelled`` or ``cfg.label_fraction``."""
    default = Config()
    named = recipe_settings(recipe, cfg.method, labelled or bool(cfg.label_fraction))
    chosen = {k: v for k, v in named.items() if getattr(cfg, k) == getattr(default, k)}
    floor = chosen.get("sparsity_floor")
    if floor is not None and 0 < cfg.rho < 1 and not floor < cfg.rho:  # a bad rho: Config's
        raise ValueError(
            f"recipe {recipe!r} sets sparsity_floor={floor:g}, which must lie below "
            f"rho={cfg.rho:g}; pass a floor below your rho yourself (e.g. "
            f"sparsity_floor={cfg.rho / 10:g}, a tenth of it, as the recipe's is)"
        )
    return dataclasses.replace(cfg, **chosen)

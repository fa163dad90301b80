"""The sparse autoencoder under DEC-keras's pretraining recipe (SGD at learning rate 1,
momentum 0.9, VarianceScaling(1/3)): on COIL-20 the unbounded KL's derivative (rho /
rho_hat for units that are barely active) outweighs the reconstruction's gradient 18-53
times at the first step, the rates overshoot towards 1, the activations grow a hundredfold
and the loss turns non-finite within two epochs. With the KL linear below a floor rate it
trains."""

import dataclasses

import jax
import numpy as np
import pytest

from dssec_jax.data import load_dataset
from dssec_jax.methods import Config
from dssec_jax.pretraining import pretrain
from dssec_jax.validation import NonFiniteLossError

RECIPE = Config(
    method="sae_kmeans",
    init="variance_scaling",
    pretrain_optimizer="sgd",
    learning_rate=1.0,
    pretrain_epochs=6,
)


@pytest.fixture(scope="module")
def coil20(data_dir):
    return load_dataset("coil20", data_dir=str(data_dir)).x


def test_the_unbounded_kl_diverges_under_the_recipe(coil20):
    with pytest.raises(NonFiniteLossError):
        pretrain(coil20, RECIPE, jax.random.PRNGKey(0))


def test_the_kl_floor_keeps_the_recipe_finite_and_learning(coil20):
    cfg = dataclasses.replace(RECIPE, sparsity_floor=0.005)
    _, history = pretrain(coil20, cfg, jax.random.PRNGKey(0))
    rec = [h["reconstruction"] for h in history]
    assert all(np.isfinite(h["loss"]) for h in history)
    assert rec[-1] < 0.5 * rec[0]  # the autoencoder forms: reconstruction error halves

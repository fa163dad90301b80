"""The stacked (sparse) autoencoder as a Flax NNX module, for researchers who build their
models in Flax. A thin shell over the pure functions: the module holds the weights as
``nnx.Param`` in ``sae.init_params``'s layout and calls ``sae.forward`` on them, so it
computes exactly what the library's training loops compute.

NNX rather than Linen: it is Flax's recommended API since 0.8, the module owns its state
(no separate ``init``/``apply``), and ``nnx.split``/``nnx.merge`` give a pytree for our
functional code when needed.
"""

from __future__ import annotations

from typing import Sequence

import jax
from flax import nnx

from . import losses, sae


class Dense(nnx.Module):
    """One layer's weights, ``w`` (d_in, d_out) and ``b`` (d_out,), as parameters."""

    def __init__(self, w: jax.Array, b: jax.Array):
        self.w, self.b = nnx.Param(w), nnx.Param(b)


class SparseAutoencoder(nnx.Module):
    """Encoder ``dims[0] -> ... -> dims[-1]`` and its mirror decoder.

    ``model(x)`` returns ``(z, x_hat, hidden)`` as :func:`dssec_jax.sae.forward`;
    ``model.sparsity_penalty(hidden)`` is :func:`dssec_jax.losses.sparsity_penalty` on the
    chosen layers. ``SparseAutoencoder.from_params`` wraps trained parameters (for example
    ``DSSEC().fit(x).params_``) and ``model.params()`` returns them in the pure layout.
    """

    def __init__(
        self,
        dims: Sequence[int] = (),
        *,
        activation: str | tuple = "relu",
        init: str = "glorot_uniform",
        rngs: nnx.Rngs | None = None,
        params: dict | None = None,
    ):
        if params is None:
            if rngs is None or len(dims) < 2:
                raise ValueError(
                    "pass dims (at least input and embedding size) and rngs, "
                    "or params to wrap trained weights"
                )
            params = sae.init_params(rngs.params(), dims, init=init)
        self.activation = activation
        self.encoder = nnx.List([Dense(p["w"], p["b"]) for p in params["encoder"]])
        self.decoder = nnx.List([Dense(p["w"], p["b"]) for p in params["decoder"]])

    @classmethod
    def from_params(cls, params: dict, activation: str | tuple = "relu") -> "SparseAutoencoder":
        """A module holding ``params`` (``sae.init_params``'s layout); ``activation`` is one
        name or one per hidden layer (of a fitted estimator:
        ``est.fitted_config().hidden_acts()``)."""
        return cls(activation=activation, params=params)

    def params(self) -> dict:
        """The weights as the pure functions take them: {"encoder": [{"w", "b"}], "decoder": ...}."""
        return {
            part: [{"w": layer.w[...], "b": layer.b[...]} for layer in getattr(self, part)]
            for part in ("encoder", "decoder")
        }

    def __call__(self, x: jax.Array, compute_dtype=None):
        """``(z, x_hat, hidden)`` of ``x`` (n, d)."""
        return sae.forward(self.params(), x, self.activation, compute_dtype=compute_dtype)

    def sparsity_penalty(
        self,
        hidden: list,
        layers: Sequence[int] = (0, 1),
        rho: float = 0.05,
        reduction: str = "mean",
        form: str = "ratio",
        floor: float | None = None,
    ) -> jax.Array:
        """Sum over ``layers`` of the KL sparsity penalty on their activations; ``floor``:
        the rate below which it is linear (the strong recipe's ``sparsity_floor``, 0.005)."""
        return losses.sparsity_penalty(
            [hidden[i] for i in layers], rho=rho, reduction=reduction, form=form, floor=floor
        )

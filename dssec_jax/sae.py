"""Stacked (sparse) autoencoder as pure functions over a parameter pytree.

Parameters are ``{"encoder": [layer, ...], "decoder": [layer, ...]}`` with
``layer = {"w": (d_in, d_out), "b": (d_out,)}``. The encoder maps
``dims[0] -> dims[1] -> ... -> dims[-1]`` (hidden layers use the given
activations, the embedding layer is linear); the decoder mirrors it, its hidden
layers reuse the encoder's activations in reverse order and its output is linear.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence, Union

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "elu": jax.nn.elu,
    "linear": lambda h: h,
}

Activations = Union[str, Sequence[str]]


INITIALIZERS = {
    # Keras Dense's default: U(-a, a), a = sqrt(6 / (d_in + d_out)).
    "glorot_uniform": jax.nn.initializers.glorot_uniform(),
    # DEC-keras: VarianceScaling(1/3, fan_in, uniform), U(-a, a), a = sqrt(1 / d_in).
    "variance_scaling": jax.nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
}


def init_layer(key: jax.Array, d_in: int, d_out: int, *, init: str = "glorot_uniform") -> dict:
    """Weight (d_in, d_out) from ``INITIALIZERS[init]`` and zero bias (d_out,)."""
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose from {sorted(INITIALIZERS)}")
    w = INITIALIZERS[init](key, (d_in, d_out), jnp.float32)
    return {"w": w, "b": jnp.zeros((d_out,), jnp.float32)}


def init_params(key: jax.Array, dims: Sequence[int], *, init: str = "glorot_uniform") -> dict:
    """Initialise an autoencoder with encoder dims ``d -> h_1 -> ... -> e`` and its mirror.

    Args:
      key: PRNG key.
      dims: layer sizes, e.g. ``(784, 500, 500, 2000, 10)``.
      init: weight initialiser, a key of ``INITIALIZERS``.

    Returns:
      ``{"encoder": [{"w", "b"}, ...], "decoder": [...]}``.
    """
    dims = tuple(int(d) for d in dims)
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must hold at least two positive sizes, got {dims}")
    n = len(dims) - 1
    keys = jax.random.split(key, 2 * n)
    encoder = [init_layer(keys[i], dims[i], dims[i + 1], init=init) for i in range(n)]
    rdims = dims[::-1]
    decoder = [init_layer(keys[n + i], rdims[i], rdims[i + 1], init=init) for i in range(n)]
    return {"encoder": encoder, "decoder": decoder}


def hidden_activations(params: dict, activations: Activations) -> tuple[str, ...]:
    """Expand ``activations`` (one name, or one per hidden layer) to a tuple per hidden layer."""
    n_hidden = len(params["encoder"]) - 1
    if isinstance(activations, str):
        acts = (activations,) * n_hidden
    else:
        acts = tuple(activations)
    if len(acts) != n_hidden:
        raise ValueError(f"expected {n_hidden} hidden activations, got {len(acts)}: {acts}")
    unknown = [a for a in acts if a not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {sorted(ACTIVATIONS)}")
    return acts


def dense(
    layer: dict, x: ArrayLike, activation: str = "linear", *, compute_dtype: jnp.dtype | None = None
) -> jax.Array:
    """``act(x @ w + b)``; with ``compute_dtype`` (e.g. bfloat16) the matmul inputs are cast
    to it and the product is accumulated and returned in float32 (``low_precision_matmul``:
    the backward products take ``compute_dtype`` inputs too)."""
    x = jnp.asarray(x)
    if compute_dtype is None:
        y = x @ layer["w"]
    else:
        y = low_precision_matmul(jnp.dtype(compute_dtype))(x, layer["w"])
    return ACTIVATIONS[activation](y + layer["b"])


def _dot(a: jax.Array, b: jax.Array, contract: tuple) -> jax.Array:
    """``lax.dot_general`` of 2-D ``a``, ``b`` over dims ``contract``, float32 accumulation."""
    dims = (((contract[0],), (contract[1],)), ((), ()))
    return lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)


@functools.lru_cache(maxsize=None)
def low_precision_matmul(dtype: jnp.dtype) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``matmul(x, w)``: x (..., d_in) @ w (d_in, d_out) with the inputs cast to ``dtype``
    and float32 accumulation and result. Its backward pass casts the cotangent g to
    ``dtype`` as well, so dx = g w^T and dw = x^T g are ``dtype`` products: differentiated
    by JAX, a float32 g would promote both to float32 products, and bf16 training would run
    its backward pass at float32 speed. For dw on the CPU, x^T is made a row-major copy
    first (see the comment in the backward pass). Meant for bfloat16 (a float16 cotangent
    would need loss scaling); reverse mode only (``jax.jvp`` through it is refused)."""

    @jax.custom_vjp
    def matmul(x, w):
        return jnp.dot(x.astype(dtype), w.astype(dtype), preferred_element_type=jnp.float32)

    def fwd(x, w):
        xc, wc = x.astype(dtype), w.astype(dtype)
        y = _dot(xc.reshape(-1, xc.shape[-1]), wc, (1, 0)).reshape(*x.shape[:-1], w.shape[-1])
        return y, (xc, wc, jnp.zeros((), x.dtype), jnp.zeros((), w.dtype))

    def bwd(res, g):
        xc, wc, x0, w0 = res
        g2 = g.astype(dtype).reshape(-1, g.shape[-1])
        dx = _dot(g2, wc, (1, 1)).reshape(xc.shape)
        # x^T as a row-major copy: XLA's CPU back end runs a bf16 product whose left operand
        # is contracted over its first dimension in float32 (it converts both operands),
        # and it would fold a plain transpose back into the product; flattened behind an
        # optimization barrier the transpose is a real copy and the product stays bf16
        # (on the CPU only: other back ends take a transposed operand as it is)
        x2 = xc.reshape(-1, xc.shape[-1])

        def row_major(a):
            t = lax.optimization_barrier(a.T.reshape(-1)).reshape(a.shape[1], a.shape[0])
            return _dot(t, g2, (1, 0))

        dw = lax.platform_dependent(x2, cpu=row_major, default=lambda a: _dot(a, g2, (0, 0)))
        return dx.astype(x0.dtype), dw.astype(w0.dtype)

    matmul.defvjp(fwd, bwd)
    return matmul


def apply_stack(
    layers: Sequence[dict],
    x: ArrayLike,
    acts: Sequence[str],
    *,
    compute_dtype: jnp.dtype | None = None,
) -> tuple[jax.Array, list[jax.Array]]:
    """Apply dense layers in turn; returns the output and every layer's output."""
    outs = []
    h = jnp.asarray(x)
    for layer, act in zip(layers, acts):
        h = dense(layer, h, act, compute_dtype=compute_dtype)
        outs.append(h)
    return h, outs


def encode_with_hidden(
    params: dict,
    x: ArrayLike,
    activations: Activations = "relu",
    *,
    compute_dtype: jnp.dtype | None = None,
) -> tuple[jax.Array, list[jax.Array]]:
    """Embedding z = f(x) (n, e) and the encoder's hidden activations [(n, h_1), ...]."""
    acts = hidden_activations(params, activations) + ("linear",)
    z, outs = apply_stack(params["encoder"], x, acts, compute_dtype=compute_dtype)
    return z, outs[:-1]


def encode(
    params: dict,
    x: ArrayLike,
    activations: Activations = "relu",
    *,
    compute_dtype: jnp.dtype | None = None,
) -> jax.Array:
    """Embedding z = f(x).

    Args:
      params: the autoencoder (:func:`init_params`).
      x: inputs, (n, d).
      activations: one name for every hidden layer, or one per layer.
      compute_dtype: matmul input dtype (None: float32; ``jnp.bfloat16``).

    Returns:
      z, (n, e).
    """
    return encode_with_hidden(params, x, activations, compute_dtype=compute_dtype)[0]


def decode(
    params: dict,
    z: ArrayLike,
    activations: Activations = "relu",
    *,
    compute_dtype: jnp.dtype | None = None,
) -> jax.Array:
    """Reconstruction x_hat = g(z); arguments as :func:`encode`, with z (n, e).

    Returns:
      x_hat, (n, d).
    """
    acts = hidden_activations(params, activations)[::-1] + ("linear",)
    return apply_stack(params["decoder"], z, acts, compute_dtype=compute_dtype)[0]


def forward(
    params: dict,
    x: ArrayLike,
    activations: Activations = "relu",
    *,
    compute_dtype: jnp.dtype | None = None,
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """Full pass; arguments as :func:`encode`.

    Returns:
      ``(z, x_hat, hidden)``: ``hidden`` lists the encoder's hidden activations, which the
      sparsity penalty needs.
    """
    z, hidden = encode_with_hidden(params, x, activations, compute_dtype=compute_dtype)
    return z, decode(params, z, activations, compute_dtype=compute_dtype), hidden


def rescale_embedding(params: dict, s: ArrayLike) -> dict:
    """The same autoencoder with its embedding scaled by ``s``: z' = s z (last encoder
    layer's W and b times s), the decoder's first W divided by s, so x_hat is unchanged.
    Computed with jnp on float32 whatever the leaves are (NumPy after a checkpoint restore,
    jax.Array after training), so a resumed run rescales bit for bit like a fresh one."""
    s = jnp.asarray(s, jnp.float32)
    enc, dec = list(params["encoder"]), list(params["decoder"])
    enc[-1] = {"w": jnp.asarray(enc[-1]["w"]) * s, "b": jnp.asarray(enc[-1]["b"]) * s}
    dec[0] = {**dec[0], "w": jnp.asarray(dec[0]["w"]) / s}
    return {"encoder": enc, "decoder": dec}


def input_weight_share(params: dict, inputs: ArrayLike) -> float:
    """Share of the first encoder layer's squared weight mass on the input features
    ``inputs`` (indices or a boolean mask over the d inputs):
    sum_{i in inputs} ||W_i||^2 / sum_i ||W_i||^2, with W_i the weights leaving input i.
    Equal weight everywhere gives |inputs| / d; an encoder that ignores those inputs gives 0.
    """
    w = jnp.asarray(params["encoder"][0]["w"], jnp.float32)
    mass = jnp.sum(w * w, axis=1)
    return float(jnp.sum(mass[jnp.asarray(inputs)]) / jnp.sum(mass))

"""Two bf16 products that ``benchmarks.bf16_backward`` times against the library's
(``sae.low_precision_matmul``): the former library product, whose backward pass XLA derives
(its products then run in float32), and a product whose backward pass feeds XLA
row-major copies of both transposed operands (measured slower than XLA's own earlier)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from dssec_jax import sae


def low_dot(a, b, dtype):
    """a @ b with inputs cast to ``dtype`` and float32 accumulation (XLA's own backward)."""
    return jnp.dot(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def row_major_matmul(x, w, dtype):
    """x (n, d_in) @ w (d_in, d_out) in ``dtype`` with float32 accumulation; the backward
    products dx = g W^T and dW = x^T g take transposed copies made row-major first (behind
    ``lax.optimization_barrier``, so XLA cannot fold the transposes back in)."""
    return low_dot(x, w, dtype)


def _fwd(x, w, dtype):
    return low_dot(x, w, dtype), (x.astype(dtype), w.astype(dtype))


def _bwd(dtype, res, g):
    xc, wc = res
    xt, wt = jax.lax.optimization_barrier((xc.T, wc.T))
    return low_dot(g, wt, dtype), low_dot(xt, g, dtype)


row_major_matmul.defvjp(_fwd, _bwd)


def row_major_dense(layer, x, activation="linear", compute_dtype=None):
    """``sae.dense`` with ``row_major_matmul`` for the product (2-D x, bf16 only)."""
    y = row_major_matmul(jnp.asarray(x), layer["w"], compute_dtype)
    return sae.ACTIVATIONS[activation](y + layer["b"])


def xla_backward_dense(layer, x, activation="linear", compute_dtype=None):
    """``sae.dense`` with the product ``low_dot``: the backward pass is XLA's own."""
    y = low_dot(jnp.asarray(x), layer["w"], compute_dtype)
    return sae.ACTIVATIONS[activation](y + layer["b"])

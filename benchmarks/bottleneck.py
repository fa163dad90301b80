"""Where a pretraining step's time goes, in float32 and bfloat16 (and PyTorch's matmul).

    python -m benchmarks.bottleneck [--compare_torch]

For the MNIST-shaped autoencoder (784-500-500-2000-10 and mirror, batch 256, relu, no
sparsity) it times, per precision, one compiled call of:
  matmuls   only the products a train step needs: per layer y = x W, dW = x^T g and
            (not for the first layer) dx = g W^T, inputs in the compute dtype,
            accumulated in float32; also each kind alone, and the two backward kinds
            with x^T and W^T transposed before the program (dw_pre, dx_pre), which
            shows whether an operand's layout decides the speed;
  grad      loss and gradients (jax.grad), no optimizer;
  step      gradients and the Adam update (what training runs);
  adam      the Adam update alone on given gradients;
and reports each in ms per step and as a share of ``step``. With --compare_torch it times
the same matmul triplets with torch.mm (float32 and bfloat16): the ratio of XLA's to
PyTorch's matmul time bounds how much faster than a PyTorch loop a step can be when both
loops spend their time in matmuls. Table to stdout, JSON to --bottleneck_out.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from absl import app, flags

from benchmarks import machine
from dssec_jax import sae, train
from dssec_jax.checkpoint import atomic_write_json

from .throughput import dims, flops_per_sample, layer_pairs, median_time

flags.DEFINE_string("bottleneck_out", "benchmarks/results/bottleneck.json", "JSON output path")
FLAGS = flags.FLAGS

REPS = 40  # calls per timed repeat


def timed_ms(call) -> float:
    """Median ms of one ``call()`` (which must block), over --repeats groups of REPS calls."""

    def run():
        for _ in range(REPS):
            call()

    return median_time(run, FLAGS.repeats) / REPS * 1e3


PRODUCTS = {
    "fwd": lambda x, w, g, xt, wt: (x, w),
    "dw": lambda x, w, g, xt, wt: (x.T, g),
    "dx": lambda x, w, g, xt, wt: (g, w.T),
    # the same products with x^T and W^T transposed before the program (row-major inputs)
    "dw_pre": lambda x, w, g, xt, wt: (xt, g),
    "dx_pre": lambda x, w, g, xt, wt: (g, wt),
}
STEP_PRODUCTS = ("fwd", "dw", "dx")


def operand_pairs(ops, kinds):
    """(a, b) of every product ``a @ b`` of ``kinds`` over the layers' (x, w, g, x^T, W^T);
    the first layer has no input gradient."""
    return [
        PRODUCTS[k](*o) for i, o in enumerate(ops) for k in kinds if i > 0 or not k.startswith("dx")
    ]


def matmul_fn(cd, kinds=STEP_PRODUCTS):
    """The products of one train step on random operands (x, w, g per layer): forward
    x W, weight gradient x^T g, input gradient g W^T (none for the first layer)."""

    def products(ops):
        return [
            jnp.dot(a, b, preferred_element_type=jnp.float32) for a, b in operand_pairs(ops, kinds)
        ]

    key = jax.random.PRNGKey(0)
    B, dt = FLAGS.batch_size, cd or jnp.float32
    ops = []
    for a, b in layer_pairs():
        x, w = jax.random.normal(key, (B, a), dt), jax.random.normal(key, (a, b), dt)
        ops.append((x, w, jax.random.normal(key, (B, b), dt), jnp.array(x.T), jnp.array(w.T)))
    f = jax.jit(products)
    return lambda: jax.block_until_ready(f(ops))


def step_fns(cd):
    """(grad only, grad + Adam, Adam alone) as blocking zero-argument calls."""
    acts = ("relu",) * 3
    loss = functools.partial(
        train.autoencoder_loss,
        acts=acts,
        sparse_layers=(),
        reduction="mean",
        form="ratio",
        compute_dtype=cd,
    )
    params = sae.init_params(jax.random.PRNGKey(0), dims())
    opt = optax.adam(1e-3)
    hp = train.hyper(beta=1.0, rho=0.05)
    xb = jax.random.uniform(jax.random.PRNGKey(1), (FLAGS.batch_size, FLAGS.dim))

    def grads(p, x):
        return jax.grad(loss, has_aux=True)(p, x, hp)[0]

    def update(p, s, g):
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    grad, adam = jax.jit(grads), jax.jit(update)
    step = jax.jit(lambda p, s, x: update(p, s, grads(p, x)))
    state = opt.init(params)
    g0 = grad(params, xb)
    return (
        lambda: jax.block_until_ready(grad(params, xb)),
        lambda: jax.block_until_ready(step(params, state, xb)),
        lambda: jax.block_until_ready(adam(params, state, g0)),
    )


def torch_matmul_ms(dtype_name: str) -> float:
    import torch

    dt = {"float32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    B = FLAGS.batch_size
    ops = [
        (
            torch.randn(B, a, dtype=dt),
            torch.randn(a, b, dtype=dt),
            torch.randn(B, b, dtype=dt),
            None,
            None,
        )
        for a, b in layer_pairs()
    ]

    def call():
        for a, b in operand_pairs(ops, STEP_PRODUCTS):
            torch.mm(a, b)

    return timed_ms(call)


def main(argv):
    step_gflop = flops_per_sample("train") * FLAGS.batch_size / 1e9
    res = {
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "network": list(dims()),
        "batch_size": FLAGS.batch_size,
        "step_gflop": step_gflop,
        "precisions": {},
    }
    for name in ("float32", "bf16"):
        cd = train.dtype_of(name)
        grad, step, adam = step_fns(cd)
        ms = {f"matmuls_{k}": timed_ms(matmul_fn(cd, (k,))) for k in PRODUCTS}
        ms |= {
            "matmuls": timed_ms(matmul_fn(cd)),
            "grad": timed_ms(grad),
            "step": timed_ms(step),
            "adam": timed_ms(adam),
        }
        res["precisions"][name] = ms
    if FLAGS.compare_torch:
        res["torch_matmuls_ms"] = {n: torch_matmul_ms(n) for n in ("float32", "bf16")}
    print(f"train step: {step_gflop:.2f} GFLOP (batch {FLAGS.batch_size}); ms per step")
    print(
        f"{'precision':10s} {'matmuls':>8s} {'grad':>8s} {'adam':>8s} {'step':>8s} "
        f"{'matmul share':>13s} {'matmul GFLOP/s':>15s}"
    )
    for name, ms in res["precisions"].items():
        print(
            f"{name:10s} {ms['matmuls']:8.2f} {ms['grad']:8.2f} {ms['adam']:8.2f} "
            f"{ms['step']:8.2f} {ms['matmuls'] / ms['step']:13.0%} "
            f"{step_gflop / ms['matmuls'] * 1e3:15.1f}"
        )
    for name, ms in res["precisions"].items():
        print(
            f"{name} matmuls by kind (ms): "
            + ", ".join(f"{k} {ms['matmuls_' + k]:.2f}" for k in PRODUCTS)
        )
    for name, t in res.get("torch_matmuls_ms", {}).items():
        xla = res["precisions"][name]["matmuls"]
        print(
            f"torch.mm {name}: {t:.2f} ms ({step_gflop / t * 1e3:.1f} GFLOP/s); "
            f"XLA/torch matmul time {xla / t:.2f}"
        )
    atomic_write_json(FLAGS.bottleneck_out, machine.record(res, dims(), FLAGS.batch_size))


if __name__ == "__main__":
    app.run(main)

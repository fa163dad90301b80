"""bf16 training step with and without the row-major backward products, side by side.

    python -m benchmarks.bf16_backward [--n=70000] [--steps=60] [--repeats=3] [--rounds=2]

Times the compiled pretraining step (MNIST shape, ReLU, sparsity on layers 0 and 1, Adam)
in samples/s for three variants, interleaved over --rounds rounds in one process:
  float32     plain float32 products;
  bf16_plain  bf16 products whose backward pass XLA derives itself (transposed operands);
  bf16_vjp    ``sae.low_precision_matmul``: the library's bf16 product, whose backward pass
              feeds row-major transposed copies.
Table to stdout, JSON to --out.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from absl import app, flags

from dssec_jax import sae, train
from dssec_jax.checkpoint import atomic_write_json

from .throughput import dims, median_time

flags.DEFINE_integer("rounds", 2, "interleaved rounds of the three variants")
flags.DEFINE_string("bf16_out", "benchmarks/results/bf16_backward.json", "JSON output path")
FLAGS = flags.FLAGS


def _plain_low_matmul(x, w, dtype):
    return sae._low_dot(x, w, dtype)


def step_rate(x, compute_dtype, matmul) -> float:
    """Pretraining samples/s with ``sae.low_precision_matmul`` replaced by ``matmul``."""
    original = sae.low_precision_matmul
    sae.low_precision_matmul = matmul
    train.autoencoder_steps.cache_clear()
    try:
        fn = train.autoencoder_steps(("relu",) * 3, (0, 1), "mean", "ratio", compute_dtype,
                                     ("adam", 1e-3, 0.0), (FLAGS.steps, FLAGS.batch_size))
        params = sae.init_params(jax.random.PRNGKey(0), dims())
        state = [params, train.make_optimizer("adam", 1e-3).init(params)]
        hp = train.hyper(beta=1.0, rho=0.05)

        def run():
            state[0], state[1], parts = fn(state[0], state[1], x, jax.random.PRNGKey(1),
                                           FLAGS.steps, hp)
            jax.block_until_ready(parts)

        run()  # compile
        return FLAGS.steps * FLAGS.batch_size / median_time(run, FLAGS.repeats)
    finally:
        sae.low_precision_matmul = original
        train.autoencoder_steps.cache_clear()


def main(argv):
    x = jax.random.uniform(jax.random.PRNGKey(0), (FLAGS.n, FLAGS.dim))
    variants = {"float32": (None, sae.low_precision_matmul),
                "bf16_plain": (jnp.bfloat16, _plain_low_matmul),
                "bf16_vjp": (jnp.bfloat16, sae.low_precision_matmul)}
    rounds = []
    for _ in range(FLAGS.rounds):
        rounds.append({k: step_rate(x, cd, mm) for k, (cd, mm) in variants.items()})
    print(f"pretraining samples/s, batch {FLAGS.batch_size}, {FLAGS.steps} steps per call")
    print("| round | float32 | bf16, XLA's backward | bf16, row-major backward | vjp / plain | vjp / float32 |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rounds):
        print(f"| {i + 1} | {r['float32']:.0f} | {r['bf16_plain']:.0f} | {r['bf16_vjp']:.0f} | "
              f"{r['bf16_vjp'] / r['bf16_plain']:.2f}x | {r['bf16_vjp'] / r['float32']:.2f}x |")
    atomic_write_json(FLAGS.bf16_out, {"rounds": rounds, "device": str(jax.devices()[0]),
                                       "n": FLAGS.n, "batch_size": FLAGS.batch_size,
                                       "date": time.strftime("%Y-%m-%d")})


if __name__ == "__main__":
    app.run(main)

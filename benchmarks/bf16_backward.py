"""bf16 training step with and without row-major backward products, side by side.

    python -m benchmarks.bf16_backward [--n=70000] [--steps=60] [--repeats=3] [--rounds=2]

The library's bf16 products (``sae.dense`` with ``compute_dtype=bfloat16``) leave the
backward pass to XLA, which feeds the weight- and input-gradient products transposed
operands. This benchmark tries the alternative that BUILD_NOTES ("Where the step's time
goes") pointed to: a custom VJP whose backward pass computes dx = g W^T and dW = x^T g from
transposed copies made row-major first (behind ``lax.optimization_barrier``, so XLA cannot
fold the transposes back into the products). It times the compiled pretraining step (MNIST
shape, ReLU, sparsity on layers 0 and 1, Adam) in samples/s for float32, the library's bf16
and the row-major bf16, interleaved over --rounds rounds in one process. Table to stdout,
JSON to --bf16_out. (Measured slower than the library's bf16 on this project's CPU, so the
variant lives in ``benchmarks.row_major`` and not in the library.)
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from absl import app, flags

from benchmarks import machine
from dssec_jax import sae, train
from dssec_jax.checkpoint import atomic_write_json

from .row_major import row_major_dense
from .throughput import dims, median_time

flags.DEFINE_integer("rounds", 2, "interleaved rounds of the three variants")
flags.DEFINE_string("bf16_out", "benchmarks/results/bf16_backward.json", "JSON output path")
FLAGS = flags.FLAGS


def step_rate(x, compute_dtype, dense) -> float:
    """Pretraining samples/s with ``sae.dense`` replaced by ``dense``."""
    original = sae.dense
    sae.dense = dense
    train.autoencoder_steps.cache_clear()
    try:
        fn = train.autoencoder_steps(
            train.Net(("relu",) * 3, (0, 1), compute_dtype=compute_dtype),
            train.Optimizer("adam", 1e-3),
            steps=FLAGS.steps,
            batch_size=FLAGS.batch_size,
        )
        params = sae.init_params(jax.random.PRNGKey(0), dims())
        state = [train.init_state(params, train.make_optimizer("adam", 1e-3))]
        hp = train.hyper(beta=1.0, rho=0.05)

        def run():
            state[0], parts = fn(state[0], x, jax.random.PRNGKey(1), FLAGS.steps, hp)
            jax.block_until_ready(parts)

        run()  # compile
        return FLAGS.steps * FLAGS.batch_size / median_time(run, FLAGS.repeats)
    finally:
        sae.dense = original
        train.autoencoder_steps.cache_clear()


def main(argv):
    x = jax.random.uniform(jax.random.PRNGKey(0), (FLAGS.n, FLAGS.dim))
    variants = {
        "float32": (None, sae.dense),
        "bf16": (jnp.bfloat16, sae.dense),
        "bf16_row_major": (jnp.bfloat16, row_major_dense),
    }
    rounds = [
        {k: step_rate(x, cd, dense) for k, (cd, dense) in variants.items()}
        for _ in range(FLAGS.rounds)
    ]
    print(f"pretraining samples/s, batch {FLAGS.batch_size}, {FLAGS.steps} steps per call")
    print(
        "| round | float32 | bf16 (library) | bf16, row-major backward | row-major / library "
        "| library bf16 / float32 |"
    )
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rounds):
        print(
            f"| {i + 1} | {r['float32']:.0f} | {r['bf16']:.0f} | {r['bf16_row_major']:.0f} | "
            f"{r['bf16_row_major'] / r['bf16']:.2f}x | {r['bf16'] / r['float32']:.2f}x |"
        )
    atomic_write_json(
        FLAGS.bf16_out,
        machine.record(
            {
                "rounds": rounds,
                "n": FLAGS.n,
                "batch_size": FLAGS.batch_size,
                "date": time.strftime("%Y-%m-%d"),
            }
        ),
    )


if __name__ == "__main__":
    app.run(main)

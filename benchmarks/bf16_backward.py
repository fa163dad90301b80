"""bf16 training steps with three backward passes, side by side with float32.

    python -m benchmarks.bf16_backward [--n=70000] [--steps=60] [--repeats=3] [--rounds=2]

The library's bf16 product (``sae.dense`` with ``compute_dtype=bfloat16``, that is
``sae.low_precision_matmul``) casts the cotangent to bf16 and gives the weight gradient a
row-major copy of x^T, so all three products of a layer are bf16 products. The variants:
the former library product, whose backward pass XLA derives (a float32 cotangent makes both
backward products float32), and one that makes row-major copies of both transposed operands
(``benchmarks.row_major``). It times the compiled pretraining step (MNIST shape, ReLU,
sparsity on layers 0 and 1, Adam) in samples/s, interleaved over --rounds rounds in one
process, with the machine's own float32 and bf16 matmul rates (``benchmarks.machine``).
Table to stdout, JSON to --bf16_out.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from absl import app, flags

from benchmarks import machine
from dssec_jax import sae, train
from dssec_jax.checkpoint import atomic_write_json

from .row_major import row_major_dense, xla_backward_dense
from .throughput import dims, flops_per_sample, pretrain_rate

flags.DEFINE_integer("rounds", 2, "interleaved rounds of the three variants")
flags.DEFINE_string("bf16_out", "benchmarks/results/bf16_backward.json", "JSON output path")
FLAGS = flags.FLAGS


def step_rate(x, compute_dtype, dense) -> float:
    """Pretraining samples/s with ``sae.dense`` replaced by ``dense``."""
    original = sae.dense
    sae.dense = dense
    train.autoencoder_steps.cache_clear()
    try:
        return pretrain_rate(("relu",) * 3, (0, 1), x, compute_dtype)
    finally:
        sae.dense = original
        train.autoencoder_steps.cache_clear()


def main(argv):
    x = jax.random.uniform(jax.random.PRNGKey(0), (FLAGS.n, FLAGS.dim))
    variants = {
        "float32": (None, sae.dense),
        "bf16": (jnp.bfloat16, sae.dense),
        "bf16_xla_backward": (jnp.bfloat16, xla_backward_dense),
        "bf16_row_major": (jnp.bfloat16, row_major_dense),
    }
    rounds = [
        {k: step_rate(x, cd, dense) for k, (cd, dense) in variants.items()}
        for _ in range(FLAGS.rounds)
    ]
    print(f"pretraining samples/s, batch {FLAGS.batch_size}, {FLAGS.steps} steps per call")
    print("| round | " + " | ".join(variants) + " | bf16 / float32 |")
    print("|---|" + "---|" * (len(variants) + 1))
    for i, r in enumerate(rounds):
        cells = " | ".join(f"{r[k]:.0f}" for k in variants)
        print(f"| {i + 1} | {cells} | {r['bf16'] / r['float32']:.2f}x |")
    out = machine.record(
        {
            "rounds": rounds,
            "n": FLAGS.n,
            "network": list(dims()),
            "batch_size": FLAGS.batch_size,
            "date": time.strftime("%Y-%m-%d"),
        },
        dims(),
        FLAGS.batch_size,
    )
    # each variant's share of this process's dot rate at its own precision
    dot = out["machine"]["dot_gflops"]
    step = flops_per_sample("train")
    out["fraction_of_matmul"] = [
        {k: r[k] * step / 1e9 / dot["float32" if k == "float32" else "bf16"] for k in variants}
        for r in rounds
    ]
    for i, f in enumerate(out["fraction_of_matmul"]):
        print(f"round {i + 1}, of the dot rate: " + ", ".join(f"{k} {v:.0%}" for k, v in f.items()))
    atomic_write_json(
        FLAGS.bf16_out,
        out,
    )


if __name__ == "__main__":
    app.run(main)

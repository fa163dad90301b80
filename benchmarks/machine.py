"""The machine a benchmark ran on, and its own matmul bound: every speed figure is stated
against the processor it was measured on and the rate of ``jnp.dot`` on the layer shapes
in the same process (machines differ, even hosts sold as the same kind).

    python -m benchmarks.machine        # this machine, as each benchmark records it

DSSEC_BENCH_TINY=1 measures the bound with 2 timed calls instead of 3 x 50 (the tests' smoke
runs; the rate it then gives means little, and the record says so: ``bound_from_tiny``).
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from dssec_jax import processor

MNIST_LAYERS = (784, 500, 500, 2000, 10)  # the encoder; the decoder mirrors it


def layer_pairs(dims=MNIST_LAYERS) -> list[tuple[int, int]]:
    """(d_in, d_out) of every dense layer of the autoencoder ``dims`` and its mirror."""
    enc = list(zip(dims[:-1], dims[1:]))
    return enc + [(b, a) for a, b in reversed(enc)]


def flops_per_sample(kind: str, dims=MNIST_LAYERS) -> float:
    """FLOPs per sample of the autoencoder ``dims``: ``forward`` 2 sum(d_in d_out) over the
    encoder and decoder, ``encoder`` half of that (a target refresh), ``train`` 3x the
    forward less the input gradient the first layer does not need."""
    fwd = 2.0 * sum(a * b for a, b in layer_pairs(dims))
    if kind == "forward":
        return fwd
    if kind == "encoder":
        return fwd / 2
    return 3 * fwd - 2.0 * dims[0] * dims[1]


def tiny() -> bool:
    """Whether DSSEC_BENCH_TINY=1 asks for a bound of 2 timed calls (smoke runs)."""
    return os.environ.get("DSSEC_BENCH_TINY") == "1"


def matmul_gflops(dtype, batch: int = 256, pairs=None, reps: int = 50, repeats: int = 3) -> float:
    """GFLOP/s of ``jnp.dot`` (batch, a) @ (a, b) over the layer shapes, inputs of
    ``dtype``, float32 accumulation: the bound a training step of those shapes can reach."""
    pairs = layer_pairs() if pairs is None else pairs
    if tiny():
        reps, repeats = 2, 1
    rng = np.random.default_rng(0)  # drawn on the host: no program to compile per shape
    mats = [
        tuple(
            jnp.asarray(rng.standard_normal(shape, np.float32), dtype)
            for shape in ((batch, a), (a, b))
        )
        for a, b in pairs
    ]
    f = jax.jit(lambda ms: [jnp.dot(x, w, preferred_element_type=jnp.float32) for x, w in ms])
    jax.block_until_ready(f(mats))  # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(reps):
            out = f(mats)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t)
    return reps * sum(2.0 * batch * a * b for a, b in pairs) / float(np.median(times)) / 1e9


def describe(
    with_bound: bool = True, dims=MNIST_LAYERS, batch: int = 256, bound: dict | None = None
) -> dict:
    """Processor model, its vector flags, cores, JAX's device and version, and (with
    ``with_bound``) the same-process float32 and bf16 ``jnp.dot`` rates on the layer
    shapes of the autoencoder ``dims`` at ``batch`` (the network the benchmark times);
    ``bound``: those rates, measured already in this process ({"float32": ..., "bf16": ...})."""
    out = {
        **processor.describe(),
        "cores": os.cpu_count(),
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
    }
    if with_bound:
        pairs = layer_pairs(dims)
        out["dot_gflops"] = bound or {
            "float32": matmul_gflops(jnp.float32, batch, pairs),
            "bf16": matmul_gflops(jnp.bfloat16, batch, pairs),
        }
        out["bound_shapes"] = {"network": list(dims), "batch_size": batch}
        if tiny():
            out["bound_from_tiny"] = True  # 2 timed calls: a smoke run's figure
    return out


def header(machine: dict) -> str:
    """One line naming the machine and its bound, printed first by every benchmark."""
    bound = machine.get("dot_gflops")
    rates = (
        f"; jnp.dot on the layer shapes: float32 {bound['float32']:.0f}, bf16 "
        f"{bound['bf16']:.0f} GFLOP/s" + (" (DSSEC_BENCH_TINY: 2 calls)" if tiny() else "")
        if bound
        else ""
    )
    flags = " ".join(machine["vector_flags"]) or "none known"
    return f"machine: {machine['processor']}, {machine['cores']} cores ({flags}), {machine['device']}{rates}"


def record(result: dict, dims=MNIST_LAYERS, batch: int = 256, bound: dict | None = None) -> dict:
    """``result`` with the machine it was measured on (its bound measured now, in the
    benchmark's own process, on the shapes of the network ``dims`` at ``batch``, unless
    ``bound`` holds it already) first; the machine's line printed."""
    m = describe(dims=dims, batch=batch, bound=bound)
    print(header(m), flush=True)
    return {"machine": m, **result}


if __name__ == "__main__":
    m = describe()
    print(header(m))
    print(json.dumps(m, indent=1))

"""The processor a run trained on: its model and the vector instructions XLA's CPU code
uses. Two processors with different vector units round floating-point sums differently,
so a seed's result can differ between them (a run is deterministic on one processor);
each result records where it was made.
"""

from __future__ import annotations

import platform

# SIMD features that decide the CPU's matmul code and rate (as /proc/cpuinfo names them).
VECTOR_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)


def cpuinfo() -> dict:
    """The first processor's "key: value" lines of /proc/cpuinfo (empty elsewhere)."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def describe() -> dict:
    """{"processor": model name, "vector_flags": [those of VECTOR_FLAGS it has]}."""
    info = cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "processor": info.get("model name") or platform.processor() or platform.machine(),
        "vector_flags": [f for f in VECTOR_FLAGS if f in flags],
    }

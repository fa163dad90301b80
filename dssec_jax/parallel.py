"""Data parallelism over the local devices with ``jax.sharding``.

A 1-D ``Mesh`` with axis ``"data"``: the dataset is sharded by rows (replicated when the
row count does not divide evenly), every minibatch is constrained to be sharded along the
batch axis, parameters and optimizer state are replicated; XLA's SPMD partitioner inserts
the gradient all-reduce. Selected by ``Config.data_parallel``.
"""
from __future__ import annotations

import functools
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = "data"


@functools.lru_cache(maxsize=None)
def data_mesh() -> Mesh:
    """A 1-D mesh over all devices."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the data axis."""
    return NamedSharding(mesh, P(AXIS))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf of ``tree`` on all devices of ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def put_rows(x: Any, mesh: Mesh) -> jax.Array:
    """Shard ``x`` by rows over the mesh (replicate if the rows do not divide evenly)."""
    spec = P(AXIS) if x.shape[0] % mesh.size == 0 else P()
    return jax.device_put(x, NamedSharding(mesh, spec))


def check_batch(batch_size: int, mesh: Optional[Mesh]) -> None:
    if mesh is not None and batch_size % mesh.size:
        raise ValueError(f"batch_size={batch_size} does not divide over {mesh.size} devices; "
                         f"use a multiple of {mesh.size}")

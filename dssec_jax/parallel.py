"""Data parallelism over the local devices with ``jax.sharding``.

A 1-D ``Mesh`` with axis ``"data"``: the dataset is sharded by rows (replicated when the
row count does not divide evenly), every minibatch is constrained to be sharded along the
batch axis, parameters and optimizer state are replicated; XLA's SPMD partitioner inserts
the gradient all-reduce. Selected by ``Config.data_parallel``.

Several hosts: call ``initialize()`` (or set $DSSEC_COORDINATOR, $DSSEC_NUM_PROCESSES,
$DSSEC_PROCESS_ID) before any JAX computation; the mesh then spans every process's
devices, each process materialises only the rows of its own devices, results gathered
to the host are identical on every process, and only process 0 writes files.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"
ENV = ("DSSEC_COORDINATOR", "DSSEC_NUM_PROCESSES", "DSSEC_PROCESS_ID")


def initialize(
    coordinator: Optional[str] = None,
    num_processes: Optional[int] = None,
    process_id: Optional[int] = None,
) -> bool:
    """Join a multi-process run with ``jax.distributed.initialize`` (arguments default to
    $DSSEC_COORDINATOR "host:port", $DSSEC_NUM_PROCESSES, $DSSEC_PROCESS_ID). Returns
    False, doing nothing, when no coordinator is given. Must run before any JAX computation."""
    coordinator = coordinator or os.environ.get(ENV[0])
    if not coordinator:
        return False
    try:
        num_processes = int(num_processes if num_processes is not None else os.environ[ENV[1]])
        process_id = int(process_id if process_id is not None else os.environ[ENV[2]])
    except (KeyError, ValueError) as e:
        raise ValueError(
            f"a multi-process run needs the coordinator address, the number of "
            f"processes and this process's id (set {', '.join(ENV)}): {e}"
        ) from None
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id={process_id} must lie in [0, {num_processes})")
    jax.distributed.initialize(coordinator, num_processes, process_id)
    return True


def is_writer() -> bool:
    """True on the process that writes files (process 0; always true on one host)."""
    return jax.process_index() == 0


@functools.lru_cache(maxsize=None)
def data_mesh() -> Mesh:
    """A 1-D mesh over all devices."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the data axis."""
    return NamedSharding(mesh, P(AXIS))


def _put(x: Any, sharding: NamedSharding) -> jax.Array:
    """A global array from a host value present on every process; each process
    materialises only the blocks of its own devices."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf of ``tree`` on all devices of ``mesh``."""
    return jax.tree.map(lambda a: _put(a, NamedSharding(mesh, P())), tree)


def put_rows(tree: Any, mesh: Mesh) -> Any:
    """Shard every leaf of ``tree`` by rows over the mesh (replicated where the rows do
    not divide evenly)."""

    def put(a):
        spec = P(AXIS) if np.ndim(a) and np.shape(a)[0] % mesh.size == 0 else P()
        return _put(a, NamedSharding(mesh, spec))

    return jax.tree.map(put, tree)


def mesh_for(data_parallel: bool) -> Optional[Mesh]:
    """The data mesh when ``data_parallel``, else None (one device)."""
    return data_mesh() if data_parallel else None


def place(tree: Any, mesh: Optional[Mesh], rows: bool = False) -> Any:
    """Put arrays on the device(s): sharded by rows (data) or replicated (state) over
    ``mesh``, or on the default device without one (``jax.device_put``: one copy of a host
    array, where ``jnp.asarray`` makes two on the CPU)."""
    if mesh is None:
        return jax.device_put(tree)
    return put_rows(tree, mesh) if rows else replicate(tree, mesh)


def to_host(a: Any) -> np.ndarray:
    """The full value of ``a`` as a NumPy array on every process (gathered across
    processes when its blocks live on several hosts)."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable and not a.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def check_batch(batch_size: int, mesh: Optional[Mesh], lowered: bool = False) -> None:
    """ValueError for a batch that does not divide over ``mesh``'s devices (``lowered``:
    the batch is the whole data, lowered from a larger batch_size)."""
    if mesh is None or not batch_size % mesh.size:
        return
    if lowered:
        raise ValueError(
            f"the data's {batch_size} samples (the batch: a batch never exceeds the data) do "
            f"not divide over {mesh.size} devices; pass a multiple of {mesh.size} samples or "
            "data_parallel=False"
        )
    raise ValueError(
        f"batch_size={batch_size} does not divide over {mesh.size} devices; "
        f"use a multiple of {mesh.size}"
    )

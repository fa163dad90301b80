"""Atomic files and checkpoints of training state (Flax msgpack serialisation).

A checkpoint holds a JSON ``meta`` dict and a pytree ``state``. Writes go to a temporary
file that is renamed into place, and the previous checkpoint is kept as ``*.prev``, so a
kill never leaves a corrupt file and a damaged newest file falls back to the previous one.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import stat
import tempfile
import warnings
from typing import Any, Optional

import jax
import numpy as np
from flax import serialization

from .parallel import is_writer


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read."""


def new_file_mode() -> int:
    """The mode ``open`` gives a new file under the process's umask, read from
    /proc/self/status where there is one (setting the umask to read it races with threads
    that create files); elsewhere by setting it and back."""
    try:
        with open("/proc/self/status") as f:
            umask = next(int(ln.split()[1], 8) for ln in f if ln.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _mode_for(path: pathlib.Path) -> int:
    """The mode of the file a write replaces (kept), or that of a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return new_file_mode()


def atomic_write_bytes(path: os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename
    (only on process 0 of a multi-process run; the others write nothing). The file gets the
    mode of the file it replaces, or the one an ordinary new file would (a temporary file is
    the owner's alone)."""
    if not is_writer():
        return
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:  # owns fd from here: closed however this ends
            os.chmod(tmp, _mode_for(path))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: os.PathLike, obj: Any) -> None:
    """JSON-encode ``obj`` (indent 2) and write it atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_save_npz(path: os.PathLike, **arrays) -> None:
    """``np.savez_compressed`` written atomically."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def save(path: os.PathLike, state: Any, meta: dict) -> None:
    """Save pytree ``state`` with JSON-able ``meta``; the old file becomes ``path.prev``."""
    if not is_writer():
        return
    path = pathlib.Path(path)
    payload = {
        "meta": json.dumps(meta),
        "state": serialization.to_state_dict(jax.device_get(state)),
    }
    data = serialization.msgpack_serialize(payload)
    try:  # another process sharing the folder may have moved it a moment ago
        os.replace(path, path.with_name(path.name + ".prev"))
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)


def _read(path: pathlib.Path) -> tuple[dict, Any]:
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        return json.loads(payload["meta"]), payload["state"]
    except Exception as e:  # any decoding failure means a damaged file
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); "
            "delete it to start this stage again"
        ) from e


def load(path: os.PathLike) -> Optional[tuple[dict, Any]]:
    """``(meta, raw state dict)`` of the newest readable checkpoint at ``path``, or None.

    A damaged newest file is reported (a warning), moved aside to ``path.damaged`` where it
    can be (so that the next :func:`save` cannot rotate it over the good ``path.prev``), and
    ``path.prev`` is tried instead.
    """
    path = pathlib.Path(path)
    for candidate in (path, path.with_name(path.name + ".prev")):
        try:
            seen = os.stat(candidate)
        except FileNotFoundError:
            continue
        try:
            return _read(candidate)
        except CheckpointError as e:
            moved = candidate == path and _move_aside(path, seen)
            where = f"moved to {moved}; " if moved else ""
            warnings.warn(f"{e}; {where}trying the previous checkpoint")
    return None


def _move_aside(path: pathlib.Path, seen: os.stat_result) -> Optional[pathlib.Path]:
    """Rename the damaged ``path`` to ``path.damaged`` if it is still the file that was read
    (``seen``: not one another process has saved since) and this process writes; the
    damaged path, or None where it was left (another reader moved it first, a read-only
    folder)."""
    if not is_writer():
        return None
    damaged = path.with_name(path.name + ".damaged")
    try:
        now = os.stat(path)
        if (now.st_ino, now.st_mtime_ns, now.st_size) != (
            seen.st_ino,
            seen.st_mtime_ns,
            seen.st_size,
        ):
            return None
        os.replace(path, damaged)
    except OSError:
        return None
    return damaged


def restore(template: Any, raw_state: Any) -> Any:
    """Rebuild a pytree shaped like ``template`` from a raw state dict; a state of another
    shape (another version's layout, another architecture: a leaf of another shape) is a
    :class:`CheckpointError`."""
    try:
        state = serialization.from_state_dict(template, raw_state)
        _check_shapes(template, state)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"a checkpoint does not fit this run's state ({type(e).__name__}: {e}); it was "
            "written by another version of dssec_jax or for another run"
        ) from e
    return state


def _check_shapes(template: Any, state: Any) -> None:
    """ValueError naming the first leaf of ``state`` whose shape is not the template's
    (Flax's ``from_state_dict`` takes the stored arrays as they are)."""
    for (path, want), got in zip(
        jax.tree_util.tree_flatten_with_path(template)[0], jax.tree.leaves(state)
    ):
        if hasattr(want, "shape") and np.shape(got) != tuple(want.shape):
            raise ValueError(
                f"{jax.tree_util.keystr(path)} is {np.shape(got)} in the checkpoint, "
                f"{tuple(want.shape)} in this run"
            )


def restore_or_drop(store, name: str, template: Any, raw_state: Any) -> Optional[Any]:
    """``restore(template, raw_state)`` of the store's checkpoint ``name``; one that does not
    fit (another version's layout) is reported (a warning) and dropped, and None returned,
    so that its phase starts afresh instead of failing every later run."""
    try:
        return restore(template, raw_state)
    except CheckpointError as e:
        warnings.warn(f"{e}; dropped: that phase starts afresh")
        store.drop(name)
        return None


def check_shared(path: os.PathLike) -> None:
    """In a multi-process run, refuse a checkpoint that is not the same file on every
    process (only process 0 writes, every process reads: without a shared filesystem
    process 0 would resume while the others start afresh). A no-op on one process."""
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    p = pathlib.Path(path)
    digest = hashlib.sha256(p.read_bytes()).digest() if p.exists() else bytes(32)
    mine = np.frombuffer(digest, np.uint32)
    every = np.asarray(multihost_utils.process_allgather(mine))
    if not (every == every[:1]).all():
        raise CheckpointError(
            f"the checkpoint {p} is not the same file on every process (present or different "
            "on some only): process 0 writes and every process reads, so run_dir and "
            "cache_dir must be on a filesystem shared by every process"
        )


def inputs_digest(x: np.ndarray, key: jax.Array) -> str:
    """A short hash of what a run starts from: its data ``x`` and its PRNG ``key``. A
    store's checkpoints carry it, so a store key made by hand and reused for other data or
    another seed is refused, not resumed as if it were this run."""
    x = np.ascontiguousarray(x)
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    h = hashlib.sha256(f"{x.shape} {x.dtype.str}".encode())
    h.update(x.view(np.uint8).data)
    h.update(np.asarray(jax.random.key_data(key) if typed else key).tobytes())
    return h.hexdigest()[:16]


class FileStore:
    """Checkpoints of one run in ``run_dir``; finished pretrained autoencoders in a shared
    ``cache_dir`` under ``pretrain_key`` so runs with equal pretraining settings, data and
    seed share them (the key must name all three: a stored autoencoder or checkpoint of
    other data or another seed is refused, by the digest of the data and key it carries).
    An unfinished pretraining stays in ``run_dir`` (two processes pretraining one key, say
    DEC and IDEC of one seed, must not resume each other's progress).

    ``min_interval_s``: least seconds between two checkpoints within a phase (pretraining
    stage ends and the end of the clustering phase are always saved).
    """

    def __init__(
        self,
        run_dir: os.PathLike,
        cache_dir: os.PathLike,
        pretrain_key: str,
        min_interval_s: float = 60.0,
    ):
        self.run_dir = pathlib.Path(run_dir)
        self.cache_dir = pathlib.Path(cache_dir)
        self.pretrain_key = pretrain_key
        self.min_interval_s = min_interval_s

    def path(self, name: str) -> pathlib.Path:
        if name == "pretrained":
            return self.cache_dir / f"ae_{self.pretrain_key}.ckpt"
        if name == "pretrain_progress":  # named by its key: a shared run_dir never mixes them
            return self.run_dir / f"pretrain_{self.pretrain_key}.partial.ckpt"
        return self.run_dir / f"{name}.ckpt"

    def get(self, name: str) -> Optional[tuple[dict, Any]]:
        check_shared(self.path(name))
        return load(self.path(name))

    def put(self, name: str, state: Any, meta: dict) -> None:
        save(self.path(name), state, meta)

    def drop(self, name: str) -> None:
        if not is_writer():
            return
        p = self.path(name)
        for f in (p, p.with_name(p.name + ".prev")):
            f.unlink(missing_ok=True)

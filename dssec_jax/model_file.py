"""A fitted model as one file: a header, a JSON meta line, and a msgpack body.

    dssec_jax model\\n  {"format": 2, "library": "0.2.0", "sha256": ..., ...}\\n  <msgpack>

The meta holds the library version, the settings and the JSON-able fitted attributes; the
body holds the arrays (Flax's msgpack serialisation, no pickle). The SHA-256 in the meta
covers the rest of the meta and the body, so a truncated or damaged file (a changed
setting included) is refused instead of loaded wrong.

Compatibility: ``FORMAT`` goes up whenever a file gains a setting or a fitted attribute that
an earlier reader would not know. Every version reads every earlier format (a setting
the file lacks takes its default; format 1 lacks the known-label settings), whatever
library version wrote it; a file of a later format is refused with the fix (upgrade).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

import jax
from flax import serialization

from .checkpoint import atomic_write_bytes

MAGIC = b"dssec_jax model\n"
FORMAT = 2


def write(path: os.PathLike, meta: dict, arrays: Any) -> None:
    """Write ``arrays`` (a pytree of arrays) and ``meta`` to ``path`` atomically."""
    body = serialization.msgpack_serialize(serialization.to_state_dict(jax.device_get(arrays)))
    # as read back: string keys, numpy numbers and arrays as Python numbers and lists
    head = json.loads(json.dumps({**meta, "format": FORMAT}, default=lambda o: o.tolist()))
    head["sha256"] = _digest(head, body)
    atomic_write_bytes(path, MAGIC + json.dumps(head).encode() + b"\n" + body)


def _digest(head: dict, body: bytes) -> str:
    """SHA-256 of the meta (canonical JSON, without its own digest) and the body."""
    meta = json.dumps({k: v for k, v in head.items() if k != "sha256"}, sort_keys=True)
    return hashlib.sha256(meta.encode() + b"\n" + body).hexdigest()


def read(path: os.PathLike, library_version: str) -> tuple[dict, Any]:
    """``(meta, raw arrays)`` of a model file; ValueError naming the problem otherwise."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the model file {path} ({e})") from e
    if not data.startswith(MAGIC):
        raise ValueError(
            f"{path} is not a dssec_jax model file (it lacks the header "
            f"{MAGIC!r}); save one with DSSEC.save(path)"
        )
    line, sep, body = data[len(MAGIC) :].partition(b"\n")
    try:
        meta = json.loads(line)
    except ValueError:
        meta = None
    if not sep or not isinstance(meta, dict) or "sha256" not in meta:
        raise ValueError(
            f"the model file {path} is truncated or damaged (its meta line is "
            "unreadable); save the model again"
        )
    fmt = meta.get("format")
    if not isinstance(fmt, int) or not 1 <= fmt <= FORMAT:
        raise ValueError(
            f"{path} was saved by dssec_jax {meta.get('library')} (file format {fmt}), "
            f"and this is dssec_jax {library_version}, which reads formats 1 to {FORMAT}; "
            "upgrade dssec_jax to load it, or refit and save with this version"
        )
    if _digest(meta, body) != meta["sha256"]:
        raise ValueError(
            f"the model file {path} is truncated or damaged (its settings or arrays do not "
            "match the checksum saved with them); save the model again"
        )
    return meta, serialization.msgpack_restore(body)

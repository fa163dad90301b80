"""JAX's persistent compilation cache, on by default for the estimator and the drivers.

A fit compiles its training steps once per process (several seconds on a CPU); with the
cache a new process reads them from disk instead. The folder is
``$DSSEC_COMPILE_CACHE`` or ``~/.cache/dssec_jax/jax_compilation``; set
``DSSEC_COMPILE_CACHE=off`` to leave JAX's setting alone. A cache folder the user has
already given JAX is kept. It sets JAX's process-wide cache settings (the folder, and a
minimum compile time of 0 so that our many short compilations are kept).
"""

from __future__ import annotations

import os
import pathlib
from typing import Optional

import jax

ENV = "DSSEC_COMPILE_CACHE"


def _cache_dir() -> Optional[str]:
    """The compilation cache folder JAX is set to use (None: none)."""
    return getattr(jax.config, "jax_compilation_cache_dir")


def enable() -> Optional[str]:
    """Point JAX's persistent compilation cache at the user cache (unless turned off or
    already set); returns the folder in use, or None."""
    setting = os.environ.get(ENV, "")
    if setting.lower() in ("off", "0", "false", "none"):
        return _cache_dir()
    if _cache_dir():
        return _cache_dir()
    folder = pathlib.Path(setting or pathlib.Path.home() / ".cache/dssec_jax/jax_compilation")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # JAX keeps only programs that took a second or more to compile; ours take less each,
    # and many of them add up to the first fit's seconds
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return str(folder)

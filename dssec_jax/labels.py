"""Known labels for semi-supervised runs: -1 where a label is unknown, 0..K-1 where known
(scikit-learn's convention, as ``LabelSpreading``)."""

from __future__ import annotations

import hashlib

import numpy as np

UNKNOWN = -1


def reveal(y, fraction: float, seed: int = 0) -> np.ndarray:
    """Known labels revealing ``fraction`` of ``y``, stratified: round(fraction n_c) samples
    of each class c (at least one), drawn from ``seed``; -1 elsewhere.

    >>> reveal([0, 0, 1, 1], 0.5, seed=0).tolist().count(-1)
    2
    """
    y = np.asarray(y)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    known = np.full(y.shape, UNKNOWN, np.int32)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        take = rng.choice(rows, max(1, int(round(fraction * rows.size))), replace=False)
        known[take] = c
    return known


def digest(known: np.ndarray) -> str:
    """A short hash of known labels (a cache key must tell apart runs that knew others)."""
    return hashlib.sha256(np.asarray(known, np.int32).tobytes()).hexdigest()[:16]

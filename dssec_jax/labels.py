"""Known labels for semi-supervised runs: -1 where a label is unknown, 0..K-1 where known
(scikit-learn's convention, as ``LabelSpreading``), and the data the label term trains on."""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import ArrayLike

UNKNOWN = -1
# The order label_data gives the known rows in; cache and checkpoint keys name it, so that
# nothing saved under another order is resumed.
KNOWN_ORDER = "shuffled"
# The metrics of a run given some labels, on the samples whose label was not given.
UNKNOWN_METRICS = ("acc_unknown", "nmi_unknown", "ari_unknown")


def reveal(y: ArrayLike, fraction: float, seed: int = 0) -> np.ndarray:
    """Known labels revealing ``fraction`` of ``y``, stratified: round(fraction n_c) samples
    of each class c (halves to even, as Python rounds: 2.5 gives 2; at least one, and at most n_c - 1 of a class of several, so no class is
    given whole), the first of an order of the class drawn from ``seed`` alone; -1
    elsewhere. The draws are nested: a larger fraction of the same seed knows every label
    a smaller one knows, so a curve over fractions adds labels, not another draw.

    >>> reveal([0, 0, 1, 1], 0.5, seed=0).tolist().count(-1)
    2
    """
    y = np.asarray(y)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise ValueError(
            "y must hold class indices 0..K-1 (-1 marks an unknown label here, so a class -1 "
            "would be lost); map other labels first: np.unique(y, return_inverse=True)[1]"
        )
    rng = np.random.default_rng(seed)
    known = np.full(y.shape, UNKNOWN, np.int32)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        m = min(max(1, int(round(fraction * rows.size))), max(1, rows.size - 1))
        known[rng.permutation(rows)[:m]] = c
    return known


def digest(known: np.ndarray) -> str:
    """A short hash of known labels (a cache key must tell apart runs that knew others)."""
    return hashlib.sha256(np.asarray(known, np.int32).tobytes()).hexdigest()[:16]


def label_data(known: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, one-hot labels), each with as many entries as ``known``: the indices of the
    samples whose label is known (``known`` >= 0), in an order drawn from a fixed seed,
    repeated in turn, and their labels. Minibatch i of an epoch then pairs a batch of every
    sample, x[b], with a batch of known ones, x[rows[b]] (``train.labelled_batch``), so the
    label term's step has the same size at any share of known labels (weighting the few
    known rows of an ordinary batch up by n / n_known made it unstable under SGD at learning
    rate 1). Each known row appears floor or ceil(n / n_known) times; the order is shuffled
    so the extra copies fall on rows drawn at random, not on the lowest indices (the first
    classes of class-sorted data). Indices, not rows: no copy of the data."""
    if not (np.asarray(known) >= 0).any():
        raise ValueError("no label is known (every entry is -1); reveal some, or pass none")
    rows = np.random.default_rng(0).permutation(np.flatnonzero(known >= 0))
    rows = rows[np.arange(known.shape[0]) % rows.size].astype(np.int32)
    return rows, np.eye(n_clusters, dtype=np.float32)[known[rows]]


def rescale_label_map(label_map: dict, s) -> dict:
    """The label map for the embedding scaled by ``s`` (z' = s z): M' = M / s, c' = c, so
    z' M' + c' = z M + c (as ``sae.rescale_embedding`` keeps the reconstruction)."""
    return {**label_map, "w": np.asarray(label_map["w"], np.float32) / np.float32(s)}

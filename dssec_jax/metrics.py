"""Clustering metrics: ACC (Hungarian matching), NMI, ARI."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm


def _labels(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; "
            "pass one predicted label per sample"
        )
    if y_true.size == 0:
        raise ValueError("no labels given; pass at least one sample")
    return y_true, y_pred


def cluster_acc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """ACC = max over one-to-one maps m of mean_i [y_i = m(c_i)] (Hungarian algorithm)."""
    y_true, y_pred = _labels(y_true, y_pred)
    _, t = np.unique(y_true, return_inverse=True)
    _, c = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((c.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(counts, (c, t), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / y_true.size)


def nmi(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Normalised mutual information (arithmetic mean normalisation, scikit-learn's default)."""
    return float(skm.normalized_mutual_info_score(*_labels(y_true, y_pred)))


def ari(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Adjusted Rand index."""
    return float(skm.adjusted_rand_score(*_labels(y_true, y_pred)))


def evaluate(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """ACC, NMI and ARI of a clustering.

    Args:
      y_true: true labels, (n,).
      y_pred: cluster labels, (n,) (any integer ids).

    Returns:
      ``{"acc": ..., "nmi": ..., "ari": ...}``.
    """
    return {
        "acc": cluster_acc(y_true, y_pred),
        "nmi": nmi(y_true, y_pred),
        "ari": ari(y_true, y_pred),
    }

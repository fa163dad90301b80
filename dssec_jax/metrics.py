"""Clustering metrics: ACC (Hungarian matching), NMI, ARI."""

from __future__ import annotations

import functools
from typing import Callable, Optional

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from .labels import UNKNOWN


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


def evaluate(
    y_true: ArrayLike, y_pred: ArrayLike, known: Optional[ArrayLike] = None
) -> dict[str, float]:
    """ACC, NMI and ARI of a clustering; with ``known`` labels, also the three on the
    samples whose label was not given, scored as a clustering of their own (ACC's matching
    made on them alone), so that no gain comes from the given labels alone.

    Args:
      y_true: true labels, (n,).
      y_pred: cluster labels, (n,) (any integer ids).
      known: optional labels a semi-supervised run was given, (n,), -1 where not given.

    Returns:
      ``{"acc": ..., "nmi": ..., "ari": ...}``, with known labels of which some are -1 also
      ``acc_unknown``, ``nmi_unknown`` and ``ari_unknown``.
    """
    y_true, y_pred = _labels(y_true, y_pred)
    out = {
        "acc": cluster_acc(y_true, y_pred),
        "nmi": nmi(y_true, y_pred),
        "ari": ari(y_true, y_pred),
    }
    if known is None:
        return out
    known = np.asarray(known).ravel()
    if known.shape != y_true.shape:
        raise ValueError(
            f"known has {known.size} labels but y_true has {y_true.size}; "
            "pass one known label (-1 where not given) per sample"
        )
    rest = known == UNKNOWN
    if rest.any():
        out |= {f"{k}_unknown": v for k, v in evaluate(y_true[rest], y_pred[rest]).items()}
    return out


def scorer(
    y_true: Optional[ArrayLike], known: Optional[ArrayLike] = None
) -> Optional[Callable[[np.ndarray], dict]]:
    """``labels -> evaluate(y_true, labels, known)``, or None without true labels."""
    return None if y_true is None else functools.partial(evaluate, y_true, known=known)

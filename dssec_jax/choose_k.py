"""Choosing the number of clusters without labels (``n_clusters="auto"``).

For each k in ``k_range``, a score that is larger for a better k; all but ``bic`` and
``eigengap`` score the K-means partition of (a subsample of) the features into k clusters:

- ``silhouette``: mean over points of (b - a) / max(a, b), a = mean distance to the own
  cluster, b = to the nearest other cluster;
- ``calinski_harabasz``: between-cluster over within-cluster dispersion, each divided by
  its degrees of freedom;
- ``davies_bouldin``: minus the mean over clusters of the largest (s_i + s_j) / d(c_i, c_j);
- ``bic``: minus the BIC of a diagonal Gaussian mixture with k components;
- ``gap``: Tibshirani, Walther and Hastie's gap statistic, gap(k) = E*[log W_k] - log W_k
  (W_k the K-means within-cluster sum of squares, E* over ``n_refs`` uniform samples in the
  box of the data's principal axes). Its score is t(k) = gap(k) - gap(k+1) + s(k+1), with
  s the reference spread sd* sqrt(1 + 1/n_refs); the chosen k is the smallest with
  t(k) >= 0 (their rule), or the top of the range if none is (the gap still rising). It
  costs 1 + n_refs K-means fits per k, six times the others' (200-320 s per seed for
  k 2-30 on digits).
- ``eigengap``: the spectral eigengap (von Luxburg's tutorial, section 8.3). A is the
  10-nearest-neighbour graph of the points (min(10, n - 1) neighbours, 0/1 edges),
  W = (A + A^T) / 2 (one-way edges weigh 1/2), L = I - D^-1/2 W D^-1/2 its normalised
  Laplacian with eigenvalues l_1 <= l_2 <= ...; the score of k is l_{k+1} - l_k (0 below
  1e-10). A graph with k components has k zero eigenvalues and a gap after them. A k
  with l_{k+1} = 0 (up to 1e-10: the graph has more than k pieces) scores None. Groups
  of more than 10 exactly equal points form pieces of their own.

Every criterion but ``gap`` chooses the k that maximises it; a k that cannot be scored
(K-means finds a single cluster, as on duplicated points; no eigengap after k) scores None
and is not chosen. All of them work on a fixed random subsample of ``max_samples`` rows,
so the cost does not grow with the dataset.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from scipy.sparse.csgraph import laplacian
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import kneighbors_graph

DENSE_EIGEN_MAX = 1000  # eigengap: up to this many points, every eigenvalue densely
EIGEN_ZERO = 1e-10  # eigengap: eigenvalues and gaps below this are 0 (rounding)
MAX_SAMPLES = 5000  # the rows the criteria score: a fixed random subsample of more
CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin", "bic", "gap", "eigengap")


def check_k_range(k_range: Sequence[int], n_samples: float) -> tuple[int, int]:
    """``(k_min, k_max)``; ValueError for a range that is empty, below 2 or above n."""
    try:
        k_min, k_max = (int(k) for k in k_range)
    except (TypeError, ValueError):
        raise ValueError(f"k_range must be two integers (k_min, k_max), got {k_range!r}") from None
    if k_min < 2:
        raise ValueError(f"k_range starts at {k_min}; the smallest k to try is 2")
    if k_min > k_max:
        raise ValueError(f"k_range {k_range!r} is empty; pass k_min <= k_max, e.g. (2, 30)")
    if k_max >= n_samples:
        raise ValueError(
            f"k_range reaches k={k_max} but there are {n_samples} samples to score (the "
            f"criteria score a subsample of at most {MAX_SAMPLES} by default); pass k_max "
            f"below {n_samples}"
        )
    return k_min, k_max


def subsample_rows(n: int, seed: int, max_samples: int = MAX_SAMPLES) -> np.ndarray:
    """The fixed random rows (at most ``max_samples`` of ``n``, sorted) the criteria score."""
    rows = np.random.default_rng(seed).choice(n, min(n, max_samples), replace=False)
    return np.sort(rows)


def k_scores(
    z: np.ndarray,
    k_range: Sequence[int],
    seed: int,
    criterion: str = "davies_bouldin",
    max_samples: int = MAX_SAMPLES,
    n_init: int = 5,
) -> dict[int, Optional[float]]:
    """{k: criterion value} over ``k_range`` (inclusive) on a subsample of ``z``."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    sub = np.asarray(z, np.float64)[subsample_rows(len(z), seed, max_samples)]
    k_min, k_max = check_k_range(k_range, len(sub))
    if criterion == "gap":
        return gap_scores(sub, k_min, k_max, seed, n_init)
    if criterion == "eigengap":
        return eigengap_scores(sub, k_min, k_max, seed)
    scores: dict[int, Optional[float]] = {}
    for k in range(k_min, k_max + 1):
        if criterion == "bic":
            gm = GaussianMixture(k, covariance_type="diag", n_init=1, random_state=seed)
            scores[k] = -float(gm.fit(sub).bic(sub))
            continue
        labels = KMeans(k, n_init=n_init, random_state=seed).fit_predict(sub)
        if len(np.unique(labels)) < 2:  # e.g. duplicated points: no partition to score
            scores[k] = None
        elif criterion == "silhouette":
            scores[k] = float(silhouette_score(sub, labels))
        elif criterion == "calinski_harabasz":
            scores[k] = float(calinski_harabasz_score(sub, labels))
        else:
            scores[k] = -float(davies_bouldin_score(sub, labels))
    return scores


def gap_scores(
    x: np.ndarray, k_min: int, k_max: int, seed: int, n_init: int = 5, n_refs: int = 5
) -> dict[int, Optional[float]]:
    """{k: t(k)} of the gap statistic (module docstring); t(k_max) is None (no k+1), and
    so is t(k) where a partition of the data leaves no within-cluster spread (log 0)."""

    def inertia(data, k):
        return KMeans(k, n_init=n_init, random_state=seed).fit(data).inertia_

    centred = x - x.mean(0)
    rotated = centred @ np.linalg.svd(centred, full_matrices=False)[2].T
    floor = 1e-12 * float(np.sum(np.square(rotated)))  # below: no spread left to explain
    if floor == 0.0:  # every point the same: nothing to partition
        return dict.fromkeys(range(k_min, k_max + 1))
    rng = np.random.default_rng(seed)
    lo, hi = rotated.min(0), rotated.max(0)
    refs = [rng.uniform(lo, hi, size=rotated.shape) for _ in range(n_refs)]
    gap: dict[int, Optional[float]] = {}
    spread: dict[int, float] = {}
    for k in range(k_min, k_max + 1):
        w = inertia(rotated, k)
        ref_logs = np.log([inertia(r, k) for r in refs])
        gap[k] = float(ref_logs.mean()) - float(np.log(w)) if w > floor else None
        spread[k] = float(ref_logs.std() * np.sqrt(1.0 + 1.0 / n_refs))
    out: dict[int, Optional[float]] = {}
    for k in range(k_min, k_max + 1):
        here, after = gap[k], gap.get(k + 1)
        out[k] = (
            None if k == k_max or here is None or after is None else here - after + spread[k + 1]
        )
    return out


def eigengap_scores(
    x: np.ndarray, k_min: int, k_max: int, seed: int, n_neighbors: int = 10
) -> dict[int, Optional[float]]:
    """{k: l_{k+1} - l_k} over the smallest eigenvalues of the normalised Laplacian of the
    symmetrised ``n_neighbors``-nearest-neighbour graph of ``x``, None where l_{k+1} is 0
    (module docstring)."""
    n = len(x)
    graph = kneighbors_graph(x, min(n_neighbors, n - 1), include_self=False)
    lap = laplacian(0.5 * (graph + graph.T), normed=True)
    if n <= max(DENSE_EIGEN_MAX, k_max + 2):
        eig = np.linalg.eigvalsh(lap.toarray())[: k_max + 1]
    else:  # the k_max + 1 smallest, by shift-invert just below 0 (L is positive semidefinite)
        v0 = np.random.default_rng(seed).uniform(size=n)
        eig = np.sort(eigsh(lap, k_max + 1, sigma=-1e-3, which="LM", v0=v0)[0])
    gap = np.diff(eig)  # gap[k - 1] = l_{k+1} - l_k
    gap = np.where(gap < EIGEN_ZERO, 0.0, gap)  # equal eigenvalues: rounding is no gap
    return {k: float(gap[k - 1]) if eig[k] >= EIGEN_ZERO else None for k in range(k_min, k_max + 1)}


def choose_k(
    z: np.ndarray,
    k_range: Sequence[int],
    seed: int,
    criterion: str = "davies_bouldin",
    max_samples: int = MAX_SAMPLES,
) -> tuple[int, dict[int, Optional[float]]]:
    """``(k, scores)``: the k in ``k_range`` with the largest criterion (the smallest such
    k on a tie; k_min when no k could be scored), for ``gap`` the smallest k with
    t(k) >= 0 (else the top of the range), and every score."""
    scores = k_scores(z, k_range, seed, criterion, max_samples)
    valid = {k: v for k, v in scores.items() if v is not None}
    if not valid:
        return min(scores), scores
    if criterion == "gap":
        passing = [k for k, v in valid.items() if v >= 0]
        return (min(passing) if passing else max(scores)), scores
    return max(valid, key=lambda k: (valid[k], -k)), scores

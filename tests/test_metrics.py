import itertools

import numpy as np
import pytest
from sklearn import metrics as skm

from dssec_jax import metrics


def brute_acc(y, c):
    ks = np.unique(c)
    best = 0
    for perm in itertools.permutations(np.unique(y), len(ks)):
        m = dict(zip(ks, perm))
        best = max(best, np.mean([m[v] == t for v, t in zip(c, y)]))
    return best


def test_acc_matches_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(5):
        y = rng.integers(0, 4, 40)
        c = rng.integers(0, 4, 40)
        assert np.isclose(metrics.cluster_acc(y, c), brute_acc(y, c))


def test_acc_permutation_invariant_and_perfect():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert metrics.cluster_acc(y, (y + 1) % 3) == 1.0
    assert metrics.cluster_acc(y, np.zeros(6, int)) == pytest.approx(1 / 3)


def test_acc_more_clusters_than_classes():
    y = np.array([0, 0, 1, 1])
    c = np.array([0, 1, 2, 3])
    assert metrics.cluster_acc(y, c) == 0.5


def test_nmi_ari_match_sklearn_and_evaluate():
    rng = np.random.default_rng(2)
    y, c = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    assert metrics.nmi(y, c) == pytest.approx(skm.normalized_mutual_info_score(y, c))
    assert metrics.ari(y, c) == pytest.approx(skm.adjusted_rand_score(y, c))
    e = metrics.evaluate(y, c)
    assert set(e) == {"acc", "nmi", "ari"} and e["acc"] == metrics.cluster_acc(y, c)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="one predicted label per sample"):
        metrics.cluster_acc([0, 1], [0])

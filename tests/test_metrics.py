import itertools

import numpy as np
import pytest

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


def test_nmi_ari_and_evaluate_on_hand_computed_values():
    """y = [0, 0, 1, 1], c = [0, 0, 1, 2]: H(y) = ln 2, H(c) = 1.5 ln 2, I = ln 2, so the
    arithmetic-mean NMI is 1 / 1.25 = 0.8. Pairs: index 1, expected 2 * 1 / 6 = 1/3, max
    (2 + 1) / 2 = 3/2, so ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7."""
    y, c = [0, 0, 1, 1], [0, 0, 1, 2]
    assert metrics.nmi(y, c) == pytest.approx(0.8)
    assert metrics.ari(y, c) == pytest.approx(4 / 7)
    assert metrics.nmi(y, [1, 1, 0, 0]) == pytest.approx(1.0)  # renamed clusters
    assert metrics.ari(y, [0, 1, 0, 1]) == pytest.approx(-0.5)
    e = metrics.evaluate(y, c)
    assert e == pytest.approx({"acc": 0.75, "nmi": 0.8, "ari": 4 / 7})


def test_evaluate_with_known_labels_scores_the_samples_not_given_on_their_own():
    """y = [0, 0, 1, 1, 0, 1], c = [0, 0, 1, 1, 1, 0]: on all six ACC 4/6; the last two
    were not given, and on them alone the matching swaps the clusters: ACC 1."""
    y, c = [0, 0, 1, 1, 0, 1], [0, 0, 1, 1, 1, 0]
    known = [0, 0, 1, 1, -1, -1]
    e = metrics.evaluate(y, c, known)
    assert e["acc"] == pytest.approx(4 / 6) and e["acc_unknown"] == 1.0
    assert e["nmi_unknown"] == pytest.approx(1.0) and e["ari_unknown"] == pytest.approx(1.0)
    assert metrics.evaluate(y, c, [0, 0, 1, 1, 0, 1]).keys() == {"acc", "nmi", "ari"}  # all given
    assert metrics.scorer(None) is None and metrics.scorer(y, known)(c) == e
    with pytest.raises(ValueError, match="one known label"):
        metrics.evaluate(y, c, known[:5])


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="one predicted label per sample"):
        metrics.cluster_acc([0, 1], [0])

"""Restarts chosen without labels (dssec_jax.restarts) and the estimator's n_restarts."""

import jax
import numpy as np
import pytest
from conftest import TINY_NET
from sklearn.metrics import adjusted_rand_score

from dssec_jax import DSSEC, Config, restarts
from dssec_jax.metrics import cluster_acc, nmi

TINY = dict(pretrain_epochs=2, max_iter=30, update_interval=10, n_init=2, **TINY_NET)


def _noisy_copies(truth, n_runs, flip, k, seed=0):
    """Labelings that each relabel ``truth`` (a permutation of ids) and flip a fraction."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_runs):
        lab = rng.permutation(k)[truth]
        wrong = rng.random(truth.size) < flip
        lab[wrong] = rng.integers(0, k, wrong.sum())
        out.append(lab)
    return out


def test_the_consensus_of_noisy_runs_beats_each_run():
    truth = np.repeat(np.arange(5), 200)
    runs = _noisy_copies(truth, 7, 0.3, 5)
    each = [cluster_acc(truth, r) for r in runs]
    best, labels, score = restarts.choose("consensus", runs, 5)
    assert cluster_acc(truth, labels) > max(each) + 0.1
    assert cluster_acc(truth, restarts.choose("vote", runs, 5)[1]) > max(each) + 0.1
    assert score.shape == (7,) and best == int(np.argmax(score))


def test_agreement_picks_the_run_the_others_agree_with():
    truth = np.repeat(np.arange(4), 100)
    runs = _noisy_copies(truth, 4, 0.05, 4)
    runs.append(np.random.default_rng(1).integers(0, 4, truth.size))  # an outlier run
    a = restarts.agreement(runs)
    assert np.argmin(a) == 4
    # each agreement rule picks the run of highest mean agreement with the others
    for rule, score in [("agreement_nmi", nmi), ("agreement_ari", adjusted_rand_score)]:
        mean = [np.mean([score(r, s) for s in runs if s is not r]) for r in runs]
        assert restarts.choose(rule, runs, 4)[0] == int(np.argmax(mean)) != 4
    assert restarts.choose("loss", runs, 4, losses=[0.5, 0.4, 0.3, 0.2, 0.9])[0] == 3


def test_align_renames_to_the_reference():
    ref = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(restarts.align(np.array([2, 2, 0, 0, 1, 1]), ref, 3), ref)


def test_unknown_rule_and_missing_inputs_are_clear_errors():
    runs = [np.zeros(4, int), np.ones(4, int)]
    with pytest.raises(ValueError, match="unknown restart rule"):
        restarts.choose("best", runs, 2)
    with pytest.raises(ValueError, match="needs each run's final loss"):
        restarts.choose("loss", runs, 2)
    with pytest.raises(ValueError, match="common space"):
        restarts.choose("calinski_harabasz", runs, 2)


def test_one_restart_is_the_single_run_bit_for_bit(digits):
    """n_restarts=1 is the single run, no restart record; and run r of R restarts is the
    single run of seed random_state + r (its labels, bit for bit)."""
    x = digits[0][:500]
    a = DSSEC(n_clusters=10, method="idec", random_state=3, n_restarts=1, **TINY).fit(x)
    assert a.restarts_ is None
    b = DSSEC(n_clusters=10, method="idec", random_state=2, n_restarts=2, **TINY).fit(x)
    assert [r["seed"] for r in b.restarts_] == [2, 3]
    if jax.default_backend() == "cpu":  # the runs in turn: bit for bit
        np.testing.assert_array_equal(b.restarts_[1]["labels"], a.labels_)
    else:  # one vmapped program: the same run up to float rounding
        assert np.mean(b.restarts_[1]["labels"] == a.labels_) > 0.99


def test_restarts_expose_every_run_and_the_choice_is_deterministic(digits, tmp_path):
    x, y = digits[0][:500], digits[1][:500]
    kw = dict(n_clusters=10, method="idec", random_state=3, n_restarts=3, **TINY)
    a = DSSEC(**kw).fit(x)
    b = DSSEC(**kw).fit(x)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert [r["seed"] for r in a.restarts_] == [3, 4, 5]
    assert sum(r["chosen"] for r in a.restarts_) == 1
    assert all(r["labels"].shape == (500,) and r["loss"] is not None for r in a.restarts_)
    single = [r["labels"] for r in a.restarts_]
    assert max(nmi(a.labels_, s) for s in single) > 0.5
    np.testing.assert_array_equal(a.labels_, restarts.consensus(single, 10, seed=3))
    a.save(tmp_path / "m.dssec")
    loaded = DSSEC.load(tmp_path / "m.dssec")
    np.testing.assert_array_equal(loaded.predict(x), a.predict(x))
    np.testing.assert_array_equal(loaded.restarts_[1]["labels"], a.restarts_[1]["labels"])
    assert cluster_acc(y, a.labels_) > 0.5


@pytest.mark.parametrize("method", ["kmeans", "dssec"])
def test_loss_rule_picks_the_lowest_final_loss_or_refuses(method, digits):
    x = digits[0][:400]
    est = DSSEC(
        n_clusters=10, method=method, random_state=0, n_restarts=3, restart_rule="loss", **TINY
    )
    if method == "kmeans":
        with pytest.raises(ValueError, match="needs a clustering phase"):
            est.fit(x)
        return
    with pytest.raises(ValueError, match="at max_iter=0 has none"):  # before any fit
        DSSEC(**{**est.get_params(), "max_iter": 0}).fit(x)
    est.fit(x)
    losses = [r["loss"] for r in est.restarts_]
    assert len(set(losses)) == 3  # three distinct losses: the choice is not a coin toss
    chosen = [r["chosen"] for r in est.restarts_].index(True)
    assert chosen == int(np.argmin(losses))
    np.testing.assert_array_equal(est.labels_, est.restarts_[chosen]["labels"])


def test_bad_n_restarts_is_refused(digits):
    with pytest.raises(ValueError, match="n_restarts must be an integer >= 1"):
        DSSEC(n_restarts=0, **TINY).fit(digits[0][:200])


def test_predict_follows_the_ensembles_cluster_ids():
    """The consensus numbers its clusters in its own way: the chosen network's centres are
    moved to the consensus clusters, so predict on the training data gives labels_ (with
    the run's own centres it would give the run's ids, about 1 in k agreement)."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(600, n_features=20, centers=5, cluster_std=1.0, random_state=0)
    x = ((x - x.min()) / (x.max() - x.min())).astype(np.float32)
    est = DSSEC(n_clusters=5, method="idec", random_state=0, n_restarts=3, **TINY).fit(x)
    assert cluster_acc(y, est.labels_) > 0.95
    assert np.mean(est.predict(x) == est.labels_) > 0.95


def test_a_diverged_restart_takes_no_part_and_all_diverged_is_an_error(digits, monkeypatch):
    import dataclasses

    from dssec_jax.validation import NonFiniteLossError

    x = digits[0][:400]
    real = restarts._fits

    def one_diverges(*a, **kw):
        runs = real(*a, **kw)
        bad = dataclasses.replace(runs[1], stop_reason="nonfinite", history=[{"iteration": 0}])
        return [runs[0], bad, *runs[2:]]

    monkeypatch.setattr(restarts, "_fits", one_diverges)
    est = DSSEC(n_clusters=10, method="idec", random_state=0, n_restarts=3, **TINY).fit(x)
    assert np.isnan(est.restarts_[1]["score"]) and not est.restarts_[1]["chosen"]
    assert est.restarts_[1]["loss"] is None and est.restarts_[0]["loss"] is not None

    def all_diverge(*a, **kw):
        return [dataclasses.replace(r, stop_reason="nonfinite") for r in real(*a, **kw)]

    monkeypatch.setattr(restarts, "_fits", all_diverge)
    with pytest.raises(NonFiniteLossError, match="every one of the 2 restarts"):
        DSSEC(n_clusters=10, method="idec", random_state=0, n_restarts=2, **TINY).fit(x)


ON_CPU = pytest.mark.skipif(
    jax.default_backend() != "cpu", reason="on an accelerator the restarts are one batched program"
)


@ON_CPU
def test_on_the_cpu_each_restart_is_the_single_fit_of_its_seed(digits):
    x = digits[0][:400]
    est = DSSEC(n_clusters=10, method="idec", random_state=5, n_restarts=2, **TINY).fit(x)
    for r in est.restarts_:
        alone = DSSEC(n_clusters=10, method="idec", random_state=r["seed"], **TINY).fit(x)
        np.testing.assert_array_equal(r["labels"], alone.labels_)
        assert r["loss"] == alone.history_[-1]["loss"]  # bit for bit, not up to rounding


def test_on_an_accelerator_the_restarts_are_one_batched_program(digits, monkeypatch):
    from dssec_jax import sweep

    calls = []
    real = sweep.fit_batched

    def spy(x, cfgs, seeds, **kw):
        calls.append(list(seeds))
        return real(x, cfgs, seeds, **kw)

    monkeypatch.setattr(restarts.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(sweep, "fit_batched", spy)
    DSSEC(n_clusters=10, method="idec", random_state=2, n_restarts=3, **TINY).fit(digits[0][:300])
    assert calls == [[2, 3, 4]]


@ON_CPU
def test_a_restart_that_diverges_in_a_single_fit_leaves_the_others(digits, monkeypatch):
    """On the CPU the restarts are single fits, which raise when they turn non-finite: that
    run must drop out, not end the restarts."""
    from dssec_jax import pipeline
    from dssec_jax.validation import NonFiniteLossError

    real = pipeline.fit

    def seed_6_diverges(x, cfg, seed, *a, **kw):
        if seed == 6:
            raise NonFiniteLossError("non-finite loss in clustering at iterations 0-10")
        return real(x, cfg, seed, *a, **kw)

    monkeypatch.setattr(pipeline, "fit", seed_6_diverges)
    est = DSSEC(n_clusters=10, method="idec", random_state=5, n_restarts=3, **TINY).fit(
        digits[0][:300]
    )
    assert est.restarts_[1]["stop_reason"] == "nonfinite"
    assert all(r["stop_reason"] != "nonfinite" for r in est.restarts_[::2])
    assert np.isnan(est.restarts_[1]["score"]) and not est.restarts_[1]["chosen"]
    # the first run diverging too: k comes from a run that has clusters, under every rule
    for rule in ("consensus", "vote", "loss"):
        first = DSSEC(
            n_clusters=10, method="idec", random_state=6, n_restarts=3, restart_rule=rule, **TINY
        ).fit(digits[0][:300])
        assert first.restarts_[0]["stop_reason"] == "nonfinite" and first.n_clusters_ == 10
        assert not first.restarts_[0]["chosen"] and len(np.unique(first.labels_)) > 1


def test_a_run_without_a_final_loss_never_wins_the_loss_rule():
    labelings = [np.arange(6) % 2] * 3
    assert restarts.choose("loss", labelings, 2, [np.nan, 2.0, 1.0])[0] == 2
    with pytest.raises(ValueError, match="no run has one"):
        restarts.choose("loss", labelings, 2, [np.nan, np.nan, np.nan])


def test_an_unknown_restart_rule_is_refused_with_one_run_too(digits):
    with pytest.raises(ValueError, match="unknown restart rule 'bogus'"):
        DSSEC(n_clusters=10, method="kmeans", restart_rule="bogus").fit(digits[0][:100])


def test_methods_without_a_clustering_phase_restart_too(digits):
    est = DSSEC(n_clusters=10, method="kmeans", random_state=0, n_restarts=3, n_init=1).fit(
        digits[0]
    )
    assert len(est.restarts_) == 3 and all(r["loss"] is None for r in est.restarts_)
    assert est.predict(digits[0]).shape == (len(digits[0]),)


def test_restarts_need_a_fixed_number_of_clusters(digits):
    with pytest.raises(ValueError, match="n_restarts > 1 needs a fixed n_clusters"):
        DSSEC(n_clusters="auto", method="idec", n_restarts=2, **TINY).fit(digits[0][:300])


@pytest.mark.parametrize("rule", ["vote", "agreement_nmi", "agreement_ari"])
def test_two_runs_are_refused_by_the_rules_that_would_tie(rule):
    """With two runs each agrees with the other as much: these rules would return the
    first run whatever the runs are, so they are refused before any fit."""
    cfg = Config(method="idec", n_clusters=3)
    with pytest.raises(ValueError, match="with 2 runs"):
        restarts.fit_restarts(np.zeros((10, 2), np.float32), cfg, 0, 2, rule)
    with pytest.raises(ValueError, match="gives both"):
        restarts.scores("consensus", [np.zeros(4, int)] * 3)


def test_a_cluster_the_answer_leaves_empty_is_never_predicted():
    """Fewer distinct patterns of the runs than k: the consensus uses fewer than k
    clusters, and the centre of an unused one is at infinity (q = 0 there)."""
    from dssec_jax.losses import soft_assignment

    runs = [np.array([0, 0, 1, 1, 2, 2])] * 3
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        labels = restarts.consensus(runs, 4, seed=0)
    assert len(np.unique(labels)) == 3 and labels.dtype == np.int32
    z = np.arange(12, dtype=np.float32).reshape(6, 2)
    centres = restarts._centres(z, labels, 4)
    unused = sorted(set(range(4)) - set(labels.tolist()))
    assert np.all(np.isinf(centres[unused])) and np.all(np.isfinite(np.delete(centres, unused, 0)))
    q = np.asarray(soft_assignment(z, centres))
    assert np.all(q[:, unused] == 0) and np.allclose(q.sum(1), 1)
    np.testing.assert_array_equal(q.argmax(1), labels)
    assert restarts.vote(runs, 4, 0).dtype == np.int32


@pytest.mark.parametrize("rule", ["calinski_harabasz", "davies_bouldin"])
def test_the_internal_index_rules_prefer_the_true_clustering(rule):
    """In the common space, both index rules pick the labeling that follows the blobs over
    a random one and a one-cluster one, wherever it stands in the list (Davies-Bouldin,
    lower is better, is signed so that higher wins)."""
    from sklearn.datasets import make_blobs

    x, truth = make_blobs(600, n_features=20, centers=4, cluster_std=1.0, random_state=0)
    space = restarts.common_space(x)
    rand = np.random.default_rng(0).integers(0, 4, len(x))
    one = np.zeros(len(x), int)
    for runs, want in (([truth, rand, one], 0), ([rand, one, truth], 2)):
        best, labels, score = restarts.choose(rule, runs, 4, space=space)
        assert best == want and np.array_equal(labels, truth)
    score = restarts.choose(rule, [truth, rand, one], 4, space=space)[2]
    assert score[0] > score[1] > score[2] == -np.inf  # one cluster scores lowest


def test_the_index_rules_run_end_to_end_in_the_estimator(digits):
    x = digits[0][:400]
    for rule in ("calinski_harabasz", "davies_bouldin"):
        est = DSSEC(
            n_clusters=10, method="idec", random_state=0, n_restarts=3, restart_rule=rule, **TINY
        ).fit(x)
        space = restarts.common_space(x, seed=0)
        want = [restarts.internal_index(space, r["labels"], rule) for r in est.restarts_]
        np.testing.assert_allclose([r["score"] for r in est.restarts_], want)
        chosen = [r["chosen"] for r in est.restarts_].index(True)
        assert chosen == int(np.argmax(want))
        np.testing.assert_array_equal(est.labels_, est.restarts_[chosen]["labels"])

"""n_clusters="auto": the choice of k on blobs with a known k, in the estimator, the drivers
and the report; its errors; data with one real cluster."""

import json

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh
from sklearn.datasets import make_blobs
from test_experiments import run

from dssec_jax import DSSEC, Config
from dssec_jax.choose_k import CRITERIA, choose_k
from dssec_jax.sweep import fit_batched
from dssec_jax.validation import check_config

BLOBS, BLOB_Y = make_blobs(n_samples=600, centers=5, n_features=8, cluster_std=0.6, random_state=0)
BLOBS = BLOBS.astype(np.float32)
TINY = dict(
    hidden_dims=(32, 32, 64),
    embed_dim=4,
    pretrain_epochs=20,
    batch_size=64,
    max_iter=60,
    n_init=3,
    random_state=0,
    k_range=(2, 10),
)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_each_criterion_finds_well_separated_blobs(criterion):
    k, scores = choose_k(BLOBS, (2, 10), 0, criterion)
    assert k == 5 and sorted(scores) == list(range(2, 11))


@pytest.mark.parametrize("method", ["kmeans", "pca_kmeans", "dssec"])
def test_the_estimator_chooses_k_and_shows_the_scores(method):
    est = DSSEC(n_clusters="auto", method=method, **TINY).fit(BLOBS)
    assert est.n_clusters_ == 5 and sorted(est.k_scores_) == list(range(2, 11))
    # the scores are the criterion's on the features the method clusters (the pixels for
    # kmeans), one of them checked against scikit-learn directly
    if method == "kmeans":
        from sklearn.cluster import KMeans
        from sklearn.metrics import davies_bouldin_score

        km = KMeans(4, n_init=5, random_state=0).fit_predict(np.float64(BLOBS))
        assert est.k_scores_[4] == pytest.approx(-davies_bouldin_score(BLOBS, km), rel=1e-6)
    assert set(np.unique(est.labels_)) <= set(range(5)) and est.cluster_centers_.shape[0] == 5
    if method == "dssec":
        assert est.history_[0]["n_clusters"] == 5
        assert est.history_[0]["k_scores"] == {str(k): v for k, v in est.k_scores_.items()}
    assert est.get_params()["n_clusters"] == "auto"  # the setting is left as given


def test_one_real_cluster_does_not_crash():
    x = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    est = DSSEC(n_clusters="auto", **TINY).fit(x)
    scored = {k: v for k, v in est.k_scores_.items() if v is not None}
    assert est.n_clusters_ == max(scored, key=scored.get)  # the best score's k
    assert len(est.labels_) == 300 and set(np.unique(est.labels_)) <= set(range(est.n_clusters_))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"k_range": (5, 3)}, r"k_range \(5, 3\) is empty"),
        ({"k_range": (1, 8)}, "k_range starts at 1; the smallest k to try is 2"),
        ({"k_range": (2, 50)}, "k_range reaches k=50 but there are 40 samples"),
        ({"k_range": (2,)}, "k_range must be two integers"),
        ({"k_criterion": "elbow"}, "k_criterion must be one of silhouette"),
        ({"n_clusters": "many"}, "n_clusters must be an integer >= 1 or 'auto'"),
    ],
)
def test_bad_auto_settings_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        check_config(Config(**{"n_clusters": "auto", **kw}), n_samples=40)


def test_k_range_is_checked_against_the_rows_the_criteria_score():
    """On more than 5,000 samples the criteria score a subsample of 5,000: a k_max beyond
    it is refused before pretraining, not after."""
    with pytest.raises(ValueError, match="5000 samples to score"):
        check_config(Config(n_clusters="auto", k_range=(2, 6000)), n_samples=10000)
    check_config(Config(n_clusters="auto", k_range=(2, 4000)), n_samples=10000)


def test_batched_runs_refuse_auto():
    with pytest.raises(ValueError, match="n_clusters='auto' is not supported in batched"):
        fit_batched(BLOBS, [Config(n_clusters="auto")], [0])


def test_a_saved_auto_model_keeps_its_choice(tmp_path):
    est = DSSEC(n_clusters="auto", method="kmeans", **TINY).fit(BLOBS)
    est.save(tmp_path / "m.dssec")
    loaded = DSSEC.load(tmp_path / "m.dssec")
    assert loaded.n_clusters_ == 5 and loaded.k_scores_ == est.k_scores_
    np.testing.assert_array_equal(loaded.predict(BLOBS), est.predict(BLOBS))


def test_the_drivers_take_auto_and_record_the_choice(tmp_path):
    np.savez(tmp_path / "blobs.npz", x=BLOBS)  # no labels: auto needs none
    (tmp_path / "small.json").write_text(json.dumps({"hidden_dims": [32, 32, 64]}))
    wd = tmp_path / "runs" / "r"
    r = run(
        "experiments.run",
        f"--dataset={tmp_path / 'blobs.npz'}",
        "--n_clusters=auto",
        "--k_range=2,10",
        "--method=dssec",
        "--pretrain_epochs=20",
        "--max_iter=60",
        f"--config={tmp_path / 'small.json'}",
        "--embed_dim=4",
        "--batch_size=64",
        f"--workdir={wd}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((wd / "results.json").read_text())["per_seed"][0]
    assert rec["n_clusters"] == 5 and sorted(map(int, rec["k_scores"])) == list(range(2, 11))
    assert "n_clusters=auto: davies_bouldin chooses k=5" in r.stdout
    rep = run("experiments.report", str(tmp_path / "runs"))
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert (tmp_path / "runs" / "k_scores.png").read_bytes()[:4] == b"\x89PNG"
    bad = run("experiments.run", "--n_clusters=many")
    assert bad.returncode == 2 and "--n_clusters=many is not valid" in bad.stderr


def test_the_gap_rule_takes_the_smallest_k_that_passes_not_the_largest_score(monkeypatch):
    """Tibshirani's rule: the smallest k with gap(k) >= gap(k+1) - s(k+1), i.e. t(k) >= 0,
    even where a larger k has the larger t; the top of the range when no k passes (the
    gap still rising), and None, never NaN, where the data leave no spread."""
    from dssec_jax import choose_k as ck

    t = {2: -0.5, 3: 0.01, 4: -0.2, 5: 0.9, 6: None}
    monkeypatch.setattr(ck, "k_scores", lambda *a, **kw: t)
    assert ck.choose_k(BLOBS, (2, 6), 0, "gap")[0] == 3
    assert ck.choose_k(BLOBS, (2, 6), 0, "davies_bouldin")[0] == 5
    t.update({3: -0.3, 5: -0.1})
    assert ck.choose_k(BLOBS, (2, 6), 0, "gap")[0] == 6
    monkeypatch.undo()
    flat = np.zeros((40, 3))
    assert set(ck.k_scores(flat, (2, 4), 0, "gap").values()) == {None}


def test_the_eigengap_solvers_agree(monkeypatch):
    """Above DENSE_EIGEN_MAX points the sparse shift-invert solver gives the dense scores."""
    import dssec_jax.choose_k as ck

    calls = []
    monkeypatch.setattr(ck, "eigsh", lambda *a, **kw: calls.append(1) or eigsh(*a, **kw))
    x, _ = make_blobs(n_samples=1200, centers=4, n_features=6, cluster_std=0.8, random_state=1)
    sparse = ck.eigengap_scores(x, 2, 10, 0)
    monkeypatch.setattr(ck, "DENSE_EIGEN_MAX", 10_000)
    dense = ck.eigengap_scores(x, 2, 10, 0)
    scored = {k: v for k, v in sparse.items() if v is not None}
    assert calls == [1] and sorted(scored) == list(range(4, 11))  # 4 pieces: k < 4 no gap
    assert max(scored, key=scored.get) == 4 and dense.keys() == sparse.keys()
    np.testing.assert_allclose([dense[k] for k in scored], list(scored.values()), atol=1e-6)


def test_the_eigengap_scores_none_where_the_graph_has_more_pieces_than_k():
    """40 far-apart blobs give 40 graph pieces: no gap after any k up to 30, so no k is
    scored (k_min is returned), not an argmax of rounding noise; equal points give no gap."""
    x, _ = make_blobs(
        1500, centers=40, n_features=10, cluster_std=0.3, center_box=(-500, 500), random_state=0
    )
    k, scores = choose_k(x, (2, 30), 0, "eigengap")
    assert k == 2 and set(scores.values()) == {None}
    k, scores = choose_k(np.zeros((40, 3)), (2, 4), 0, "eigengap")
    assert k == 2 and set(scores.values()) == {0.0}

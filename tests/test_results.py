"""Committed results regenerate: metrics recomputed from the committed labels equal the
committed results.json (the labels are checked against the real dataset's true labels)."""

import json

import numpy as np
import pytest
from conftest import ROOT

from dssec_jax import evaluate
from dssec_jax.cli.campaign import exported_seeds
from dssec_jax.data import load_dataset
from dssec_jax.data.corrupt import split_name
from dssec_jax.labels import reveal

RUNS = sorted((ROOT / "results").glob("*/*/results.json"))


def test_there_are_committed_runs():
    assert RUNS, "results/ holds no committed run"


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_metrics_recompute_from_the_committed_labels(path, data_dir):
    res = json.loads(path.read_text())
    clean = split_name(res["dataset"])[0]  # a corruption keeps the true labels
    ds = load_dataset(clean, data_dir=data_dir)
    for rec in res["per_seed"]:
        if rec.get("stop_reason") == "nonfinite":  # diverged: a record, no labels
            continue
        labels = np.load(path.parent / f"seed_{rec['seed']}" / "labels.npz")
        assert labels["labels"].shape == ds.y.shape
        got = evaluate(ds.y, labels["labels"].astype(np.int32))
        for k in ("acc", "nmi", "ari"):
            assert abs(got[k] - rec[k]) < 1e-9, (k, got[k], rec[k])
        if fraction := res["config"].get("label_fraction"):  # on the rows not given too
            unknown = reveal(ds.y, fraction, rec["seed"]) == -1
            got = evaluate(ds.y[unknown], labels["labels"][unknown].astype(np.int32))
            for k in ("acc", "nmi", "ari"):
                assert abs(got[k] - rec[f"{k}_unknown"]) < 1e-9, (k, got[k], rec[f"{k}_unknown"])
        assert (
            abs(evaluate(ds.y, labels["kmeans_labels"].astype(np.int32))["acc"] - rec["kmeans_acc"])
            < 1e-9
        )


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_the_summary_holds_every_exported_seed(path):
    res = json.loads(path.read_text())
    marked = exported_seeds(path.parent)
    assert [r["seed"] for r in res["per_seed"]] == marked
    assert json.loads((path.parent / "config.json").read_text())["seeds"] == marked
    diverged = res["summary"].get("stopped_nonfinite", 0)
    assert res["summary"].get("acc", {"n": 0})["n"] == len(marked) - diverged


def test_no_seed_of_the_strong_table_collapsed_as_the_readme_says():
    """README: "No run collapsed" at the strong recipe; every record holds its cluster
    sizes, and fewer than half of them non-empty would be a collapse."""
    assert "No run collapsed" in (ROOT / "README.md").read_text()
    records = [
        r
        for p in sorted((ROOT / "results/strong").glob("*/results.json"))
        for r in json.loads(p.read_text())["per_seed"]
    ]
    assert len(records) >= 100 and all("cluster_sizes" in r for r in records)
    bad = [
        (r["seed"], r["cluster_sizes"])
        for r in records
        if 2 * np.count_nonzero(r["cluster_sizes"]) < len(r["cluster_sizes"])
    ]
    assert not bad, bad

"""Harsh conditions in the campaign and the report: the harsh plan's points, a plan run
under one corruption against itself clean, and the paired losses of the report."""

import json

from test_experiments import run

from dssec_jax.data.corrupt import corrupted_name, split_name
from experiments.campaign import HARSH_CONDITIONS, PLANS, data_name, plan_points
from experiments.harsh_report import harsh_markdown
from experiments.report import write_report
from experiments.runner import summarize


def test_corrupted_names_split_back():
    for spec in HARSH_CONDITIONS:
        kind, level = spec.split(":")
        assert split_name(corrupted_name("fashion_mnist", spec)) == (
            "fashion_mnist",
            kind,
            float(level),
        )
    assert split_name("usps_c10") == ("usps_c10", None, 0.0)
    assert (
        data_name("usps@salt_pepper:0.3") == "usps_salt_pepper0.3" and data_name("usps") == "usps"
    )


def test_the_harsh_plan_runs_every_condition_and_three_mnist_seeds():
    points = plan_points(PLANS["harsh"])
    per = {}
    for seed, key, run_name, *_ in points:
        per.setdefault(key.partition("@")[0], set()).add((seed, key, run_name))
    assert len(per["usps"]) == len(per["coil20"]) == 9 * 6 * 5
    assert len(per["mnist"]) == 2 * 6 * 3
    assert {s for s, *_ in per["mnist"]} == {0, 1, 2}
    assert {k for _, k, _ in per["coil20"]} == {f"coil20@{c}" for c in HARSH_CONDITIONS}
    assert "kmeans" in {r for *_, r in per["usps"]} and len(points) == 576


def _run(dataset, method, accs):
    per_seed = [{"seed": s, "acc": a, "nmi": a, "ari": a, "n_iter": 1} for s, a in enumerate(accs)]
    return {
        "dataset": dataset,
        "method": method,
        "per_seed": per_seed,
        "summary": summarize(per_seed),
        "config": {"gamma": 0.1, "embed_dim": 10},
    }


def test_the_report_pairs_losses_by_seed():
    clean = [_run("d", "dssec", [0.8, 0.7]), _run("d", "idec", [0.75, 0.72])]
    harsh = [_run("d_gaussian0.2", "dssec", [0.7, 0.65]), _run("d_gaussian0.2", "idec", [0.6, 0.6])]
    md = harsh_markdown(harsh, clean)
    # losses: dssec 0.10, 0.05; idec 0.15, 0.12; idec's less dssec's: 0.05, 0.07
    assert "| | clean | gaussian 0.2 |" in md
    assert "| dssec | +0.000 ± 0.000 (2, ahead on 0) | +0.075 ± 0.035 (2, ahead on 2) |" in md
    assert (
        "| idec's loss − dssec's loss | +0.000 ± 0.000 (2, ahead on 0) | +0.060 ± 0.014 (2, ahead on 2) |"
        in md
    )
    assert (
        "| dssec − idec | +0.015 ± 0.049 (2, ahead on 1) | +0.075 ± 0.035 (2, ahead on 2) |" in md
    )
    without_clean = harsh_markdown(harsh, [])
    assert "lost against the clean" not in without_clean and "| | gaussian 0.2 |" in without_clean


def test_a_plan_under_one_corruption_is_reported_against_itself_clean(tmp_path):
    res, work = tmp_path / "results", tmp_path / "work"
    args = [
        "--plan=smoke",
        "--methods=kmeans,ae_kmeans,sae_kmeans",
        "--seeds=2",
        f"--cache_dir={work}",
    ]
    clean = run("experiments.campaign", *args, f"--results={res}")
    assert clean.returncode == 0, clean.stderr[-2000:]
    harsh = run("experiments.campaign", *args, f"--results={res}", "--corrupt=noise_features:0.5")
    assert harsh.returncode == 0, harsh.stderr[-2000:]
    out = tmp_path / "results_noise_features0.5"
    cfg = json.loads((out / "digits_noise_features0.5_sae_kmeans" / "config.json").read_text())
    assert cfg["dataset"] == "digits_noise_features0.5"
    md = (out / "results.md").read_text()
    assert "| | clean | noise_features 0.5 |" in md and "| sae_kmeans − ae_kmeans |" in md
    assert "ACC lost against the clean result" in md
    written = write_report(out, tsne=False, clean=str(res))
    assert (out / "harsh_digits.png") in written and (out / "results.md").read_text() == md
    bad = run("experiments.campaign", *args, f"--results={res}", "--corrupt=occlusion:2")
    assert bad.returncode == 2 and "must be a number in (0, 1)" in bad.stderr

"""The campaign end to end on digits (smoke plan): export, resume, refusal of mixed
settings, commits; and the README's tables regenerate from the committed results."""

import json
import re
import subprocess

import numpy as np
import pytest
from conftest import ROOT
from test_experiments import run

from dssec_jax import evaluate
from dssec_jax.cli.report import (
    SWEEPS,
    collect,
    markdown_table,
    readme_block,
    sweep_markdown,
    update_readme,
)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def test_campaign_exports_resumes_commits_and_refuses_mixed_settings(tmp_path, digits):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    res, work = tmp_path / "results", tmp_path / "work"
    readme = tmp_path / "README.md"
    readme.write_text("# r\n<!-- begin results -->\n<!-- end results -->\n")
    args = [
        "--plan=smoke",
        "--methods=kmeans,ae_kmeans,dec",
        f"--results={res}",
        f"--cache_dir={work}",
    ]
    first = run("experiments.campaign", *args, "--seeds=1", env=GIT_ENV)  # no commits yet
    assert first.returncode == 0, first.stderr[-2000:]
    assert "plan: 3 points, 0 already exported" in first.stdout
    (tmp_path / "mine.txt").write_text("work in progress")  # staged by the user: left alone
    subprocess.run(["git", "-C", str(tmp_path), "add", "mine.txt"], check=True)
    again = run(
        "experiments.campaign",
        *args,
        "--seeds=2",
        "--commit",
        f"--update_readme={readme}",
        env=GIT_ENV,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "plan: 6 points, 3 already exported" in again.stdout
    assert "plan done: 3 points ran" in again.stdout
    _, y = digits
    for method in ("kmeans", "ae_kmeans", "dec"):
        out = res / f"digits_{method}"
        results = json.loads((out / "results.json").read_text())
        assert json.loads((out / "config.json").read_text())["seeds"] == [0, 1]
        accs = []
        for rec in results["per_seed"]:
            sdir = out / f"seed_{rec['seed']}"
            assert sorted(p.name for p in sdir.iterdir()) == [
                "history.json.gz",
                "labels.npz",
                "result.json",
            ]
            with np.load(sdir / "labels.npz") as f:
                assert f["labels"].dtype == np.uint8
                got = evaluate(y, f["labels"].astype(np.int32))
            assert all(abs(got[k] - rec[k]) < 1e-12 for k in ("acc", "nmi", "ari"))
            accs.append(rec["acc"])
        s = results["summary"]["acc"]
        assert s["n"] == 2 and abs(s["std"] - np.std(accs, ddof=1)) < 1e-12
    # the tables follow every export: results.csv, results.md and the README block
    table = markdown_table(collect(res))
    assert (res / "results.md").read_text() == table and "| dec | " in table
    rows = (res / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + sum(len(r["per_seed"]) for r in collect(res))
    assert readme_block("results").search(readme.read_text()).group(2) == table
    log = subprocess.run(
        ["git", "-C", str(tmp_path), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # the first run's exports are committed at the next start with the tables they change
    # (results.md, results.csv, the README block), then one commit per point
    assert sum("(earlier exports)" in m for m in log) == 3 and log.count("results: tables") == 1
    assert "results: results digits dec seed 1" in log and len(log) == 7
    status = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # everything exported is committed; the user's staged file is still only staged
    assert sorted(status.strip().splitlines()) == ["?? work/", "A  mine.txt"]
    # a column must not mix settings: a changed config refuses more seeds
    cfg_path = res / "digits_dec" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["config"]["n_init"] = 7
    cfg_path.write_text(json.dumps(cfg))
    mixed = run("experiments.campaign", *args, "--seeds=3", env=GIT_ENV)
    assert mixed.returncode == 2 and "holds a run with other settings or data" in mixed.stderr


def test_the_labels_plan_is_pointed_at_the_strong_plans_autoencoder_cache(tmp_path):
    r = run(
        "experiments.campaign",
        "--plan=labels",
        "--datasets=usps",
        f"--cache_dir={tmp_path}",
        f"--results={tmp_path / 'out'}",
        "--dry_run",
    )
    assert r.returncode == 0, r.stderr
    assert f"working folder: {tmp_path / 'labels'}; " in r.stdout
    assert f"pretrained autoencoders: {tmp_path / 'strong' / 'ae_cache'}" in r.stdout
    assert "todo: usps dssec_label_fraction0.1 seed 4" in r.stdout
    assert "tables also in" not in r.stdout  # results elsewhere: the README is left alone
    # to its own folder, the plan rewrites its README block after each point
    r = run("experiments.campaign", "--plan=labels", f"--cache_dir={tmp_path}", "--dry_run")
    assert r.returncode == 0 and "; tables also in README.md" in r.stdout, r.stderr


def test_campaign_rejects_what_the_plan_does_not_hold():
    r = run("experiments.campaign", "--plan=smoke", "--datasets=usps", "--dry_run")
    assert r.returncode == 2 and "--datasets ['usps'] are not in this plan" in r.stderr
    # the plan fixes its settings: a setting flag is refused, not ignored
    r = run("experiments.campaign", "--plan=paper", "--recipe=strong", "--beta=0.3", "--dry_run")
    assert r.returncode == 2 and "does not read --beta, --recipe;" in r.stderr, r.stderr
    r = run("experiments.campaign", "--plan=paper", "--download", "--dry_run")
    assert r.returncode == 2 and "downloads nothing; fetch one first" in r.stderr, r.stderr


def test_report_cells_use_the_sample_std_and_count_seeds():
    def run_(accs, stops):
        per_seed = [
            {"seed": i, "acc": a, "nmi": a, "ari": a, "n_iter": 10, "stop_reason": s}
            for i, (a, s) in enumerate(zip(accs, stops))
        ]
        from dssec_jax.cli.runner import summarize

        return {
            "dataset": "d",
            "method": "dssec",
            "per_seed": per_seed,
            "summary": summarize(per_seed),
            "config": {
                "gamma": 0.1,
                "embed_dim": 10,
                "pretrain_epochs": 1,
                "max_iter": 10,
                "update_interval": 5,
                "tol": 0.001,
            },
        }

    md = markdown_table([run_([0.5, 0.7, 0.9], ["max_iter", "tol", "max_iter"])])
    assert "| dssec | 0.700 ± 0.200 (3) |" in md  # ddof 1: the population std would be 0.163
    assert "stopped at max_iter 2 of 3" in md
    assert "| dssec | 0.500 (1) |" in markdown_table([run_([0.5], ["tol"])])


def test_report_pairs_each_method_with_its_base_on_the_same_seeds():
    from dssec_jax.cli.report import paired_lines

    def run_(method, accs):
        return {"method": method, "per_seed": [{"seed": s, "acc": a} for s, a in accs]}

    table = {
        ("dssec", "d"): run_("dssec", [(0, 0.8), (1, 0.6), (2, 0.9)]),
        ("idec", "d"): run_("idec", [(0, 0.7), (1, 0.7)]),  # seed 2 not finished: not paired
    }
    text = "\n".join(paired_lines(table, ["d"]))
    assert "| dssec − idec | +0.000 ± 0.141 (2, ahead on 1) |" in text
    assert "| dssec − dec | - |" in text


def test_readme_tables_regenerate_from_the_committed_results():
    readme = (ROOT / "docs/results.md").read_text()
    folders = re.findall(r"<!-- begin (results/[\w/]+) -->", readme)
    assert folders, "docs/results.md holds no generated results table"
    for folder in folders:
        expected = markdown_table(collect(ROOT / folder))
        assert readme_block(folder).search(readme).group(2) == expected, (
            f"docs/results.md's {folder} table is stale: python -m experiments.report {folder} "
            "--readme=docs/results.md"
        )
        assert (ROOT / folder / "results.md").read_text() == expected


@pytest.mark.parametrize(
    "doc, shown", [("README.md", "results/labels"), ("docs/results.md", "results/figures")]
)
def test_the_sweep_tables_regenerate_from_the_committed_results(doc, shown):
    text = (ROOT / doc).read_text()
    folders = re.findall(r"<!-- begin (results/[\w/]+) sweeps -->", text)
    assert shown in folders, f"{doc} shows the sweeps of {shown}"
    for folder in folders:
        expected = sweep_markdown(collect(ROOT / folder))
        assert " against " in expected, f"{folder} has no sweep to show"
        assert readme_block(folder, SWEEPS).search(text).group(2) == expected, (
            f"{doc}'s {folder} sweeps are stale: python -m experiments.report {folder} "
            f"--readme={doc}"
        )


def test_update_readme_replaces_only_its_block(tmp_path):
    readme = tmp_path / "R.md"
    readme.write_text("a\n<!-- begin results/x -->\nold\n<!-- end results/x -->\nb\n")
    update_readme(readme, "results/x", {"": "new\n"})
    assert readme.read_text() == "a\n<!-- begin results/x -->\nnew\n<!-- end results/x -->\nb\n"
    with pytest.raises(ValueError, match="has no block"):
        update_readme(readme, "results/y", {"": "t\n", SWEEPS: "s\n"})
    # the sweeps block alone: it gets the sweep tables, and the whole table goes nowhere
    readme.write_text("<!-- begin results/x sweeps -->\nold\n<!-- end results/x sweeps -->\n")
    update_readme(readme, "results/x", {"": "whole\n", SWEEPS: "sweeps\n"})
    assert readme.read_text() == (
        "<!-- begin results/x sweeps -->\nsweeps\n<!-- end results/x sweeps -->\n"
    )
    # a comparison block is found by its base folder's name, not by the table's block
    both = "<!-- begin results/x against results/p -->\nold\n<!-- end results/x against results/p -->\n"
    readme.write_text(both)
    update_readme(readme, "results/x", {"": "whole\n", " against results/p": "pairs\n"})
    assert readme.read_text() == both.replace("old", "pairs")


def test_only_seeds_keeps_those_seeds_in_order_and_refuses_others():
    from dssec_jax.cli.campaign import PLANS, plan_points

    plan = PLANS["paper"]
    every = plan_points(plan, ["usps"])
    some = plan_points(plan, ["usps"], None, None, [4, 1])
    m = len(plan.methods)  # the table's eight methods, LCAE+K-means at its share of labels
    assert m == 8 and ("usps", "lcae_kmeans", "lcae_kmeans", {"label_fraction": 0.1}) in [
        p[1:] for p in some
    ]
    assert [p[0] for p in some] == [1] * m + [4] * m
    assert some == [p for p in every if p[0] in (1, 4)]
    with pytest.raises(ValueError, match=r"--only_seeds \[5\] are not in this plan"):
        plan_points(plan, ["usps"], None, None, [5])
    assert [p[0] for p in plan_points(plan, ["usps"], None, 7, [5])] == [5] * m


def test_the_figures_plan_departs_in_one_setting_where_it_matters():
    from dssec_jax.cli.campaign import PLANS, plan_points

    runs = {(r, m): kw for _, _, r, m, kw in plan_points(PLANS["figures"], ["usps"], None, 1)}
    names = [r for r, _ in runs]
    assert names[:8] == [
        "ae_kmeans",
        "ae_kmeans_embed_dim5",
        "ae_kmeans_embed_dim20",
        "ae_kmeans_embed_dim40",
        "sae_kmeans",
        "sae_kmeans_embed_dim5",
        "sae_kmeans_embed_dim20",
        "sae_kmeans_embed_dim40",
    ]
    assert "ae_kmeans_gamma0.3" not in names  # gamma does not enter K-means on features
    assert runs[("dssec_gamma0.3", "dssec")] == {"gamma": 0.3}
    assert "dssec_gamma0.1" not in names  # the table's own value is the base run
    assert len(names) == 2 * 4 + 2 * 8


def test_readme_hand_copied_means_and_distances_match_the_committed_results():
    """The table beside the published numbers is typed by hand: each "ours" cell and each
    target's distance must equal the report's means (final iterate) from results/paper."""
    from dssec_jax.cli.report import main_table

    readme = (ROOT / "docs/results.md").read_text()
    after = readme.split("<!-- end results/paper -->", 1)[1]
    rows = re.findall(r"^\| \**([^|]*?), ours\** \|(.*)\|$", after, re.M)
    target = re.search(r"^\| target for DSSEC \(ACC\) \|(.*)\|$", after, re.M)
    assert "\n| | MNIST | Fashion-MNIST | USPS |\n" in after and target
    names = {
        "DSSEC": "dssec",
        "IDEC": "idec",
        "DEC": "dec",
        "AE + K-means": "ae_kmeans",
        "K-means on pixels": "kmeans",
    }
    assert sorted(label for label, _ in rows) == sorted(names)
    datasets = ("mnist", "fashion_mnist", "usps")
    table = main_table(collect(ROOT / "results/paper"))
    for label, cells in [*rows, ("target", target.group(1))]:
        assert len(cells.split("|")) == len(datasets), (label, cells)
    for label, cells in rows:
        for d, cell in zip(datasets, cells.split("|")):
            s = table[(names[label], d)]["summary"]
            want = f"{s['acc']['mean']:.3f} / {s['nmi']['mean']:.3f}"
            assert cell.strip(" *") == want, (label, d, cell, want)
    goals = (0.91, 0.62, 0.78)
    for d, goal, cell in zip(datasets, goals, target.group(1).split("|")):
        short = goal - table[("dssec", d)]["summary"]["acc"]["mean"]
        assert f"above {goal:g}: **{short:.3f} short**" == cell.strip(), (d, cell)


def test_export_keeps_a_seed_that_another_process_exports_meanwhile(tmp_path, monkeypatch):
    """Process P exports seed 0 while process Q exports seed 1 of the same point: Q's
    summary lands between P's summary and P's marker. The point's results.json must end
    with both seeds (before the fix it held only Q's)."""
    from dssec_jax.cli import campaign
    from dssec_jax.data import Dataset
    from dssec_jax.methods import Config

    run_dir, out = tmp_path / "work", tmp_path / "out"
    for s in (0, 1):
        src = run_dir / f"seed_{s}"
        src.mkdir(parents=True)
        np.savez(src / "outputs.npz", labels=np.zeros(4, int), kmeans_labels=np.ones(4, int))
        (src / "history.json").write_text("{}")
        rec = {"seed": s, "acc": 0.5 + s / 10, "nmi": 0.4, "ari": 0.3, "stop_reason": "tol"}
        (src / "result.json").write_text(json.dumps(rec))
    (run_dir / "config.json").write_text("{}")
    ds = Dataset(np.zeros((4, 2), np.float32), np.zeros(4, np.int32), "toy", None, 2)
    cfg = Config(method="dssec", n_clusters=2)
    real, calls = campaign.finish_run, []

    def finish_run(o, d, c, per_seed):  # Q exports seed 1 inside P's window, once
        result = real(o, d, c, per_seed)
        if not calls:
            calls.append(1)
            campaign.export_seed(run_dir, out, ds, cfg, 1)
        return result

    monkeypatch.setattr(campaign, "finish_run", finish_run)
    campaign.export_seed(run_dir, out, ds, cfg, 0)
    res = json.loads((out / "results.json").read_text())
    assert [r["seed"] for r in res["per_seed"]] == [0, 1]
    assert res["summary"]["acc"]["n"] == 2
    assert json.loads((out / "config.json").read_text())["seeds"] == [0, 1]


def test_readme_strong_against_paper_table_matches_the_committed_results():
    """The table of the strong recipe against the paper protocol, in the README and the
    docs: every mean and every paired difference recomputes from results/strong and
    results/paper (here, independently of the report), and the block is the report's
    table, as committed in results/strong/against_paper.md."""
    from dssec_jax.cli.plan_comparison import against_markdown

    expected = against_markdown(
        collect(ROOT / "results/strong"), collect(ROOT / "results/paper"), "strong", "paper"
    )
    assert (ROOT / "results/strong/against_paper.md").read_text() == expected
    block = readme_block("results/strong", " against results/paper")
    found = block.search((ROOT / "README.md").read_text())
    assert found, "README.md has no block of results/strong against results/paper"
    assert found.group(2) == expected, (
        "README.md's strong table is stale: python -m experiments.report results/strong "
        "--against=results/paper --readme=README.md"
    )
    _check_strong_table(expected.split("\n\n", 1)[0])
    # the site's results page shows the committed file itself
    assert '--8<-- "results/strong/against_paper.md"' in (ROOT / "docs/results.md").read_text()


def _toy_run(method, dataset, accs, nonfinite=()):
    per_seed = [
        {"seed": s, "acc": a, **({"stop_reason": "nonfinite"} if s in nonfinite else {})}
        for s, a in accs.items()
    ]
    config = {"gamma": 0.1, "embed_dim": 10, "label_fraction": 0.0}
    return {"method": method, "dataset": dataset, "per_seed": per_seed, "config": config}


def test_the_table_against_a_base_pairs_seeds_and_waits_for_an_incomplete_dataset():
    from dssec_jax.cli.plan_comparison import against_markdown

    base = [
        _toy_run("idec", "usps", {0: 0.70, 1: 0.80}),
        _toy_run("dssec", "usps", {0: 0.60, 1: 0.90}),
        _toy_run("dssec", "mnist", {0: 0.80, 1: 0.70}),
        _toy_run("dssec", "coil20", {0: 0.60, 1: 0.70}),
    ]
    runs = [
        _toy_run("idec", "usps", {0: 0.75, 1: 0.80, 2: 0.99}),  # seed 2 has no base: unpaired
        _toy_run("dssec", "usps", {0: 0.70, 1: 0.82}),
        _toy_run("dssec", "mnist", {0: 0.90, 1: 0.10}, nonfinite=(1,)),  # seed 1: not paired
        _toy_run("dssec", "coil20", {0: 0.65}),  # seed 1 still to run
    ]
    text = against_markdown(runs, base, "new", "old")
    lines = text.splitlines()
    assert lines[0] == (
        "| ACC, mean over seeds (MNIST 1; USPS 2) | MNIST, old | MNIST, new | new - old, paired "
        "| USPS, old | USPS, new | new - old, paired |"
    )
    # IDEC has no MNIST run; the column's best in bold; MNIST pairs seed 0 alone
    assert lines[2] == "| IDEC | - | - | - | 0.750 | **0.775** | +0.025 |"
    assert lines[3] == "| DSSEC | 0.800 | **0.900** | +0.100 | 0.750 | 0.760 | +0.010 |"
    assert lines[-1] == "In progress (not every method has the old seeds yet): COIL-20."


def test_a_row_given_labels_is_marked_and_left_out_of_the_bold():
    """LCAE+K-means, given 10 % of the labels, above every unsupervised row: marked ‡, not
    bold; the bold goes to the best unsupervised row."""
    from dssec_jax.cli.plan_comparison import against_markdown

    def lcae(accs, unknown):
        run_ = _toy_run("lcae_kmeans", "usps", accs)
        for rec, u in zip(run_["per_seed"], unknown):
            rec.update(acc_unknown=u, n_known=93, cluster_sizes=[93] * 10)
        return {**run_, "config": {**run_["config"], "label_fraction": 0.1}}

    base = [_toy_run("dssec", "usps", {0: 0.7}), lcae({0: 0.9}, [0.88])]
    runs = [_toy_run("dssec", "usps", {0: 0.75, 1: 0.8}), lcae({0: 0.95, 1: 0.9}, [0.94, 0.5])]
    lines = against_markdown(runs, base, "new", "old").splitlines()
    assert lines[2:4] == [
        "| LCAE + K-means ‡ | 0.900 | 0.950 | +0.050 |",
        "| DSSEC | 0.700 | **0.750** | +0.050 |",
    ]
    assert lines[-1] == (  # on the paired seed 0 alone
        "‡ Given 10 % of the labels (stratified by class, drawn from the seed; USPS 93 of 930 "
        "samples): not in the bold. Its ACC on the samples whose label was not given (old / "
        "new): USPS 0.880 / 0.940."
    )
    base[1]["per_seed"][0]["n_known"] = 92  # a base given another count: both named
    lines = against_markdown(runs, base, "new", "old").splitlines()
    assert "; USPS 92 of 930 samples / 93 of 930 samples)" in lines[-1]


def test_a_run_given_labels_from_a_file_is_marked_and_never_the_tables_unsupervised_cell():
    """Labels from a file (label_fraction 0, its records count them): the share is counted,
    the run does not take the main table's cell from the unsupervised run, and a base run
    written before label_fraction existed reads as given none."""
    from dssec_jax.cli.plan_comparison import against_markdown
    from dssec_jax.cli.report import label_share, main_table

    filed = _toy_run("dssec", "usps", {0: 0.95})
    filed["per_seed"][0].update(n_known=20, cluster_sizes=[60, 40], acc_unknown=0.9)
    plain = _toy_run("dssec", "usps", {0: 0.7})
    assert label_share(filed) == 0.2 and label_share(plain) == 0.0
    for runs in ([filed, plain], [plain, filed]):  # not the folder order
        assert main_table(runs)[("dssec", "usps")] is plain
    old = _toy_run("dssec", "usps", {0: 0.6})
    del old["config"]["label_fraction"]
    lines = against_markdown([filed], [old], "new", "old").splitlines()
    assert lines[-1] == (
        "‡ Given 20 % of the labels (USPS 20 of 100 samples): not in the bold. Its ACC on the "
        "samples whose label was not given (old / new): USPS - / 0.900."
    )


def test_a_cell_given_labels_names_how_many_samples_its_draw_gave():
    """A stratified draw rounds per class: "1 %" of COIL-20 is 20 of 1440 samples, and the
    settings line says so beside the nominal share."""
    from dssec_jax.cli.report import known_count

    run_ = _toy_run("lcae_kmeans", "coil20", {0: 0.7, 1: 0.72})
    run_["config"]["label_fraction"] = 0.01
    assert known_count(run_) == ""  # records from before the count
    for rec in run_["per_seed"]:
        rec.update(n_known=20, cluster_sizes=[72] * 20)
    assert known_count(run_) == "20 of 1440 samples"
    run_["per_seed"][1]["n_known"] = 21
    assert known_count(run_) == "20 to 21 of 1440 samples"
    assert (
        "known labels 10%, 140 of 1440 samples (label_weight"
        in (ROOT / "results" / "labels" / "results.md").read_text()
    )


def test_the_table_against_a_base_names_what_it_cannot_pair():
    from dssec_jax.cli.plan_comparison import against_markdown

    base = [
        _toy_run("idec", "usps", {0: 0.5, 1: 0.5}),
        _toy_run("dssec", "usps", {0: 0.5, 1: 0.5}),
        _toy_run("dec", "usps", {0: 0.5}),
    ]
    runs = [
        _toy_run("idec", "usps", {0: 0.7, 1: 0.7}),
        _toy_run("dssec", "usps", {0: 0.7, 1: 0.7000000001}),  # the same as shown: both bold
        _toy_run("dec", "usps", {0: 0.1}, nonfinite=(0,)),  # ran, nothing to pair
        _toy_run("lcae_kmeans", "usps", {0: 0.9}),  # not in the base
    ]
    lines = against_markdown(runs, base, "new", "old").splitlines()
    assert lines[0].startswith("| ACC, mean over seeds (USPS 0-2) |")  # counts differ
    assert lines[2:5] == [
        "| DEC | - | - | - |",
        "| IDEC | 0.500 | **0.700** | +0.200 |",
        "| DSSEC | 0.500 | **0.700** | +0.200 |",
    ]
    assert lines[-1] == "Not in old: LCAE + K-means."
    # a method the compared folder runs but has not yet run on a dataset: in progress
    more_base = base[:2] + [_toy_run(m, "mnist", {0: 0.5}) for m in ("idec", "dssec")]
    more_runs = runs[:2] + [_toy_run("dssec", "mnist", {0: 0.6})]  # IDEC not yet on MNIST
    waiting = against_markdown(more_runs, more_base, "n", "o")
    assert waiting.splitlines()[-1] == "In progress (not every method has the o seeds yet): MNIST."
    assert against_markdown(runs[:1], base[2:], "n", "o") == (
        "No dataset of n has every method at the o seeds yet.\n"
    )


# The seeds the table needs of each dataset: 5 of the small ones, at least 3 of the large.
TABLE_SEEDS = {"mnist": 3, "fashion_mnist": 3, "usps": 5, "coil20": 5}
DATASET_NAMES = {
    "MNIST": "mnist",
    "Fashion-MNIST": "fashion_mnist",
    "USPS": "usps",
    "COIL-20": "coil20",
}


def _check_strong_table(block: str) -> None:
    rows = re.findall(r"^\| ([A-Za-z+ -]+?) \|(.*)\|$", block, re.M)
    names = {
        "K-means on pixels": "kmeans",
        "PCA + K-means": "pca_kmeans",
        "AE + K-means": "ae_kmeans",
        "SAE + K-means": "sae_kmeans",
        "DEC": "dec",
        "IDEC": "idec",
        "DSSEC": "dssec",
    }
    assert [label for label, _ in rows if label in names] == list(names)

    def accs(plan, ds, m):
        res = json.loads((ROOT / "results" / plan / f"{ds}_{m}" / "results.json").read_text())
        return {r["seed"]: r["acc"] for r in res["per_seed"] if "acc" in r}

    header = re.search(r"^\| ACC[^|]*\|(.*)\|$", block, re.M).group(1).split("|")
    datasets = [DATASET_NAMES[c.strip().split(",")[0]] for c in header[::3]]
    assert header[1::3] == [f" {c.strip().split(',')[0]}, strong " for c in header[::3]]
    for label, cells in rows:
        if label not in names:
            continue
        got = [c.strip(" *") for c in cells.split("|")]
        want = []
        for ds in datasets:
            a, b = accs("paper", ds, names[label]), accs("strong", ds, names[label])
            assert set(a) == set(b) and len(a) >= TABLE_SEEDS[ds], (ds, label)  # all paired
            seeds = sorted(a)
            d = np.mean([b[s] - a[s] for s in seeds])
            want += [f"{np.mean(list(a.values())):.3f}", f"{np.mean(list(b.values())):.3f}"]
            want.append(f"{d:+.3f}")
        assert got == want, (label, got, want)


def test_the_labels_plan_reuses_the_strong_tables_pretrainings_and_runs_few_large_points():
    """On MNIST and Fashion-MNIST the labels plan runs DSSEC with 10 % known labels and
    without (3 seeds); its runs at the strong table's settings share the strong plan's
    autoencoder cache, so their pretraining (same key) is not run again."""
    import dataclasses
    import pathlib

    from dssec_jax.cli.campaign import PLANS, ae_cache_dir, plan_points

    labels, strong = PLANS["labels"], PLANS["strong"]
    pts = plan_points(labels)
    large = {(s, d, r) for s, d, r, *_ in pts if d in ("mnist", "fashion_mnist")}
    assert large == {
        (s, d, r)
        for s in range(3)
        for d in ("mnist", "fashion_mnist")
        for r in ("dssec", "dssec_label_fraction0.1")
    }
    assert {r for _, d, r, *_ in pts if d == "usps"} >= {"lcae_kmeans_label_fraction0.01"}
    root = pathlib.Path("/campaigns")
    assert ae_cache_dir(root, "labels", labels) == ae_cache_dir(root, "strong", strong)
    assert ae_cache_dir(root, "harsh", PLANS["harsh"]) == root / "harsh" / "ae_cache"
    ours = {(d, r): kw for s, d, r, m, kw in pts if s == 0}
    theirs = {(d, r): kw for s, d, r, m, kw in plan_points(strong) if s == 0}
    for point in [("usps", "dssec"), ("usps", "lcae_kmeans"), ("mnist", "dssec")]:
        assert ours[point] == theirs[point]  # the same settings, so the same cache key
    stray = dataclasses.replace(labels, only_runs={"mnist": ("dssec_label_fraction0.2",)})
    with pytest.raises(ValueError, match="only_runs names"):
        plan_points(stray)
    with pytest.raises(ValueError, match="only_runs names datasets"):
        plan_points(dataclasses.replace(labels, only_runs={"mnsit": ("dssec",)}))


def test_the_readmes_strong_recipe_bullets_recompute_from_the_committed_results():
    """The numbers the README's bullets under the strong table quote: means, standard
    deviations and paired differences of results/strong."""
    from dssec_jax.cli.report import main_table, paired_acc

    text = " ".join((ROOT / "README.md").read_text().split("## Results")[1].split())
    table = main_table(collect(ROOT / "results/strong"))

    def mean(m, d, std=False):
        s = table[(m, d)]["summary"]["acc"]
        return f"{s['mean']:.3f}" + (f" ± {s['std']:.3f}" if std else "")

    def paired(m, base, d):
        diffs = paired_acc(table[(m, d)], table[(base, d)])
        ahead = sum(x > 0 for x in diffs)
        return f"{np.mean(diffs):+.3f} ± {np.std(diffs, ddof=1):.3f}", ahead, len(diffs)

    usps, coil = paired("dssec", "idec", "usps"), paired("dssec", "idec", "coil20")
    assert f"USPS {usps[0]}, ahead on {usps[1]} of {usps[2]}" in text
    assert f"COIL-20 {coil[0]}, ahead on {coil[1]} of {coil[2]}" in text
    mn = paired("dssec", "idec", "mnist")
    assert f"{mn[0]}, DSSEC behind on {mn[2] - mn[1]} of {mn[2]}" in text
    sae = [paired("sae_kmeans", "ae_kmeans", d)[0].split(" ±")[0] for d in ("usps", "coil20")]
    assert f"leads AE+K-means ({sae[0]}, {sae[1]})" in text
    assert f"IDEC's {mean('idec', 'mnist')}" in text and f"DSSEC's {mean('dssec', 'mnist')}" in text
    assert f"COIL-20: DSSEC {mean('dssec', 'coil20', True)}" in text
    assert "(0.684)" in text and mean("kmeans", "coil20") == "0.684"
    assert f"as is SAE+K-means ({mean('sae_kmeans', 'coil20')})" in text
    assert f"USPS: DSSEC {mean('dssec', 'usps', True)}" in text
    # Fashion-MNIST, strong - paper paired by seed, and DEC's and IDEC's starts they fall from
    paper = main_table(collect(ROOT / "results/paper"))

    def lift(m):
        return (
            f"{np.mean(paired_acc(table[(m, 'fashion_mnist')], paper[(m, 'fashion_mnist')])):+.3f}"
        )

    lifted = ", ".join(lift(m) for m in ("ae_kmeans", "sae_kmeans", "dssec"))
    assert f"SAE+K-means and DSSEC ({lifted}, paired)" in text
    assert f"not DEC or IDEC ({lift('dec')}, {lift('idec')})" in text.replace("−", "-")
    for m in ("dec", "idec"):
        for r in table[(m, "fashion_mnist")]["per_seed"]:
            assert r["acc"] < r["kmeans_acc"], (m, r["seed"])  # lowers the start on every seed
    fm = table[("dssec", "fashion_mnist")]["per_seed"]
    lowered = sum(r["acc"] < r["kmeans_acc"] for r in fm)
    start = mean("sae_kmeans", "fashion_mnist")  # DSSEC's K-means start, seed by seed
    assert [r["kmeans_acc"] for r in fm] == pytest.approx(
        [r["acc"] for r in table[("sae_kmeans", "fashion_mnist")]["per_seed"]], abs=1e-3
    )
    assert f"starts from {start} (SAE+K-means) and its clustering phase lowers" in text
    assert f"that on {lowered} of {len(fm)} seeds (DEC's and IDEC's on 3 of 3; all 20,000" in text
    assert all(
        r["n_iter"] == 20000
        for m in ("dec", "idec", "dssec")
        for r in table[(m, "fashion_mnist")]["per_seed"]
    )  # "all 20,000 iterations long"
    dssec = mean("dssec", "fashion_mnist")
    assert f"DSSEC's {dssec} is {0.62 - float(dssec):.3f} short of the 0.62 target" in text
    fa = paired("dssec", "idec", "fashion_mnist")
    assert f"It leads IDEC by {fa[0]} (ahead on {fa[1]} of {fa[2]} seeds)" in text
    glance = f"IDEC leads on MNIST ({mean('idec', 'mnist')} against {mean('dssec', 'mnist')})"
    assert glance in " ".join((ROOT / "README.md").read_text().split())
    fm_glance = (
        f"DSSEC, within noise, on Fashion-MNIST ({dssec} against {mean('idec', 'fashion_mnist')})"
    )
    assert fm_glance in " ".join((ROOT / "README.md").read_text().split())


def test_the_readmes_lcae_sentence_recomputes_from_the_strong_results():
    """LCAE+K-means at 10 % known labels over the strong plan's seeds, on all samples and on
    those not given, beside AE+K-means, as the README's known-labels section quotes them."""
    from dssec_jax.cli.report import main_table

    text = " ".join((ROOT / "README.md").read_text().split("### A few known labels")[1].split())
    table = main_table(collect(ROOT / "results/strong"))
    names = {
        "mnist": "MNIST",
        "fashion_mnist": "Fashion-MNIST",
        "usps": "USPS",
        "coil20": "COIL-20",
    }

    def means(method, key="acc"):
        return [f"{table[(method, d)]['summary'][key]['mean']:.3f}" for d in names]

    assert all(table[("lcae_kmeans", d)]["config"]["label_fraction"] == 0.1 for d in names)
    for d in names:  # "every seed of the strong plan has run"
        assert table[("lcae_kmeans", d)]["summary"]["acc"]["n"] == TABLE_SEEDS[d], d
    lcae = ", ".join(f"{n} {v}" for n, v in zip(names.values(), means("lcae_kmeans")))
    assert f"LCAE+K-means reaches {lcae}" in text
    assert f"(on the samples not given: {', '.join(means('lcae_kmeans', 'acc_unknown'))})" in text
    assert f"AE+K-means reaches {', '.join(means('ae_kmeans'))}." in text


def test_a_diverged_seed_is_recorded_and_the_others_go_on(tmp_path, digits, monkeypatch):
    """A seed whose fit turns non-finite gets a result.json (stop reason "nonfinite", the
    error, no labels); the run goes on, the means leave it out and count it, a rerun does
    not repeat it, and the campaign exports it as a record alone."""
    from dssec_jax import pipeline
    from dssec_jax.cli import campaign, runner
    from dssec_jax.data import Dataset
    from dssec_jax.methods import Config
    from dssec_jax.validation import NonFiniteLossError

    x, y = digits
    ds = Dataset(x[:300], y[:300], "toy", None, 10)
    cfg = Config(method="kmeans", n_clusters=10, n_init=2)
    real, fits = pipeline.fit, []

    def fit(x, cfg, seed, *a, **kw):
        fits.append(seed)
        if seed == 1:
            raise NonFiniteLossError("non-finite loss or weights (nan) in pretraining at ...")
        return real(x, cfg, seed, *a, **kw)

    monkeypatch.setattr(pipeline, "fit", fit)
    res = runner.run_config(ds, cfg, [0, 1, 2], tmp_path / "run", tmp_path / "cache")
    assert [r["stop_reason"] for r in res["per_seed"]] == ["kmeans", "nonfinite", "kmeans"]
    assert "non-finite loss" in res["per_seed"][1]["error"] and "acc" not in res["per_seed"][1]
    assert res["per_seed"][1]["processor"] == res["per_seed"][0]["processor"]
    assert res["summary"]["acc"]["n"] == 2 and res["summary"]["stopped_nonfinite"] == 1
    again = runner.run_config(ds, cfg, [0, 1, 2], tmp_path / "run", tmp_path / "cache")
    assert fits == [0, 1, 2] and again["per_seed"] == res["per_seed"]  # nothing ran again
    out = tmp_path / "out"
    for s in (0, 1, 2):
        campaign.export_seed(tmp_path / "run", out, ds, cfg, s)
    assert not (out / "seed_1" / "labels.npz").exists() and (out / "seed_2" / "labels.npz").exists()
    assert json.loads((out / "results.json").read_text())["summary"]["stopped_nonfinite"] == 1


def test_save_model_on_a_finished_seed_says_it_is_not_written(tmp_path, digits):
    from dssec_jax.cli import runner
    from dssec_jax.data import Dataset
    from dssec_jax.methods import Config

    x, y = digits
    ds, cfg = Dataset(x[:200], y[:200], "toy", None, 10), Config(method="kmeans", n_clusters=10)
    runner.run_config(ds, cfg, [0], tmp_path / "run", tmp_path / "cache")
    with pytest.warns(UserWarning, match="finished before --save_model was given"):
        runner.run_config(ds, cfg, [0], tmp_path / "run", tmp_path / "cache", save_model=True)


def test_a_plan_goes_on_past_a_point_whose_every_seed_diverged(tmp_path, monkeypatch):
    """run_plan logs, exports and tabulates a point that diverged on every seed (records
    without labels) and runs the plan's other points."""
    from dssec_jax import pipeline
    from dssec_jax.cli import campaign
    from dssec_jax.validation import NonFiniteLossError

    real = pipeline.fit

    def fit(x, cfg, seed, *a, **kw):
        if cfg.method == "dec":
            raise NonFiniteLossError("non-finite loss or weights (nan) in clustering")
        return real(x, cfg, seed, *a, **kw)

    monkeypatch.setattr(pipeline, "fit", fit)
    plan = campaign.PLANS["smoke"]
    points = campaign.plan_points(plan, None, ["kmeans", "dec"], 2, None)
    res, lines = tmp_path / "res", []
    ran = campaign.run_plan(plan, points, res, tmp_path / "w", tmp_path / "c", log=lines.append)
    assert ran == 4
    dec = json.loads((res / "digits_dec" / "results.json").read_text())
    assert [r["stop_reason"] for r in dec["per_seed"]] == ["nonfinite"] * 2
    assert dec["summary"]["stopped_nonfinite"] == 2 and "acc" not in dec["summary"]
    table = (res / "results.md").read_text()
    assert "non-finite (left out of the means) 2" in table and "| kmeans |" in table
    assert any("digits_dec/seed_1: ACC nan, 0 iterations (nonfinite)" in ln for ln in lines)


def test_write_tables_writes_the_table_against_a_base_and_its_readme_block(tmp_path):
    import dataclasses

    from dssec_jax.cli.campaign import PLANS, write_tables
    from dssec_jax.cli.runner import summarize
    from dssec_jax.methods import Config

    config = dataclasses.asdict(Config(method="dssec", n_clusters=2))
    for plan, accs in (("old", [0.5, 0.6]), ("new", [0.7, 0.9])):
        per_seed = [{"seed": s, "acc": a, "nmi": a, "ari": a} for s, a in enumerate(accs)]
        out = tmp_path / plan / "d_dssec"
        out.mkdir(parents=True)
        res = {"dataset": "d", "method": "dssec", "config": config, "per_seed": per_seed}
        (out / "results.json").write_text(json.dumps({**res, "summary": summarize(per_seed)}))
    readme = tmp_path / "R.md"
    name = "new against old"  # the folders as the document's block names them
    readme.write_text(f"<!-- begin {name} -->\n<!-- end {name} -->\n")
    written = write_tables(tmp_path / "new", readme, against=str(tmp_path / "old"))
    assert tmp_path / "new" / "against_old.md" in written
    table = (tmp_path / "new" / "against_old.md").read_text()
    assert "| DSSEC | 0.550 | **0.800** | +0.250 |" in table
    assert table in readme.read_text()
    assert PLANS["strong"].against == "results/paper"


def test_the_strong_plan_outside_this_repository_keeps_its_tables_in_results(tmp_path):
    """Run where README.md is another project's (no block of ours) and results/paper is
    absent: the plan's own document and comparison are skipped with a line each, not an
    error; a document asked for with --update_readme still must hold the block."""
    import os
    import sys

    (tmp_path / "README.md").write_text("# someone else's project\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def campaign(*args):
        return subprocess.run(
            [sys.executable, "-m", "dssec_jax.cli.campaign", "--plan=strong", "--dry_run", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    r = campaign("--datasets=coil20")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no folder results/paper here" in r.stderr + r.stdout
    assert "so the tables go to results/strong only" in r.stderr + r.stdout
    assert "todo: coil20 dssec seed 4" in r.stdout
    r = campaign("--datasets=coil20", "--update_readme=README.md")
    assert r.returncode == 2 and "needs an existing file with a block" in r.stderr


def _kmeans_plan(*specs):
    """The smoke plan's K-means on digits (a second a point), under ``specs``."""
    import dataclasses

    from dssec_jax.cli import campaign

    plan = dataclasses.replace(campaign.PLANS["smoke"], corruptions={"digits": specs})
    return plan, campaign.plan_points(plan, None, ["kmeans"], 1, None)


def _set_n_init(point, n_init):
    """Rewrite an exported point's settings as if it had run with another n_init."""
    for name in ("config.json", "results.json"):
        doc = json.loads((point / name).read_text())
        doc["config"]["n_init"] = n_init
        (point / name).write_text(json.dumps(doc))


def test_a_corrupted_point_is_checked_against_its_clean_result_in_the_plans_own_folder(tmp_path):
    from dssec_jax.cli import campaign

    plan, points = _kmeans_plan(campaign.CLEAN, "gaussian:0.1")
    res, log = tmp_path / "res", [].append
    assert campaign.run_plan(plan, points[:1], res, tmp_path / "w", tmp_path / "c", log=log) == 1
    _set_n_init(res / "digits_kmeans", 7)  # the clean result, at other settings
    with pytest.raises(ValueError, match="other settings than its clean result"):
        campaign.run_plan(plan, points[1:], res, tmp_path / "w", tmp_path / "c", log=log)
    assert not (res / "digits_gaussian0.1_kmeans").exists()  # refused before training


def test_a_finished_point_at_other_settings_is_refused_and_the_tables_are_written_again(
    tmp_path, monkeypatch
):
    from dssec_jax.cli import campaign

    plan, points = _kmeans_plan(campaign.CLEAN)
    res, log = tmp_path / "res", [].append
    campaign.run_plan(plan, points, res, tmp_path / "w", tmp_path / "c", log=log)
    (res / "results.md").unlink()  # as if a run ended between its export and its tables
    assert campaign.run_plan(plan, points, res, tmp_path / "w", tmp_path / "c", log=log) == 0
    assert "| kmeans |" in (res / "results.md").read_text()
    _set_n_init(res / "digits_kmeans", 7)  # the plan's settings changed since it ran
    with monkeypatch.context() as m:  # a finished point's data is not loaded to check it
        m.setattr(campaign, "load_data", lambda *a, **k: pytest.fail("data loaded"))
        with pytest.raises(ValueError, match=r"other settings or data \(settings n_init\)"):
            campaign.run_plan(plan, points, res, tmp_path / "w", tmp_path / "c", log=log)


def test_a_folder_of_a_run_on_other_data_names_both_copies():
    from dssec_jax.cli.runner import check_same_run, id_samples
    from dssec_jax.methods import Config

    old = {"dataset": "mnist", "dataset_id": "mnist-70000x784-aaaa", "config": Config().to_dict()}
    with pytest.raises(ValueError, match=r"\(data mnist-70000x784-aaaa \(this run's: mnist-7"):
        check_same_run(old, {**old, "dataset_id": "mnist-70000x784-bbbb"}, ROOT)
    check_same_run(old, dict(old), ROOT)  # the same run passes
    assert id_samples("mnist_gaussian0.2-70000x784-aaaa") == 70000


def test_commit_outside_a_git_repository_is_refused_before_training(tmp_path):
    from dssec_jax.cli import campaign

    plan, points = _kmeans_plan(campaign.CLEAN)
    res, work = tmp_path / "res", tmp_path / "w"
    with pytest.raises(ValueError, match="not inside a git repository"):
        campaign.run_plan(plan, points, res, work, tmp_path / "c", commit=True, log=[].append)
    assert not work.exists()


def test_commit_to_a_folder_git_ignores_is_refused_before_training(tmp_path):
    from dssec_jax.cli import campaign

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("scratch/\n")
    plan, points = _kmeans_plan(campaign.CLEAN)
    res, work = tmp_path / "scratch" / "res", tmp_path / "w"
    with pytest.raises(ValueError, match="git ignores"):
        campaign.run_plan(plan, points, res, work, tmp_path / "c", commit=True, log=[].append)
    assert not work.exists()


def test_the_temporary_files_of_atomic_writes_are_never_committed():
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", "results/harsh/.results.json.x1y2.tmp"]
    )
    assert ignored.returncode == 0

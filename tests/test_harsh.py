"""Harsh conditions in the campaign and the report: the harsh plan's points, a plan run
under one corruption against itself clean, and the paired losses of the report."""

import json

import pytest
from test_experiments import run

from dssec_jax.cli.campaign import HARSH_CONDITIONS, PLANS, data_name, plan_points
from dssec_jax.cli.harsh_report import harsh_markdown
from dssec_jax.cli.report import write_report
from dssec_jax.cli.runner import summarize
from dssec_jax.data.corrupt import corrupted_name, split_name
from dssec_jax.methods import Config


def test_corrupted_names_split_back():
    for spec in HARSH_CONDITIONS:
        kind, level = spec.split(":")
        assert split_name(corrupted_name("fashion_mnist", spec)) == (
            "fashion_mnist",
            kind,
            float(level),
        )
    assert split_name("usps_c10") == ("usps_c10", None, 0.0)
    for own in ("blobs_gaussian2", "scans_occlusion1", "x_salt_pepper0"):  # no such level
        assert split_name(own) == (own, None, 0.0)
    # two levels apart in the seventh digit: two names, each reading back its own level
    a, b = (corrupted_name("d", f"gaussian:{v}") for v in (0.1234561, 0.1234564))
    assert a != b and split_name(a)[2] == 0.1234561 and split_name(b)[2] == 0.1234564
    assert corrupted_name("d", "noise_features:1.0") == "d_noise_features1"
    # the same rule in a harsh table's column titles and a sweep's run folders
    from dssec_jax.cli.harsh_report import _name
    from dssec_jax.cli.runner import run_name

    assert _name("gaussian", 0.1234561) != _name("gaussian", 0.1234564)
    assert (
        _name("gaussian", 0.1) == "gaussian 0.1"
        and run_name("d", "m", 0.1, 10) == "d__m__g0.1__e10"
    )
    assert run_name("d", "m", 0.1234561, 10) != run_name("d", "m", 0.1234564, 10)
    assert (
        data_name("usps@salt_pepper:0.3") == "usps_salt_pepper0.3" and data_name("usps") == "usps"
    )


def test_the_harsh_plan_runs_every_condition_and_three_mnist_seeds():
    points = plan_points(PLANS["harsh"])
    per = {}
    for seed, key, run_name, *_ in points:
        per.setdefault(key.partition("@")[0], set()).add((seed, key, run_name))
    assert len(per["usps"]) == len(per["coil20"]) == 10 * 6 * 5  # the clean data too
    assert len(per["mnist"]) == 3 * 6 * 3
    assert {s for s, *_ in per["mnist"]} == {0, 1, 2}
    conditions = {k for _, k, _ in per["coil20"]}
    assert conditions == {"coil20", *(f"coil20@{c}" for c in HARSH_CONDITIONS)}
    assert "kmeans" in {r for *_, r in per["usps"]} and len(points) == 654
    # the figures are drawn after the last point of each seed and dataset only
    from dssec_jax.cli.campaign import ends_group

    ends = [i for i in range(len(points)) if ends_group(points, i)]
    assert len(ends) == 5 + 5 + 3 and ends[-1] == len(points) - 1
    assert all(points[i][:2] != points[i + 1][:2] for i in ends[:-1])
    # against its own clean runs, at the strong recipe
    assert PLANS["harsh"].recipe == "strong" and PLANS["harsh"].clean is None


def _run(dataset, method, accs, seeds=None, **config):
    seeds = range(len(accs)) if seeds is None else seeds
    per_seed = [{"seed": s, "acc": a, "nmi": a, "ari": a, "n_iter": 1} for s, a in zip(seeds, accs)]
    return {
        "dataset": dataset,
        "method": method,
        "per_seed": per_seed,
        "summary": summarize(per_seed),
        "config": {"gamma": 0.1, "embed_dim": 10, **config},
        "dir": dataset,
    }


def test_the_report_pairs_losses_by_seed():
    # clean on seeds 0-4; the corrupted runs finished seeds 2 and 0, in that order
    clean = [
        _run("d", "dssec", [0.8, 0.5, 0.7, 0.5, 0.5]),
        _run("d", "idec", [0.75, 0.5, 0.72, 0.5, 0.5]),
        _run("d", "pca_kmeans", [0.4] * 5),  # not in the harsh runs: no row
    ]
    harsh = [
        _run("d_gaussian0.2", "dssec", [0.65, 0.7], seeds=[2, 0]),
        _run("d_gaussian0.2", "idec", [0.6, 0.6], seeds=[2, 0]),
    ]
    md = harsh_markdown(harsh, clean)
    # losses: dssec 0.10 (seed 0), 0.05 (seed 2); idec 0.15, 0.12; idec's less dssec's: 0.05, 0.07
    assert "| | clean | gaussian 0.2 |" in md and "pca_kmeans" not in md
    assert "| dssec | 0.750 ± 0.071 (2) | 0.675 ± 0.035 (2) |" in md  # clean on seeds 0, 2 only
    assert "| dssec | - | +0.075 ± 0.035 (2, ahead on 2) |" in md
    assert "| idec's loss − dssec's loss | - | +0.060 ± 0.014 (2, ahead on 2) |" in md
    assert (
        "| dssec − idec | +0.015 ± 0.049 (2, ahead on 1) | +0.075 ± 0.035 (2, ahead on 2) |" in md
    )
    without_clean = harsh_markdown(harsh, [])
    assert "lost against the clean" not in without_clean and "| | gaussian 0.2 |" in without_clean
    other = [_run("d", "dssec", [0.8, 0.5, 0.7], learning_rate=1.0)]
    with pytest.raises(ValueError, match="other settings than its clean result"):
        harsh_markdown(harsh, other)


def test_max_seeds_gives_way_to_an_explicit_count_and_corrupt_needs_a_clean_plan():
    assert {p[0] for p in plan_points(PLANS["harsh"], ["mnist"], None, 5)} == set(range(5))
    r = run("dssec_jax.cli.campaign", "--plan=harsh", "--corrupt=gaussian:0.1", "--dry_run")
    assert r.returncode == 2 and "already runs its own harsh conditions" in r.stderr
    r = run("dssec_jax.cli.campaign", "--plan=harsh", "--clean=no/such/folder", "--dry_run")
    assert r.returncode == 2 and "clean results in no/such/folder" in r.stderr  # --clean wins


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
    assert (out / "harsh_digits.png").is_file()  # the campaign draws the figure itself
    (out / "harsh_digits.png").unlink()
    written = write_report(out, tsne=False, clean=str(res))
    assert (out / "harsh_digits.png") in written and (out / "results.md").read_text() == md
    readme = tmp_path / "R.md"
    readme.write_text(f"x\n<!-- begin {out} summary -->\nold\n<!-- end {out} summary -->\ny\n")
    r = run("experiments.report", str(out), f"--readme={readme}", f"--clean={res}")
    assert r.returncode == 0, r.stderr[-2000:]
    text = readme.read_text()
    assert "old" not in text and " | noise_features 0.5 |\n" in text and text.endswith("-->\ny\n")
    assert "| digits: DSSEC vs IDEC | -; - |" in text  # no DSSEC or IDEC run
    assert "| digits: SAE + K-means vs AE + K-means | " in text
    assert "![digits](results_noise_features0.5/harsh_digits.png)" in text  # from R.md
    bad = run("experiments.campaign", *args, f"--results={res}", "--corrupt=occlusion:2")
    assert bad.returncode == 2 and "must be a number in (0, 1)" in bad.stderr


def test_a_folder_of_clean_and_corrupted_runs_keeps_both_and_plots(tmp_path):
    """Clean runs beside corrupted ones (a reused sweep folder): the clean datasets keep
    their ordinary table, the corrupted ones get the harsh tables against the clean runs of
    the folder, and a dataset with no corrupted run gets no figure (it had one of no
    panels, which raised)."""
    from dssec_jax.cli.harsh_report import plot_harsh
    from dssec_jax.cli.report import collect, results_markdown

    runs = [
        _run("coil20", "dssec", [0.7, 0.72]),
        _run("usps", "dssec", [0.78, 0.77]),
        _run("usps_gaussian0.2", "dssec", [0.70, 0.69]),
    ]
    for r in runs:
        (tmp_path / r["dir"]).mkdir()
        r["config"] = {**Config(method=r["method"]).to_dict(), **r["config"]}
        (tmp_path / r["dir"] / "results.json").write_text(json.dumps({**r, "dir": None}))
    found = collect(tmp_path)
    md = results_markdown(found)
    with pytest.raises(TypeError, match="pass collect\\(folder\\)"):
        results_markdown(found, str(tmp_path))  # the clean runs, not their folder
    ordinary, harsh = md.split("Under harsh conditions:")
    assert "| method | usps | coil20 |" in ordinary and "gaussian" not in ordinary
    assert "| | clean | gaussian 0.2 |" in harsh and "coil20" not in harsh
    assert "| dssec | 0.775 ± 0.007 (2) | 0.695 ± 0.007 (2) |" in harsh
    assert [p.name for p in plot_harsh(found, [], tmp_path)] == ["harsh_usps.png"]
    # the folder's own clean runs come before those of another folder of clean results
    other = {**found[1], "per_seed": [{"seed": s, "acc": 0.5} for s in (0, 1)], "dir": "x"}
    other["summary"] = summarize(other["per_seed"])
    assert "| dssec | 0.775 ± 0.007 (2) | 0.695 ± 0.007 (2) |" in harsh_markdown(found, [other])
    assert "| dssec | 0.500 ± 0.000 (2) |" in harsh_markdown(found[2:], [other])


def test_a_seed_frozen_at_a_non_finite_value_is_not_paired():
    a = _run("d", "dssec", [0.8, 0.1, 0.7])
    a["per_seed"][1]["stop_reason"] = "nonfinite"
    b = _run("d", "idec", [0.7, 0.6, 0.6])
    from dssec_jax.cli.report import paired_acc, paired_seeds

    assert paired_seeds(a, b) == [0, 2]
    assert paired_acc(a, b) == pytest.approx([0.1, 0.1])


def test_a_harsh_point_unlike_its_clean_result_is_refused_before_training():
    import pathlib

    from conftest import ROOT

    from dssec_jax.cli.campaign import check_clean_settings
    from dssec_jax.presets import recipe_config

    strong = pathlib.Path(ROOT) / "results/strong"
    check_clean_settings(
        strong, "usps@gaussian:0.1", "dssec", recipe_config("strong", "dssec", n_clusters=10)
    )
    with pytest.raises(ValueError, match="other settings than its clean result"):
        check_clean_settings(
            strong, "usps@gaussian:0.1", "dssec", Config(method="dssec", n_clusters=10)
        )


def test_the_report_says_when_corrupted_runs_have_no_clean_runs_to_pair_with(tmp_path):
    def folder(name, runs):
        for r in runs:
            (tmp_path / name / f"{r['dataset']}_{r['method']}").mkdir(parents=True)
            r = {k: v for k, v in r.items() if k != "dir"}
            (tmp_path / name / f"{r['dataset']}_{r['method']}" / "results.json").write_text(
                json.dumps(r)
            )
        return tmp_path / name

    harsh = folder("harsh", [_run("d_gaussian0.2", m, [0.6, 0.7]) for m in ("idec", "dssec")])
    clean = folder("clean", [_run("d", m, [0.8, 0.8]) for m in ("idec", "dssec")])
    said: list[str] = []
    write_report(harsh, tsne=False, log=said.append)
    assert sum("no clean runs" in s for s in said) == 1
    said.clear()
    write_report(harsh, tsne=False, log=said.append, clean=str(clean))
    assert not any("no clean runs" in s for s in said) and said  # the list of written files
    assert "ACC lost against the clean result" in (harsh / "results.md").read_text()


def test_a_cell_names_the_seeds_it_leaves_out_or_that_collapsed():
    clean = [_run("d", "dssec", [0.8, 0.7, 0.7])]
    harsh = _run("d_gaussian0.2", "dssec", [0.6, 0.1, 0.5])
    harsh["per_seed"][1]["stop_reason"] = "nonfinite"
    harsh["per_seed"][2]["cluster_sizes"] = [100] + [0] * 9
    harsh["summary"] = summarize(harsh["per_seed"])
    md = harsh_markdown([harsh], clean)
    assert "| dssec | 0.733 ± 0.058 (3) | 0.550 ± 0.071 (2) [1 non-finite, 1 collapsed] |" in md
    assert "| dssec | - | +0.200 ± 0.000 (2, ahead on 2) |" in md  # seed 1 left out


def test_a_seed_run_on_two_processors_is_left_out_of_its_datasets_tables():
    clean = [_run("d", "dssec", [0.8, 0.7]), _run("d", "idec", [0.7, 0.6])]
    harsh = [_run("d_gaussian0.2", "dssec", [0.6, 0.1]), _run("d_gaussian0.2", "idec", [0.5, 0.2])]
    for r in [*clean, *harsh]:
        for rec in r["per_seed"]:
            rec["vector_flags"] = ["avx2", "fma"]
    harsh[1]["per_seed"][1]["vector_flags"] = ["avx2", "fma", "avx512f"]  # seed 1 elsewhere
    md = harsh_markdown(harsh, clean)
    assert "| dssec | 0.800 (1) | 0.600 (1) |" in md
    assert "| dssec | - | +0.200 (1, ahead on 1) |" in md
    assert "Left out of d's tables: seed(s) 1, whose runs were made on more than one" in md
    harsh[1]["per_seed"][1]["vector_flags"] = ["avx2", "fma"]
    assert "Left out" not in harsh_markdown(harsh, clean) and "name no" not in md
    del clean[0]["per_seed"][0]["vector_flags"]  # a record older than the field
    md = harsh_markdown(harsh, clean)
    assert "Left out" not in md and "1 record(s) name no processor" in md


def test_the_summary_gives_each_pairs_loss_difference_and_the_figures(tmp_path):
    from dssec_jax.cli.harsh_report import summary_markdown
    from dssec_jax.cli.report import SUMMARY, readme_blocks

    clean = [
        _run("d", "dssec", [0.8, 0.7]),
        _run("d", "idec", [0.75, 0.72]),
        _run("d", "sae_kmeans", [0.6, 0.6]),
    ]
    harsh = [
        _run("d_gaussian0.2", "dssec", [0.7, 0.65]),  # loses 0.10, 0.05
        _run("d_gaussian0.2", "idec", [0.6, 0.6]),  # loses 0.15, 0.12
        _run("d_occlusion0.4", "dssec", [0.5, 0.5]),
    ]
    undrawn = summary_markdown(harsh, clean, "results/harsh", tmp_path)
    assert "![" not in undrawn  # no link to a figure not drawn
    assert undrawn.endswith("|\n\n[Every table](results/harsh/results.md):\n")
    (tmp_path / "harsh_d.png").write_bytes(b"png")
    md = summary_markdown(harsh, clean, "results/harsh", tmp_path)
    assert md.startswith(undrawn.rstrip("\n"))
    head = (
        "| Paired by seed: ACC, sparse − plain; ACC lost against clean, plain's − sparse's "
        "(> 0: the sparse one is ahead, loses less; seeds > 0 of those paired) | gaussian 0.2 "
        "| occlusion 0.4 |"
    )
    assert head in md and "clean |" not in md
    # DSSEC ahead by 0.10 and 0.05; IDEC lost 0.05 and 0.07 more
    assert "| d: DSSEC vs IDEC | +0.075 (2 of 2); +0.060 (2 of 2) | -; - |" in md
    assert "| d: SAE + K-means vs AE + K-means | -; - | -; - |" in md
    assert md.rstrip().endswith(": ![d](results/harsh/harsh_d.png)")
    assert readme_blocks(clean, "table", [], tmp_path)[SUMMARY] == "No run on corrupted data yet.\n"
    drawn = tmp_path / "results" / "harsh"
    for doc, link in (("README.md", "results/harsh"), ("docs/results.md", "../results/harsh")):
        blocks = readme_blocks([*harsh, *clean], "t", [], drawn, tmp_path / doc)
        assert blocks[SUMMARY] == summary_markdown([*harsh, *clean], [], link, drawn)
        assert f"[Every table]({link}/results.md)" in blocks[SUMMARY]  # from the document


def test_the_harsh_plan_writes_its_summary_into_the_readme_block():
    import pathlib

    from dssec_jax.cli.report import SUMMARY, readme_block

    assert PLANS["harsh"].readme == "README.md"
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert readme_block("results/harsh", SUMMARY).search(readme)


def test_the_harsh_plans_first_clean_point_updates_a_readme_with_only_the_summary(tmp_path):
    """The harsh plan runs the clean data first: its tables then hold no corrupted run, and
    the README (which has only the summary block) gets the line saying so, not an error."""
    from dssec_jax.cli.campaign import write_tables

    results = tmp_path / "results" / "harsh"
    run_ = _run("usps", "dssec", [0.78])
    run_["config"] = {**Config(method="dssec").to_dict(), **run_["config"]}
    (results / "usps_dssec").mkdir(parents=True)
    (results / "usps_dssec" / "results.json").write_text(json.dumps({**run_, "dir": None}))
    readme = tmp_path / "README.md"
    readme.write_text(
        "a\n<!-- begin results/harsh summary -->\n<!-- end results/harsh summary -->\n"
    )
    write_tables(results, readme)
    assert "summary -->\nNo run on corrupted data yet.\n<!-- end" in readme.read_text()


def test_the_campaigns_readme_links_a_figure_once_it_is_drawn(tmp_path):
    """Between the figures' drawings the README's summary has the table without a link to
    a figure not yet on disk; after a drawing, with it."""
    from dssec_jax.cli.campaign import write_tables

    results = tmp_path / "results" / "harsh"
    for name, acc in (("usps", 0.78), ("usps_gaussian0.2", 0.7)):
        run_ = _run(name, "dssec", [acc])
        run_["config"] = {**Config(method="dssec").to_dict(), **run_["config"]}
        (results / f"{name}_dssec").mkdir(parents=True)
        (results / f"{name}_dssec" / "results.json").write_text(json.dumps({**run_, "dir": None}))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- begin results/harsh summary -->\n<!-- end results/harsh summary -->\n")
    write_tables(results, readme, figures=False)
    assert "| USPS: DSSEC vs IDEC |" in readme.read_text() and "![" not in readme.read_text()
    write_tables(results, readme, figures=True)
    assert (results / "harsh_usps.png").exists()
    assert "![USPS](results/harsh/harsh_usps.png)" in readme.read_text()


def test_a_figure_line_is_drawn_on_the_seeds_all_its_points_have():
    """Mid-campaign the clean data has seeds a level has not yet: the clean point of the
    line is then the mean over the seeds the level has, not over all."""
    from dssec_jax.cli.harsh_report import _curve

    points = {
        (None, 0.0): {"dssec": _run("d", "dssec", [0.8, 0.7, 0.1])},
        ("gaussian", 0.2): {"dssec": _run("d_gaussian0.2", "dssec", [0.6, 0.5])},
    }
    (lv0, clean), (lv1, noisy) = _curve(points, "dssec")
    assert (lv0, lv1) == (0.0, 0.2)
    assert clean["mean"] == pytest.approx(0.75) and clean["n"] == 2
    assert noisy["mean"] == pytest.approx(0.55)
    assert _curve(points, "idec") == []
    noisy_run = points[("gaussian", 0.2)]["dssec"]
    noisy_run["per_seed"][0]["cluster_sizes"] = [100] + [0] * 9  # seed 0 collapsed there
    noisy_run["summary"] = summarize(noisy_run["per_seed"])
    (_, clean), (_, noisy) = _curve(points, "dssec")  # the figure marks that point
    assert (clean["collapsed"], noisy["collapsed"]) == (0, 1)


def test_a_method_whose_seeds_each_diverged_somewhere_is_named_in_its_panel(tmp_path, monkeypatch):
    """No seed of IDEC finished every level of the panel: no line, and the panel says so."""
    from dssec_jax.cli import harsh_report

    def diverged(run, seed):
        run["per_seed"][seed]["stop_reason"] = "nonfinite"
        return {**run, "summary": summarize(run["per_seed"])}

    runs = [
        _run("d_gaussian0.1", "dssec", [0.6, 0.5]),
        _run("d_gaussian0.3", "dssec", [0.5, 0.4]),
        diverged(_run("d_gaussian0.1", "idec", [0.6, 0.5]), 0),
        diverged(_run("d_gaussian0.3", "idec", [0.5, 0.4]), 1),
    ]
    clean = [_run("d", "dssec", [0.8, 0.7]), _run("d", "idec", [0.8, 0.7])]
    seen = []
    monkeypatch.setattr(harsh_report, "_save_fig", lambda fig, path: seen.append(fig))
    harsh_report.plot_harsh(runs, clean, tmp_path)
    (ax,) = seen[0].axes
    assert [t.get_text() for t in ax.texts] == ["no seed finished every level: idec"]
    assert [c.get_label() for c in ax.containers] == ["dssec"]


def test_a_figure_line_leaves_a_seed_that_diverged_at_one_level_out_of_every_point():
    """A seed that went non-finite at one level is out of that level's mean, so it is out
    of the clean point's too; a level where every seed diverged has no point and takes no
    seed from the others."""
    from dssec_jax.cli.harsh_report import _curve

    def diverged(run, seeds):
        for rec in run["per_seed"]:
            if rec["seed"] in seeds:
                rec["stop_reason"] = "nonfinite"
        return {**run, "summary": summarize(run["per_seed"])}

    points = {
        (None, 0.0): {"dssec": _run("d", "dssec", [0.8, 0.7, 0.1])},
        ("gaussian", 0.2): {
            "dssec": diverged(_run("d_gaussian0.2", "dssec", [0.6, 0.5, 0.2]), {2})
        },
        ("gaussian", 0.3): {
            "dssec": diverged(_run("d_gaussian0.3", "dssec", [0.3, 0.3, 0.3]), {0, 1, 2})
        },
    }
    (lv0, clean), (lv1, noisy) = _curve(points, "dssec")
    assert (lv0, lv1) == (0.0, 0.2)
    assert clean["mean"] == pytest.approx(0.75) and clean["n"] == 2
    assert noisy["mean"] == pytest.approx(0.55) and noisy["n"] == 2


def test_a_harsh_plan_runs_its_clean_and_corrupted_data_and_pairs_them(tmp_path):
    """End to end on digits (K-means, 2 seeds): the plan's clean runs sit beside the
    corrupted ones in one folder, the report pairs them, and the figure is drawn at the end
    of each seed's data only."""
    import dataclasses

    from dssec_jax.cli import campaign, report

    plan = dataclasses.replace(
        PLANS["smoke"], corruptions={"digits": ("clean", "gaussian:0.3")}, methods=("kmeans",)
    )
    points = plan_points(plan, n_seeds=2)
    assert [(s, k) for s, k, *_ in points] == [
        (0, "digits"),
        (0, "digits@gaussian:0.3"),
        (1, "digits"),
        (1, "digits@gaussian:0.3"),
    ]
    drawn = []
    real = report.write_table_files

    def spy(folder, runs, clean_runs, figures=True):
        drawn.append(figures)
        return real(folder, runs, clean_runs, figures)

    res = tmp_path / "res"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(campaign, "write_table_files", spy)
        assert campaign.run_plan(plan, points, res, tmp_path / "w", tmp_path / "c", log=print) == 4
    assert drawn == [False, True, False, True]
    md = (res / "results.md").read_text()
    assert "| | clean | gaussian 0.3 |" in md and "ACC lost against the clean result" in md
    clean = json.loads((res / "digits_kmeans" / "results.json").read_text())
    noisy = json.loads((res / "digits_gaussian0.3_kmeans" / "results.json").read_text())
    lost = [c["acc"] - n["acc"] for c, n in zip(clean["per_seed"], noisy["per_seed"])]
    assert f"{sum(lost) / 2:+.3f}" in md.split("ACC lost against the clean result")[1]
    assert (res / "harsh_digits.png").exists()


def test_the_readmes_harsh_summary_and_tables_regenerate_from_the_committed_results():
    """The README's block and results/harsh/results.md are what the report makes of the
    committed runs (the campaign rewrites both at each point; a hand edit or a stale
    format fails here)."""
    import pathlib

    from dssec_jax.cli.harsh_report import summary_markdown
    from dssec_jax.cli.report import SUMMARY, collect, readme_block, results_markdown

    root = pathlib.Path(__file__).resolve().parents[1]
    runs = collect(root / "results/harsh")
    assert runs, "results/harsh holds no run"
    readme = (root / "README.md").read_text()
    shown = readme_block("results/harsh", SUMMARY).search(readme).group(2)
    fix = "python -m experiments.report results/harsh --readme=README.md"
    assert shown == summary_markdown(runs, [], "results/harsh", root / "results/harsh"), fix
    assert (root / "results/harsh/results.md").read_text() == results_markdown(runs, []), fix

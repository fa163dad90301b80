"""The lab's tools (``studies/``) on digits: the screen, the paired comparison of screen logs
and the per-layer activation statistics."""

import json

import numpy as np
import pytest
from conftest import run_module as run


def test_screen_prints_one_line_per_run_and_a_summary(tmp_path):
    r = run(
        "studies.screen",
        "--seed_list=0,1",
        f"--cache_dir={tmp_path}",
        '--grid=[{"method": "dec"}, {"method": "idec"}]',
        '--base={"pretrain_epochs": 2, "max_iter": 20, "n_init": 2, "hidden_dims": [64, 64, 128]}',
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert [ln["seed"] for ln in lines] == [0, 1, 0, 1]
    assert all(ln["acc"] > 0.3 and ln["km"] > 0.3 for ln in lines)  # well above chance (0.1)
    # DEC and IDEC share the pretrained autoencoder of each seed (and the K-means start)
    assert len(list(tmp_path.glob("ae_*.ckpt"))) == 2
    assert [ln["km"] for ln in lines[:2]] == [ln["km"] for ln in lines[2:]]
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("SUMMARY")]
    assert len(summary) == 2 and '"acc"' in summary[0]


def test_compare_pairs_settings_with_the_baseline_seed_by_seed(tmp_path):
    from studies.compare import paired, read_screen_logs

    def line(kw, seed, acc):
        return json.dumps({"kw": kw, "seed": seed, "acc": acc}) + "\n"

    base, other = {"method": "dssec"}, {"beta": 0.1, "method": "dssec"}
    a = tmp_path / "a.log"
    a.write_text(
        "noise\n"
        + line(base, 0, 0.70)
        + line(base, 1, 0.80)
        + line(other, 0, 0.75)
        + line(other, 1, 0.70)
        + line(other, 2, 0.99)
        + "SUMMARY {}\n"
    )
    b = tmp_path / "b.log"  # the setting's key order does not matter
    b.write_text(line(base, 0, 0.60) + line({"method": "dssec", "beta": 0.1}, 0, 0.66))
    assert read_screen_logs([a, b])['{"method": "dssec"}'][0]["acc"] == 0.60  # later lines win
    rows = paired({"a": read_screen_logs([a]), "b": read_screen_logs([b])}, base)
    (r,) = rows
    # a: +0.05, -0.10 (seed 2 has no baseline); b: +0.06
    assert r["per_dataset"]["a"] == (pytest.approx(-0.025), 2)
    assert r["per_dataset"]["b"] == (pytest.approx(0.06), 1)
    assert r["n"] == 3 and (r["better"], r["worse"]) == (2, 1)
    assert r["mean"] == pytest.approx(0.01 / 3)
    assert r["se"] == pytest.approx(np.std([0.05, -0.10, 0.06], ddof=1) / np.sqrt(3))
    out = run("studies.compare", f"a={a}", f"b={b}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert '| {"beta": 0.1, "method": "dssec"} | -0.025 (2) | +0.060 (1) | +0.003 ± ' in out.stdout
    bad = run("studies.compare", f"a={tmp_path / 'missing.log'}")
    assert bad.returncode == 2 and "cannot read screen log" in bad.stderr
    b.write_text('{"kw": {"method": "dssec"}, "seed"\n')  # a line cut off by a killed run
    with pytest.raises(ValueError, match="b.log, line 1 is not a screen result"):
        read_screen_logs([b])


def test_activation_stats_reports_each_layer(tmp_path):
    r = run(
        "studies.penalty_effect_on_units.activation_stats",
        "--dataset=digits",
        "--seed_list=0",
        "--pretrain_epochs=2",
        '--grid=[{"method": "idec"}, {"method": "dssec"}]',
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert len(rows) == 6 and [x["penalised"] for x in rows] == [False] * 3 + [True, True, False]
    for x in rows:
        assert 0 <= x["dead_units"] <= x["zero"] <= 1 and 0 <= x["above_1"] <= 1
    assert '| {"method": "dssec"} | 0 (penalised) |' in r.stdout


def test_the_strong_recipe_default_decision_regenerates(capsys):
    """studies/strong_recipe/against_paper.md is what its script prints from results/ and
    the outside-check logs, and BUILD_NOTES' pooled table ("Which recipe is the library
    default") quotes its pooled rows."""
    import pathlib
    import re

    from studies.strong_recipe import against_paper

    root = pathlib.Path(__file__).resolve().parents[1]
    against_paper.main()
    out = capsys.readouterr().out
    assert out == (root / "studies/strong_recipe/against_paper.md").read_text()
    notes = (root / "BUILD_NOTES.md").read_text()
    names = {
        "ae_kmeans": "AE+K-means",
        "sae_kmeans": "SAE+K-means",
        "dec": "DEC",
        "idec": "IDEC",
        "dssec": "DSSEC",
    }
    pooled = re.findall(
        r"^\| (\w+) \| ([+-][\d.]+) \(ahead on (\d+ of \d+)\) \| \d \| ([+-][\d.]+) \(ahead on (\d+ of \d+)\)",
        out,
        re.M,
    )
    assert {m for m, *_ in pooled} == set(names)
    for m, table, t_ahead, outside, o_ahead in pooled:
        assert f"| {names[m]} | {table} ({t_ahead}) | {outside} ({o_ahead}) |" in notes, m

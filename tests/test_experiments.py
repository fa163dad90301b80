"""The experiment drivers end to end, in subprocesses, on digits with a tiny budget."""

import json
import re

import numpy as np
import pytest
from conftest import ROOT
from conftest import run_module as run

from dssec_jax.metrics import evaluate

# a budget and a network of seconds (digits' own network, 64-500-500-2000-10, costs about 6 s of
# arithmetic per run here; this one a fraction of a second)
TINY = ["--pretrain_epochs=3", "--max_iter=60", "--update_interval=20", "--n_init=3", "--tol=0"]
TINY += [f"--config={ROOT / 'tests/fixtures/tiny_net.json'}"]


def test_run_writes_results_and_skips_finished_seeds(tmp_path):
    wd, tb = tmp_path / "run", tmp_path / "tb"
    metrics = [f"--metrics_csv={tmp_path / 'm.csv'}", f"--metrics_tensorboard={tb}"]
    r = run("experiments.run", "--method=dssec", "--seeds=2", f"--workdir={wd}", *TINY, *metrics)
    assert r.returncode == 0, r.stderr
    # the metric logs: one CSV row per epoch and refresh (2 seeds x (3 + 4)), and a
    # TensorBoard run per seed
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert sum(",pretrain_epoch," in x for x in rows) == 6
    assert sum(",cluster_refresh," in x for x in rows) == 8
    assert sorted(p.name for p in (tb / "run").iterdir()) == ["seed_0", "seed_1"]
    res = json.loads((wd / "results.json").read_text())
    assert len(res["per_seed"]) == 2 and res["versions"]["jax"]
    for s in res["per_seed"]:
        with np.load(wd / f"seed_{s['seed']}" / "outputs.npz") as f:  # the recorded metrics
            assert s == {**s, **evaluate(f["y"], f["labels"])}  # are those of the labels
        assert s["acc"] > 0.3  # well above chance (0.1) on digits even at this budget
        assert s["processor"] and isinstance(s["vector_flags"], list)  # where it was made
        assert s["stop_reason"] == "max_iter" and set(s["seconds"]) == {
            "pretrain",
            "kmeans",
            "cluster",
        }
    accs = [s["acc"] for s in res["per_seed"]]
    assert res["summary"]["acc"]["mean"] == pytest.approx(np.mean(accs))
    out = np.load(wd / "seed_0" / "outputs.npz")
    assert out["embedding"].shape == (1797, 10) and out["labels"].shape == (1797,)
    hist = json.loads((wd / "seed_0" / "history.json").read_text())
    assert len(hist["pretrain"]) == 3 and hist["cluster"][-1]["iteration"] == 60
    assert "pretrain finetune epoch 1/3" in r.stdout and re.search(r" eta \d+s", r.stdout)
    acc = res["summary"]["acc"]
    assert (
        f"result (mean, sample std over 2 seeds): ACC {acc['mean']:.4f} ± {acc['std']:.4f}"
        in r.stdout
    )
    again = run("experiments.run", "--method=dssec", "--seeds=2", f"--workdir={wd}", *TINY)
    assert again.returncode == 0 and again.stdout.count("already finished") == 2


@pytest.mark.parametrize(
    "stop_after, marker",
    [("pretrained", "reusing cached autoencoder"), ("cluster", "resuming at iteration 20")],
)
def test_interrupted_run_resumes_to_same_labels(tmp_path, stop_after, marker):
    args = ["--method=dssec", *TINY, "--checkpoint_interval=0"]  # a checkpoint at every refresh
    ref = run("experiments.run", *args, f"--workdir={tmp_path / 'ref' / 'r'}")
    assert ref.returncode == 0, ref.stderr
    wd = tmp_path / "int" / "r"
    first = run("experiments.run", *args, f"--workdir={wd}", env={"DSSEC_STOP_AFTER": stop_after})
    assert first.returncode == 17 and not (wd / "results.json").exists()
    second = run("experiments.run", *args, f"--workdir={wd}")
    assert second.returncode == 0, second.stderr
    assert marker in second.stdout and "pretrain finetune epoch" not in second.stdout
    a = np.load(tmp_path / "ref" / "r" / "seed_0" / "outputs.npz")["labels"]
    b = np.load(wd / "seed_0" / "outputs.npz")["labels"]
    np.testing.assert_array_equal(a, b)


def test_sweep_and_report(tmp_path):
    wd = tmp_path / "sweep"
    r = run(
        "experiments.sweep",
        "--methods=kmeans,pca_kmeans,ae_kmeans,sae_kmeans,dec,idec,dssec",
        "--gammas=0.1,0.5",
        "--embed_dims=5,10",
        f"--workdir={wd}",
        "--seeds=1",
        *TINY,
        "--batch_size=256",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    md = (wd / "results.md").read_text()
    for m in ("kmeans", "pca_kmeans", "ae_kmeans", "sae_kmeans", "dec", "idec", "dssec"):
        assert f"| {m} |" in md
    assert "| method | digits |" in md
    rows = (wd / "results.csv").read_text().strip().splitlines()
    # kmeans once, pca/ae/sae/dec per embed_dim (2 each), idec/dssec per gamma and embed_dim (4 each)
    assert len(rows) == 1 + 1 + 4 * 2 + 2 * 4
    for png in ("gamma.png", "embed_dim.png", "tsne_digits.png"):
        assert (wd / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (wd / "results.md").unlink()
    readme = tmp_path / "R.md"
    blocks = "".join(
        f"<!-- begin {wd}{p} -->\nold\n<!-- end {wd}{p} -->\n" for p in ("", " sweeps")
    )
    readme.write_text(blocks)
    rep = run("experiments.report", str(wd), f"--readme={readme}")
    assert rep.returncode == 0, rep.stderr
    assert (wd / "results.md").read_text() == md
    # the README gets the table just written and the tables against gamma and embed_dim
    text = readme.read_text()
    assert f"<!-- begin {wd} -->\n{md}<!-- end {wd} -->" in text
    assert "old" not in text and " against gamma" in text.split(f"{wd} sweeps")[1]


def test_a_tsne_figure_of_the_same_unchanged_embedding_is_kept(tmp_path):
    import os

    from dssec_jax.cli.report import plot_tsne

    rng = np.random.default_rng(0)
    run_, png = {}, tmp_path / "tsne_toy.png"
    for name in ("a", "b"):
        npz = tmp_path / name / "seed_0" / "outputs.npz"
        npz.parent.mkdir(parents=True)
        labels = rng.integers(0, 3, 60)
        np.savez(npz, embedding=rng.normal(size=(60, 2)), labels=labels, y=labels)
        os.utime(npz, (1e9, 1e9))
        run_[name] = {"dir": tmp_path / name, "method": "dssec", "dataset": "toy"}
    assert plot_tsne(run_["a"], png) and png.read_bytes()[:4] == b"\x89PNG"
    os.utime(png, (5, 5))  # a mark: a figure drawn again gets a new time

    def kept():
        return png.stat().st_mtime == 5

    assert plot_tsne(run_["a"], png) and kept()  # the same file, unchanged
    assert plot_tsne(run_["b"], png) and not kept()  # another run's embedding, as old
    os.utime(png, (5, 5))
    os.utime(tmp_path / "b/seed_0/outputs.npz", (1e9 + 1, 1e9 + 1))  # written again
    assert plot_tsne(run_["b"], png) and not kept()


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--dataset=cifar"], "unknown dataset 'cifar'"),
        (["--method=kmeanz"], "unknown method 'kmeanz'"),
        (["--gamma=-1"], "gamma must be a finite number >= 0"),
        (["--embed_dim=0"], "embed_dim must be >= 1"),
        (["--subset=5000"], "exceeds the 1797 samples of digits"),
    ],
)
def test_flag_errors_are_one_line(args, msg):
    r = run("experiments.run", *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and msg in last


def test_a_sweep_takes_the_gamma_embed_dim_and_cache_it_is_given(tmp_path):
    """Settings resolve as defaults < --config < flags: a sweep not given --gammas or
    --embed_dims trains at the --config file's values (and names its runs by them); its
    pretrained autoencoders go to --cache_dir when given."""
    net = json.loads((ROOT / "tests/fixtures/tiny_net.json").read_text())
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**net, "gamma": 0.3, "embed_dim": 5}))
    wd = tmp_path / "sweep"
    args = [*TINY[:-1], f"--config={cfg}", "--methods=idec", "--seeds=1", f"--workdir={wd}"]
    args.append(f"--cache_dir={tmp_path / 'cache'}")
    r = run("experiments.sweep", *args, "--notsne")
    assert r.returncode == 0, r.stderr[-2000:]
    (name,) = [p.name for p in (wd / "runs").iterdir()]
    assert name == "digits__idec__g0.3__e5"
    assert any((tmp_path / "cache").iterdir())
    saved = json.loads((wd / "runs" / name / "config.json").read_text())["config"]
    assert (saved["gamma"], saved["embed_dim"]) == (0.3, 5)


def test_batched_sweep_writes_the_same_files(tmp_path):
    wd = tmp_path / "bsweep"
    r = run(
        "experiments.sweep",
        "--batched",
        "--methods=kmeans,dec,dssec",
        "--gammas=0.1,0.5",
        "--embed_dims=10",
        "--seeds=2",
        "--tsne=false",
        f"--workdir={wd}",
        *TINY,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "batched digits/dssec/10: 2 configs x 2 seeds" in r.stdout
    rows = (wd / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2 + 2 + 4
    md = (wd / "results.md").read_text()
    assert "| dssec |" in md and "| dec |" in md


def test_subset_is_fixed():
    from sklearn.datasets import load_digits

    from dssec_jax.cli.common import subsample
    from dssec_jax.data import Dataset

    d = load_digits()
    ds = Dataset(d.data.astype("float32"), d.target.astype("int32"), "digits", (8, 8), 10)
    a, b = subsample(ds, 500), subsample(ds, 500)
    assert a.name == "digits_n500" and a.x.shape == (500, 64)
    assert (a.x == b.x).all() and (a.y == b.y).all() and len(set(a.y.tolist())) == 10


def test_per_class_subset_is_fixed_and_balanced():
    from sklearn.datasets import load_digits

    from dssec_jax.cli.common import per_class_subset
    from dssec_jax.data import Dataset

    d = load_digits()
    ds = Dataset(d.data.astype("float32"), d.target.astype("int32"), "digits", (8, 8), 10)
    a, b = per_class_subset(ds, 10), per_class_subset(ds, 10)
    assert a.name == "digits_c10" and a.x.shape == (100, 64)
    assert (a.x == b.x).all() and np.bincount(a.y).tolist() == [10] * 10
    with pytest.raises(ValueError, match="exceeds the 174 samples of class"):
        per_class_subset(ds, 500)
    with pytest.raises(ValueError, match="needs labels"):
        per_class_subset(Dataset(ds.x, None, "digits", (8, 8), 10), 10)


def test_figures_hold_the_other_swept_field_at_the_table_value(tmp_path, monkeypatch):
    import matplotlib.axes

    from dssec_jax.cli.report import plot_against

    def run(gamma, embed_dim, acc):
        s = {"mean": acc, "std": 0.01}
        return {
            "dataset": "d",
            "method": "dssec",
            "config": {"gamma": gamma, "embed_dim": embed_dim},
            "summary": {"acc": s, "nmi": s, "ari": s},
        }

    gamma_only = [run(g, 10, 0.5 + g) for g in (0.01, 0.1, 1.0)]
    assert plot_against(gamma_only, "gamma", tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 0
    # one embedding size only: no embed_dim figure, however many gammas
    assert not plot_against(gamma_only, "embed_dim", tmp_path / "e.png")
    assert not (tmp_path / "e.png").exists()
    # a full grid: the gamma line is drawn at embed_dim 10 (three points, not six)
    drawn, errorbar = [], matplotlib.axes.Axes.errorbar
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "errorbar",
        lambda self, xs, ys, **kw: drawn.append(list(ys)) or errorbar(self, xs, ys, **kw),
    )
    grid = gamma_only + [run(g, 20, 0.9) for g in (0.01, 0.1, 1.0)]
    assert plot_against(grid, "gamma", tmp_path / "g2.png")
    assert drawn[0] == [0.51, 0.6, 1.5]


def test_the_report_tables_the_swept_values_beside_the_figures():
    from dssec_jax.cli.report import sweep_lines

    def run(method, gamma, embed_dim, accs):
        per_seed = [{"seed": i, "acc": a} for i, a in enumerate(accs)]
        s = {"mean": float(np.mean(accs)), "std": float(np.std(accs, ddof=1)), "n": len(accs)}
        return {
            "dataset": "usps",
            "method": method,
            "config": {"gamma": gamma, "embed_dim": embed_dim},
            "per_seed": per_seed,
            "summary": {"acc": s, "nmi": s, "ari": s},
        }

    table_point = [run("dssec", 0.1, 10, [0.7, 0.8]), run("ae_kmeans", 0.1, 10, [0.6, 0.6])]
    assert sweep_lines(table_point) == []  # nothing swept: the paper table stays as it is
    grid = table_point + [run("dssec", 1.0, 10, [0.5, 0.7]), run("dssec", 0.1, 5, [0.9, 0.7])]
    text = "\n".join(sweep_lines(grid))
    assert "| dataset / method | 0.1 | 1 |\n|---|---|---|\n" in text
    assert "| usps / dssec | 0.750 ± 0.071 (2) | 0.600 ± 0.141 (2) |" in text
    assert "| dataset / method | 5 | 10 |" in text  # embed_dim: dssec only (ae_kmeans has one)
    assert "| usps / dssec | 0.800 ± 0.141 (2) | 0.750 ± 0.071 (2) |" in text
    assert "ae_kmeans" not in text


def test_the_label_share_table_gives_acc_on_the_unknown_samples_beside_acc_on_all():
    from dssec_jax.cli.report import sweep_lines

    def run(fraction, accs, unknown=None):
        def stat(v):
            std = float(np.std(v, ddof=1)) if len(v) > 1 else None  # as runner.summarize
            return {"mean": float(np.mean(v)), "std": std, "n": len(v)}

        summary = {"acc": stat(accs), **({"acc_unknown": stat(unknown)} if unknown else {})}
        return {
            "dataset": "usps",
            "method": "dssec",
            "config": {"gamma": 0.1, "embed_dim": 10, "label_fraction": fraction},
            "per_seed": [{"seed": i, "acc": a} for i, a in enumerate(accs)],
            "summary": summary,
        }

    text = "\n".join(sweep_lines([run(0.0, [0.7, 0.8]), run(0.1, [0.9, 0.96], [0.88, 0.96])]))
    assert "ACC on all samples / on those whose label was not given against label_fraction" in text
    assert "| usps / dssec | 0.750 ± 0.071 (2) | 0.930 ± 0.042 / 0.920 ± 0.057 (2) |" in text
    one, uneven = run(0.05, [0.9], [0.88]), run(0.1, [0.9, 0.96], [0.88])
    text = "\n".join(sweep_lines([run(0.0, [0.7, 0.8]), one, uneven]))
    assert "| 0.900 / 0.880 (1) | 0.930 ± 0.042 (2) / 0.880 (1) |" in text
    other = [run(0.1, [0.9, 0.96], [0.88, 0.96]), run(0.1, [0.8, 0.9], [0.8, 0.9])]
    other[1]["config"] = {**other[1]["config"], "gamma": 1.0}  # a gamma sweep of labelled runs
    text = "\n".join(sweep_lines(other))
    assert "ACC against gamma" in text  # ACC on all alone there
    assert "| usps / dssec | 0.930 ± 0.042 (2) | 0.850 ± 0.071 (2) |" in text


def test_figures_colour_by_method_and_style_by_dataset(tmp_path, monkeypatch):
    import matplotlib.axes

    from dssec_jax.cli.report import plot_against

    s = {"mean": 0.5, "std": 0.01}
    runs = [
        {
            "dataset": d,
            "method": m,
            "config": {"gamma": g, "embed_dim": 10},
            "summary": {"acc": s, "nmi": s, "ari": s},
        }
        for d in ("usps", "coil20")
        for m in ("idec", "dssec")
        for g in (0.1, 1.0)
    ]
    styles, errorbar = {}, matplotlib.axes.Axes.errorbar

    def record(self, xs, ys, **kw):
        styles[kw["label"]] = (kw["color"], kw["linestyle"])
        return errorbar(self, xs, ys, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", record)
    assert plot_against(runs, "gamma", tmp_path / "g.png")
    assert styles["usps idec"][0] == styles["coil20 idec"][0] != styles["usps dssec"][0]
    assert styles["usps idec"][1] == styles["usps dssec"][1] != styles["coil20 idec"][1]


def test_main_table_takes_the_run_nearest_the_table_point():
    from dssec_jax.cli.report import main_table

    def run(method, gamma, embed_dim):
        return {
            "dataset": "d",
            "method": method,
            "config": {"gamma": gamma, "embed_dim": embed_dim},
        }

    runs = [
        run("dssec", 0.5, 10),
        run("dssec", 0.1, 20),
        run("dssec", 0.1, 10),
        run("dssec", 0.3, 10),
        run("dec", 0.5, 5),
        run("dec", 0.5, 12),
    ]
    table = main_table(runs)
    assert table[("dssec", "d")]["config"] == {"gamma": 0.1, "embed_dim": 10}
    # gamma does not enter DEC's loss, so only its embedding size counts
    assert table[("dec", "d")]["config"] == {"gamma": 0.5, "embed_dim": 12}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gama=0.3"], "error: Unknown command line flag 'gama'"),
        (["--tol=abc"], "error: flag --tol=abc: could not convert string to float"),
        (["--sparse_layers=a"], "error: --sparse_layers=a is not valid; pass comma-separated"),
        (["--embed_std=x"], "error: --embed_std=x is not valid; pass a number, kernel or none"),
        (["extra"], "error: unexpected arguments ['extra']"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args, message):
    r = run("experiments.run", *args)
    assert r.returncode == 2 and r.stderr.strip().startswith(message), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "driver, args, flag",
    [
        ("experiments.sweep", ["--readme=R.md", "--against=results/paper"], "--against, --readme"),
        ("experiments.campaign", ["--dry_run", "--readme=R.md"], "--readme"),
        (
            "experiments.report",
            ["results/paper", "--seeds=3", "--recipe=strong"],
            "--recipe, --seeds",
        ),
        ("experiments.report", ["results/paper", "--metrics_csv=m.csv"], "--metrics_csv"),
    ],
)
def test_a_flag_of_another_driver_is_refused_not_ignored(driver, args, flag):
    """Every driver's flags share absl's namespace: one a driver does not read exits 2
    naming it, before anything runs."""
    r = run(driver, *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        f"error: this command does not read {flag} (another dssec command's flags); see its "
        "--help for the ones it takes"
    )


def test_a_batched_sweep_refuses_a_cache_it_would_not_use(tmp_path):
    r = run("experiments.sweep", "--batched", f"--cache_dir={tmp_path}", f"--workdir={tmp_path}")
    assert r.returncode == 2 and "--batched groups pretrain inside their own folders" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_helpfull_shows_library_defaults_and_none_is_accepted(tmp_path):
    r = run("experiments.run", "--helpfull")
    assert "(library default: 1.0)" in r.stdout and "(library default: 0.05)" in r.stdout
    from dssec_jax.cli import common

    assert common.flag_value("embed_std", "none") is None
    assert common.flag_value("layerwise_epochs", "7") == 7
    assert common.flag_value("sparse_layers", ["0", "2"]) == [0, 2]


BATCH_ARGS = ["--batched", "--methods=dssec", "--gammas=0.1,0.5", "--embed_dims=10"]
BATCH_ARGS += ["--seeds=1", "--tsne=false", "--checkpoint_interval=0", *TINY]


@pytest.fixture(scope="module")
def uninterrupted_batch(tmp_path_factory):
    full = tmp_path_factory.mktemp("batch") / "full"
    assert run("experiments.sweep", *BATCH_ARGS, f"--workdir={full}").returncode == 0
    return full


@pytest.mark.parametrize("stop_after", ["batched_pretrain", "batched_cluster"])
def test_interrupted_batched_sweep_resumes_to_the_same_labels(
    tmp_path, stop_after, uninterrupted_batch
):
    """A batch is checkpointed as a single run is: killed after its first checkpoint of a
    phase, the same command resumes it and ends with the uninterrupted batch's labels."""
    args, full, cut = BATCH_ARGS, uninterrupted_batch, tmp_path / "cut"
    killed = run(
        "experiments.sweep", *args, f"--workdir={cut}", env={"DSSEC_STOP_AFTER": stop_after}
    )
    assert killed.returncode == 17, killed.stderr[-2000:]
    again = run("experiments.sweep", *args, f"--workdir={cut}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming at" in again.stdout
    for g in ("0.1", "0.5"):
        name = f"digits__dssec__g{g}__e10"
        with np.load(full / "runs" / name / "seed_0" / "outputs.npz") as a:
            with np.load(cut / "runs" / name / "seed_0" / "outputs.npz") as b:
                np.testing.assert_array_equal(a["labels"], b["labels"])
        ra, rb = (
            json.loads((w / "runs" / name / "seed_0" / "result.json").read_text())
            for w in (full, cut)
        )
        assert (ra["n_iter"], ra["stop_reason"], ra["acc"]) == (
            rb["n_iter"],
            rb["stop_reason"],
            rb["acc"],
        )
        ha, hb = (
            json.loads((w / "runs" / name / "seed_0" / "history.json").read_text())
            for w in (full, cut)
        )
        keep = ("iteration", "delta_label", "loss", "acc")
        assert [{k: h.get(k) for k in keep} for h in ha["cluster"]] == [
            {k: h.get(k) for k in keep} for h in hb["cluster"]
        ]


def test_a_config_file_sits_between_the_recipe_and_the_flags(tmp_path):
    """--config names the method and k; a flag given beside it wins, an absent one does not
    override it with its default."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"method": "kmeans", "n_clusters": 5, "n_init": 2}))
    wd = tmp_path / "w"
    r = run("experiments.run", f"--config={path}", "--n_clusters=4", "--seeds=1", f"--workdir={wd}")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((wd / "results.json").read_text())
    assert res["method"] == "kmeans" and res["config"]["n_clusters"] == 4
    assert f"result: ACC {res['per_seed'][0]['acc']:.4f}, NMI" in r.stdout  # one seed: no std
    assert res["per_seed"][0]["n_clusters"] == 4 and res["config"]["n_init"] == 2


def test_a_run_whose_every_seed_diverges_says_so_and_fails(tmp_path):
    wd = tmp_path / "w"
    flags = ["--method=ae_kmeans", "--pretrain_optimizer=sgd", "--learning_rate=1e38"]
    r = run("experiments.run", *flags, "--pretrain_epochs=2", "--seeds=2", f"--workdir={wd}")
    assert r.returncode == 1 and "error: every seed diverged" in r.stderr, r.stderr[-2000:]
    assert "seed 1 diverged, recorded as non-finite" in r.stdout
    assert f"To run it again, delete {wd / 'seed_1'}" in r.stdout
    res = json.loads((wd / "results.json").read_text())
    assert res["summary"]["stopped_nonfinite"] == 2


def test_the_result_line_counts_the_seeds_its_means_hold():
    """Means over the seeds that did not diverge, their count and the diverged ones said;
    one seed alone prints no std."""
    from dssec_jax.cli.run import result_line
    from dssec_jax.cli.runner import summarize

    def seed(s, acc, stop="tol"):
        return {"seed": s, "acc": acc, "nmi": acc, "ari": acc, "stop_reason": stop}

    two = summarize([seed(0, 0.8), seed(1, 0.6), seed(2, 0.1, "nonfinite")])
    assert result_line(two).startswith(
        "result (mean, sample std over 2 seeds, 1 diverged left out): ACC 0.7000 ± 0.1414"
    )
    one = summarize([seed(0, 0.8), seed(1, 0.1, "nonfinite")])
    assert result_line(one).startswith("result (one seed, 1 diverged left out): ACC 0.8000, NMI")
    assert result_line(summarize([seed(0, 0.8)])).startswith("result: ACC 0.8000, NMI 0.8000")

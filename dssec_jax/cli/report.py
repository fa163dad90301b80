"""Tables and plots from finished runs, without training.

    python -m experiments.report runs/sweep

Writes results.csv (one row per run and seed), results.md (methods x datasets per metric,
cells mean ± sample std (seeds)) and PNG figures: metrics against gamma, against embedding
size, the n_clusters="auto" criterion against k, and a t-SNE of the learned embedding
coloured by true and predicted labels.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
from collections import defaultdict
from typing import Callable, Optional, Sequence

import numpy as np
from absl import flags

from dssec_jax import checkpoint
from dssec_jax.labels import UNKNOWN_METRICS
from dssec_jax.methods import Config, get_method

METHOD_ORDER = [
    "kmeans",
    "pca_kmeans",
    "ae_kmeans",
    "sae_kmeans",
    "lcae_kmeans",
    "dec",
    "idec",
    "dssec",
]
METRICS = ("acc", "nmi", "ari")
DATASET_ORDER = ["mnist", "fashion_mnist", "usps", "coil20"]  # the paper's order; others after
flags.DEFINE_string("readme", None, "also replace this README's generated block of DIR's table")
flags.DEFINE_string(
    "clean", None, "folder of the clean results that runs on corrupted data are compared with"
)
flags.DEFINE_string(
    "against",
    None,
    "also compare DIR with this folder of results, paired by seed (e.g. results/paper)",
)
FLAGS = flags.FLAGS
# The main table's gamma, embedding size and share of known labels (0: unsupervised; the
# semi-supervised LCAE+K-means knows 10 %, TABLE_LABELS).
TABLE_POINT = {"gamma": 0.1, "embed_dim": 10, "label_fraction": 0.0}
TABLE_LABELS = {"lcae_kmeans": 0.1}


def collect(workdir: pathlib.Path) -> list[dict]:
    """One dict per finished run directory under <workdir>/runs (or workdir itself)."""
    root = workdir / "runs" if (workdir / "runs").is_dir() else workdir
    out = []
    for f in sorted(root.glob("*/results.json")):
        r = json.loads(f.read_text())
        r["dir"] = f.parent
        out.append(r)
    if not out:
        raise ValueError(
            f"no finished runs (results.json) under {root}; run dssec-sweep (python -m experiments.sweep) first"
        )
    return out


def _order(method: str) -> int:
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


SEED_COLUMNS = (
    "acc",
    "nmi",
    "ari",
    "kmeans_acc",
    "n_iter",
    "stop_reason",
    "wall_seconds",
    "n_known",
    *UNKNOWN_METRICS,
)


def write_csv(runs: list[dict], path: pathlib.Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    head = ["dataset", "method", "gamma", "embed_dim", "label_fraction", "seed"]
    w.writerow([*head, *SEED_COLUMNS, "run_dir"])
    for r in runs:
        c = r["config"]
        for s in r["per_seed"]:
            cells = (s.get(k) for k in SEED_COLUMNS)
            w.writerow(
                [r["dataset"], r["method"], c["gamma"], c["embed_dim"]]
                + [c.get("label_fraction", 0.0), s["seed"], *cells, r["dir"].name]
            )
    checkpoint.atomic_write_bytes(path, buf.getvalue().encode())


def _cell(summary: dict, metric: str) -> str:
    """``mean ± std (n)`` of one metric: sample std (ddof 1), n seeds; no std for one seed."""
    if metric not in summary:
        return "-"
    s = summary[metric]
    spread = "" if s["std"] is None else f" ± {s['std']:.3f}"
    return f"{s['mean']:.3f}{spread} ({s['n']})"


def _dataset_order(name: str) -> tuple:
    return (DATASET_ORDER.index(name) if name in DATASET_ORDER else len(DATASET_ORDER), name)


def table_value(method: str, field: str) -> float:
    """The main table's value of ``field`` for ``method``."""
    if field == "label_fraction":
        return TABLE_LABELS.get(method, 0.0)
    return TABLE_POINT[field]


def _distance(run: dict, fields) -> tuple:
    """|config[f] - table value| per field; gamma counts only for methods that use it (a
    config written before a field existed holds it at 0)."""
    uses_gamma = get_method(run["method"]).clustering == "idec"
    value = {**run["config"], "label_fraction": label_share(run)}
    return tuple(
        abs(value.get(f, 0.0) - table_value(run["method"], f)) if f != "gamma" or uses_gamma else 0
        for f in fields
    )


def nearest_to_table(runs: list[dict], fields=tuple(TABLE_POINT)) -> list[dict]:
    """The runs whose ``fields`` are nearest the table's point (all ties)."""
    best = min(_distance(r, fields) for r in runs)
    return [r for r in runs if _distance(r, fields) == best]


def main_table(runs: list[dict]) -> dict:
    """{(method, dataset): run} at the table's gamma and embed_dim (nearest available)."""
    groups = defaultdict(list)
    for r in runs:
        groups[(r["method"], r["dataset"])].append(r)
    return {k: nearest_to_table(rs)[0] for k, rs in groups.items()}


PAIRS = (("dssec", "idec"), ("dssec", "dec"), ("sae_kmeans", "ae_kmeans"))  # (method, base)


def _finished_acc(run: dict, metric: str = "acc") -> dict:
    """{seed: ``metric``} of the seeds of ``run`` that finished and record it (a seed of a
    batch frozen at a non-finite value is left out, as the means leave it out)."""
    return {
        r["seed"]: r[metric]
        for r in run["per_seed"]
        if metric in r and r.get("stop_reason") != "nonfinite"
    }


def paired_seeds(run: dict, base: dict) -> list[int]:
    """The seeds both ``run`` and ``base`` finished, in order."""
    return sorted(_finished_acc(run).keys() & _finished_acc(base).keys())


def paired_acc(run: dict, base: dict) -> list[float]:
    """ACC of ``run`` less ACC of ``base`` on each seed both finished, in seed order."""
    a, b = _finished_acc(run), _finished_acc(base)
    return [a[s] - b[s] for s in paired_seeds(run, base)]


def _paired_cell(diffs: list[float]) -> str:
    """``+mean ± std (n, ahead on w)``: sample std (ddof 1); no std for one seed."""
    if not diffs:
        return "-"
    spread = f" ± {np.std(diffs, ddof=1):.3f}" if len(diffs) > 1 else ""
    ahead = sum(d > 0 for d in diffs)
    return f"{np.mean(diffs):+.3f}{spread} ({len(diffs)}, ahead on {ahead})"


def table_head(first: str, columns) -> list[str]:
    """A Markdown table's header row (``first``, then ``columns``) and its rule."""
    head = (f"| {first} |" if first else "| |") + "".join(f" {c} |" for c in columns)
    return [head, "|---|" + "---|" * len(columns)]


def paired_lines(table: dict, datasets: list[str]) -> list[str]:
    """The paired comparisons: each method less its base on the same seeds (ACC)."""
    lines = [
        "",
        "Paired differences in ACC, same seeds: mean ± sample std (seeds, seeds on which the "
        "first method is ahead):",
        "",
        *table_head("comparison", datasets),
    ]
    for m, base in PAIRS:
        cells = [
            _paired_cell(paired_acc(table[(m, d)], table[(base, d)]))
            if (m, d) in table and (base, d) in table
            else "-"
            for d in datasets
        ]
        lines.append(f"| {m} − {base} | " + " | ".join(cells) + " |")
    return lines


def _known_counts(run: dict) -> list[tuple[int, int]]:
    """(samples given their label, samples) of each seed record that counts them, sorted."""
    return sorted(
        {
            (rec["n_known"], sum(rec["cluster_sizes"]))
            for rec in run.get("per_seed", ())
            if rec.get("n_known") and rec.get("cluster_sizes")
        }
    )


def label_share(run: dict) -> float:
    """The share of the labels a run was given: its ``label_fraction`` (drawn by the
    driver), else counted from its records (labels from a file), else 0."""
    if share := run["config"].get("label_fraction", 0.0):
        return share
    counts = _known_counts(run)
    return counts[0][0] / counts[0][1] if counts else 0.0


def known_count(run: dict) -> str:
    """How many samples a run's seeds were given the label of, of how many ("" where its
    records do not say): a stratified draw rounds per class, so on COIL-20 "1 %" is 1
    image a class, "20 of 1440 samples"."""
    counts = _known_counts(run)
    if not counts:
        return ""
    (known, n), *others = counts
    return f"{known}{f' to {others[-1][0]}' if others else ''} of {n} samples"


def _given(run: dict) -> str:
    """A mark on the cell of a run that was given some of the labels it is scored on."""
    return " ‡" if label_share(run) else ""


def unknown_lines(table: dict, datasets: list, methods: list) -> list[str]:
    """For the runs given some labels (cells marked ‡): ACC / NMI / ARI on the samples
    whose label was not given, so no gain comes from the given labels alone."""
    given = {key for key, run in table.items() if _given(run)}
    rows = [m for m in methods if any((m, d) in given for d in datasets)]
    if not rows:
        return []
    lines = [
        "",
        "‡ The run was given the labels of some samples (its settings say how many). On the "
        "samples whose label was not given, ACC / NMI / ARI:",
        "",
        *table_head("method", datasets),
    ]
    for m in rows:
        cells = []
        for d in datasets:
            s = table[(m, d)]["summary"] if (m, d) in given else {}
            cells.append(" / ".join(_cell(s, k) for k in UNKNOWN_METRICS) if s else "-")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def _settings(method: str, run: dict) -> list[str]:
    """The settings of one cell that its method uses, and how its seeds ended."""
    c, spec, s = run["config"], get_method(method), run["summary"]
    used = [f"seeds {len(run['per_seed'])}"]
    if spec.features != "raw":
        used.append(f"embed_dim {c['embed_dim']}")
    if spec.features == "autoencoder":
        used.append(f"pretrain_epochs {c['pretrain_epochs']}")
        used += _changed(c, RECIPE_FIELDS + (("sparsity_floor",) if spec.sparse else ()))
        if share := label_share(run):
            source = "" if c.get("label_fraction") else " from a file"
            count = f", {n}" if (n := known_count(run)) else ""
            used.append(
                f"known labels {share:.0%}{source}{count} (label_weight "
                f"{c['label_weight']:g}; ACC on the others {_cell(s, 'acc_unknown')})"
            )
    if not spec.clustering:
        return used
    used += _changed(c, ("embed_std",))
    if spec.clustering == "idec":
        used.append(f"gamma {c['gamma']}")
    used += [f"max_iter {c['max_iter']}", f"update_interval {c['update_interval']}"]
    used.append(f"tol {c['tol']:g}")
    if "n_iter" in s:  # (not when every seed diverged)
        used.append(f"iterations run {s['n_iter']['mean']:.0f} (mean)")
        used.append(f"stopped at max_iter {s['stopped_at_max_iter']} of {s['n_iter']['n']}")
    if s.get("stopped_nonfinite"):
        used.append(f"non-finite (left out of the means) {s['stopped_nonfinite']}")
    if s.get("collapsed"):
        used.append(f"collapsed (under half the clusters non-empty) {s['collapsed']}")
    return used


def markdown_table(runs: list[dict]) -> str:
    """One table per metric (methods x datasets), then each cell's settings."""
    table = main_table(runs)
    datasets = sorted({r["dataset"] for r in runs}, key=_dataset_order)
    methods = sorted({r["method"] for r in runs}, key=_order)
    lines = ["Cells: mean ± sample std (ddof 1) over seeds (number of seeds), final iterate."]
    for metric in METRICS:
        lines += [
            "",
            f"{metric.upper()}:",
            "",
            *table_head("method", datasets),
        ]
        for m in methods:
            cells = [
                _cell(table[(m, d)]["summary"], metric) + _given(table[(m, d)])
                if (m, d) in table
                else "-"
                for d in datasets
            ]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += unknown_lines(table, datasets, methods)
    lines += paired_lines(table, datasets)
    lines += sweep_lines(runs)
    lines += ["", "Settings per cell (only those the method uses):", ""]
    for (m, d), r in sorted(
        table.items(), key=lambda kv: (_dataset_order(kv[0][1]), _order(kv[0][0]))
    ):
        lines.append(f"- {d} / {m}: " + ", ".join(_settings(m, r)))
    return "\n".join(lines) + "\n"


# Settings of a recipe, shown for a cell only where they differ from the library default
# (so the paper-protocol table reads as it always has).
RECIPE_FIELDS = ("init", "pretrain_optimizer", "learning_rate", "pretrain_momentum")


def _changed(config: dict, fields: tuple) -> list[str]:
    """``"field value"`` for each of ``fields`` whose value differs from Config's default."""
    default = Config()
    return [
        f"{k} {config[k]}"
        for k in fields
        if k in config
        and config[k] != getattr(default, k)
        and not (k == "pretrain_momentum" and config.get("pretrain_optimizer") != "sgd")
    ]


def results_markdown(runs: list[dict], clean_runs: Sequence[dict] = ()) -> str:
    """The results table of ``runs``; for runs on corrupted data, the harsh-conditions
    tables against ``clean_runs`` (runs of another folder on clean data) and the clean runs
    among ``runs``, after the ordinary table of those clean runs."""
    from . import harsh_report

    if isinstance(clean_runs, (str, pathlib.Path)):
        raise TypeError(
            "results_markdown takes the clean runs themselves: pass collect(folder), "
            f"not the folder {str(clean_runs)!r}"
        )
    if not harsh_report.is_harsh(runs):
        return markdown_table(runs)
    text = harsh_report.harsh_markdown(runs, list(clean_runs))
    clean_here = [r for r in runs if not harsh_report.is_harsh([r])]
    return (
        markdown_table(clean_here) + "\nUnder harsh conditions:\n\n" + text if clean_here else text
    )


def _save_fig(fig, path: pathlib.Path, metadata: Optional[dict] = None) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata=metadata)
    checkpoint.atomic_write_bytes(path, buf.getvalue())


def sweep_series(runs: list[dict], field: str, methods=None) -> dict:
    """{(dataset, method): [(value of ``field``, summary), ...]} sorted by value, for the
    lines with two or more values; the other swept field is held at the value nearest the
    table's (gamma 0.1, embed_dim 10)."""
    series: dict = defaultdict(list)
    for r in runs:
        if (not methods or r["method"] in methods) and "acc" in r["summary"]:
            series[(r["dataset"], r["method"])].append(r)
    for key, rs in list(series.items()):
        rs = nearest_to_table(rs, [f for f in TABLE_POINT if f != field])
        series[key] = sorted(
            ((r["config"].get(field, 0.0), r["summary"]) for r in rs), key=lambda t: t[0]
        )
    return {k: v for k, v in series.items() if len({p[0] for p in v}) > 1}


def _cell_beside_unknown(summary: dict) -> str:
    """ACC's cell, and beside it ACC on the samples whose label was not given where the
    run knew labels: ``mean ± std / mean ± std (n)``."""
    if "acc_unknown" not in summary or "acc" not in summary:
        return _cell_of_acc(summary)
    both = (_cell(summary, m).rsplit(" (", 1)[0] for m in ("acc", "acc_unknown"))
    n = {summary[m]["n"] for m in ("acc", "acc_unknown")}
    if len(n) > 1:  # not the same seeds: each its own count
        return " / ".join(_cell(summary, m) for m in ("acc", "acc_unknown"))
    return f"{' / '.join(both)} ({n.pop()})"


def _cell_of_acc(summary: dict) -> str:
    return _cell(summary, "acc")


SWEPT = (  # (field, methods or None for all, the table's heading, its cell)
    ("gamma", ("idec", "dssec"), "ACC", _cell_of_acc),
    ("embed_dim", None, "ACC", _cell_of_acc),
    (
        "label_fraction",
        None,
        "ACC on all samples / on those whose label was not given",
        _cell_beside_unknown,
    ),
)


def sweep_lines(runs: list[dict]) -> list[str]:
    """ACC against gamma (IDEC, DSSEC), against embed_dim and against the share of known
    labels (there with ACC on the samples whose label was not given beside it), one row
    per (dataset, method): the figures' values as Markdown tables (none where nothing was
    swept)."""
    lines = []
    for field, methods, text, cell in SWEPT:
        series = sweep_series(runs, field, methods)
        if not series:
            continue
        values = sorted({v for pts in series.values() for v, _ in pts})
        lines += [
            "",
            f"{text} against {field} (the other setting at the table's value):",
            "",
            *table_head("dataset / method", [f"{v:g}" for v in values]),
        ]
        for (d, m), pts in sorted(
            series.items(), key=lambda kv: (_dataset_order(kv[0][0]), _order(kv[0][1]))
        ):
            at = dict(pts)
            cells = [cell(at[v]) if v in at else "-" for v in values]
            lines.append(f"| {d} / {m} | " + " | ".join(cells) + " |")
    return lines


def plot_against(runs: list[dict], field: str, path: pathlib.Path, methods=None) -> bool:
    """ACC/NMI/ARI (mean ± std) against a config field, one line per (dataset, method);
    the other swept field is held at the value nearest the table's (gamma 0.1, embed_dim 10).
    False (no figure) when no line has two or more values of ``field``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = sweep_series(runs, field, methods)
    if not series:
        return False
    values = sorted({p[0] for pts in series.values() for p in pts})
    meths = sorted({meth for _, meth in series}, key=_order)  # a colour per method,
    dsets = sorted({d for d, _ in series}, key=_dataset_order)  # a line style per dataset
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, m in zip(axes, METRICS):
        for (d, meth), pts in sorted(series.items()):
            xs = [p[0] for p in pts]
            ax.errorbar(
                xs,
                [p[1][m]["mean"] for p in pts],
                yerr=[p[1][m]["std"] or 0.0 for p in pts],
                marker="o",
                capsize=3,
                color=f"C{meths.index(meth) % 10}",
                linestyle=("-", "--", ":", "-.")[dsets.index(d) % 4],
                label=f"{d} {meth}",
            )
        ax.set_xlabel(field)
        if values[0] > 0 and values[-1] / values[0] >= 8:  # e.g. gamma 0.01 .. 1
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.set_ylabel(m.upper())
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Clustering quality against {field} (mean ± std over seeds)")
    _save_fig(fig, path)
    plt.close(fig)
    return True


def plot_k_scores(runs: list[dict], path: pathlib.Path) -> bool:
    """The n_clusters="auto" criterion against k, one line per (dataset, method, seed), the
    chosen k marked; False (no figure) when no run chose its k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [
        (
            f"{r['dataset']} {r['method']} seed {s['seed']}",
            s["k_scores"],
            s["n_clusters"],
            r["config"].get("k_criterion", "silhouette"),
        )
        for r in runs
        for s in r["per_seed"]
        if s.get("k_scores")
    ]
    if not lines:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, scores, chosen, _ in lines:
        ks = sorted(int(k) for k in scores)
        ys = [np.nan if scores[str(k)] is None else scores[str(k)] for k in ks]
        ax.plot(ks, ys, marker=".", label=f"{label}: k={chosen}")
        ax.plot([chosen], [scores[str(chosen)]], "k*", markersize=10)
    ax.set_xlabel("k")
    ax.set_ylabel(", ".join(sorted({c for *_, c in lines})))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Choice of the number of clusters (star: chosen k)")
    _save_fig(fig, path)
    plt.close(fig)
    return True


TSNE_SOURCE = "dssec_jax t-SNE source"  # the PNG text key naming the embedding drawn


def _png_text(path: pathlib.Path) -> dict:
    """The text chunks of the PNG at ``path`` ({} when there is none or it cannot be read)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return dict(getattr(im, "text", {}))
    except OSError:  # no file, or not an image (UnidentifiedImageError is an OSError)
        return {}


def plot_tsne(run: dict, path: pathlib.Path, max_points: int = 2000, seed: int = 0) -> bool:
    """2-D t-SNE of the first seed's embedding, coloured by true and by predicted labels;
    a figure at ``path`` drawn from that same file, unchanged since, is kept as it is (t-SNE
    takes about a minute on 2,000 points, and a report is regenerated often)."""
    files = sorted(run["dir"].glob("seed_*/outputs.npz"))
    if not files:
        return False
    source = f"{files[0].resolve()} {files[0].stat().st_mtime_ns}"
    if _png_text(path).get(TSNE_SOURCE) == source:
        return True
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    with np.load(files[0]) as f:
        z, pred, y = f["embedding"], f["labels"], f["y"]
    idx = np.random.default_rng(seed).permutation(len(z))[:max_points]
    e2 = TSNE(n_components=2, random_state=seed, init="pca").fit_transform(z[idx])
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    panels = [("predicted clusters", pred[idx])]
    if len(y):
        panels.insert(0, ("true labels", y[idx]))
    for ax, (title, c) in zip(axes, panels):
        ax.scatter(e2[:, 0], e2[:, 1], c=c, cmap="tab20", s=4)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"t-SNE of the {run['method']} embedding on {run['dataset']}")
    _save_fig(fig, path, {TSNE_SOURCE: source})
    plt.close(fig)
    return True


def clean_runs_for(runs: list[dict], clean: Optional[str]) -> list[dict]:
    """The clean runs under the folder ``clean`` that corrupted ``runs`` are compared with
    (none when ``clean`` is not given or no run is on corrupted data)."""
    from . import harsh_report

    return collect(pathlib.Path(clean)) if clean and harsh_report.is_harsh(runs) else []


def write_table_files(
    folder: pathlib.Path, runs: list[dict], clean_runs: list[dict], figures: bool = True
) -> tuple[list[pathlib.Path], str]:
    """results.csv and results.md of ``runs`` in ``folder`` and, where the data was
    corrupted and ``figures`` asks for them, the figures of ACC against severity (against
    ``clean_runs`` when there are any, else the folder's own clean runs); returns the paths
    and the Markdown table."""
    from . import harsh_report

    written = [folder / "results.csv", folder / "results.md"]
    write_csv(runs, written[0])
    table = results_markdown(runs, clean_runs)
    checkpoint.atomic_write_bytes(written[1], table.encode())
    if figures and harsh_report.is_harsh(runs):
        written += harsh_report.plot_harsh(runs, clean_runs, folder)
    return written, table


def write_report(
    workdir: pathlib.Path,
    tsne: bool = True,
    log: Optional[Callable[[str], None]] = None,
    clean: Optional[str] = None,
) -> list[pathlib.Path]:
    """Write results.csv, results.md and the figures into ``workdir`` (runs on corrupted
    data against the clean results under ``clean``); returns the paths."""
    workdir = pathlib.Path(workdir)
    runs = collect(workdir)
    return report_files(workdir, runs, tsne, log, clean_runs_for(runs, clean))[0]


def report_files(
    workdir: pathlib.Path,
    runs: list[dict],
    tsne: bool = True,
    log: Optional[Callable[[str], None]] = None,
    clean_runs: Sequence[dict] = (),
) -> tuple[list[pathlib.Path], str]:
    """:func:`write_report` of the runs ``runs`` already collected from ``workdir``, against
    the ``clean_runs`` of another folder; returns the paths and the Markdown table."""
    from . import harsh_report

    if not clean_runs and log and all(harsh_report.is_harsh([r]) for r in runs) and runs:
        log(
            "runs on corrupted data and no clean runs: no ACC lost against the clean "
            "results (run the clean data into this folder too, as --plan=harsh does, or "
            "pass --clean=FOLDER of clean runs made on the same processor)"
        )
    written, table = write_table_files(workdir, runs, list(clean_runs))
    if plot_against(runs, "gamma", workdir / "gamma.png", methods=("idec", "dssec")):
        written.append(workdir / "gamma.png")
    if plot_against(runs, "embed_dim", workdir / "embed_dim.png"):
        written.append(workdir / "embed_dim.png")
    if plot_k_scores(runs, workdir / "k_scores.png"):
        written.append(workdir / "k_scores.png")
    if tsne:
        for (m, d), r in main_table(runs).items():
            if m == "dssec" and plot_tsne(r, workdir / f"tsne_{d}.png"):
                written.append(workdir / f"tsne_{d}.png")
    if log:
        log("wrote " + ", ".join(str(p) for p in written))
    return written, table


SWEEPS = " sweeps"  # the name of a block that holds only the tables against swept settings


def readme_block(folder: str, part: str = "") -> re.Pattern:
    """The README block that holds ``folder``'s generated table (``folder`` as written,
    relative to the repository root, e.g. ``results/paper``); ``part`` SWEEPS: the block
    ``<folder> sweeps`` of its tables against the swept settings alone (:func:`sweep_markdown`)."""
    name = re.escape(folder + part)
    return re.compile(rf"(<!-- begin {name} -->\n)(.*?)(<!-- end {name} -->)", re.S)


SUMMARY = " summary"  # the block of the harsh conditions' verdict table and figures
NO_SUMMARY = "No run on corrupted data yet.\n"


def readme_blocks(
    runs: list[dict],
    table: str,
    clean_runs: list[dict],
    drawn: pathlib.Path,
    readme: Optional[pathlib.Path] = None,
) -> dict:
    """The README blocks of the results in the folder ``drawn`` (where the figures are):
    the table, the sweeps and the harsh conditions' summary (against ``clean_runs`` when
    there are any, else the folder's own clean runs; a line saying there is none yet until
    a run on corrupted data is in, as when the harsh plan's clean runs come first), its
    links relative to the document ``readme`` (as the folder is named without one)."""
    from . import harsh_report

    blocks = {"": table, SWEEPS: sweep_markdown(runs), SUMMARY: NO_SUMMARY}
    if harsh_report.is_harsh(runs):
        where = drawn
        if readme is not None:
            where = pathlib.Path(os.path.relpath(drawn.resolve(), readme.resolve().parent))
        link = where.as_posix()
        blocks[SUMMARY] = harsh_report.summary_markdown(runs, clean_runs, link, drawn)
    return blocks


def sweep_markdown(runs: list[dict]) -> str:
    """The tables against the swept settings (:func:`sweep_lines`) as one Markdown text."""
    return "\n".join(sweep_lines(runs)).strip("\n") + "\n"


def update_readme(readme: pathlib.Path, folder: str, blocks: dict[str, str]) -> list[str]:
    """Replace each block ``<folder><part>`` of the README with ``blocks[part]`` (part ""
    the table, SWEEPS the tables against swept settings, SUMMARY the harsh conditions'
    verdict, `` against <base>`` a comparison with another folder), each where it is; refuse when there is none of them. Returns the
    parts it found."""
    text, found = readme.read_text(), []
    for part, body in blocks.items():
        text, n = readme_block(folder, part).subn(lambda m: m.group(1) + body + m.group(3), text)
        found += [part] * bool(n)
    if not found:
        names = " or ".join(f"'<!-- begin {folder}{part} -->'" for part in blocks)
        raise ValueError(
            f"{readme} has no block {names} ... '<!-- end ... -->'; add one where the table belongs"
        )
    checkpoint.atomic_write_bytes(readme, text.encode())
    return found


def report_main(argv):
    if len(argv) != 2:
        raise ValueError(
            "usage: dssec-report DIR [--readme=docs/results.md] (python -m experiments.report DIR "
            "in a checkout)"
        )
    folder = pathlib.Path(argv[1])
    runs = collect(folder)
    clean_runs = clean_runs_for(runs, FLAGS.clean)
    _, table = report_files(folder, runs, log=print, clean_runs=clean_runs)
    name = argv[1].rstrip("/")
    readme = pathlib.Path(FLAGS.readme) if FLAGS.readme else None
    blocks = readme_blocks(runs, table, clean_runs, folder, readme)
    if FLAGS.against:
        from .plan_comparison import against_part, write_against

        base = FLAGS.against.rstrip("/")
        path = write_against(folder, pathlib.Path(base))
        blocks[against_part(base)] = path.read_text()
        print(f"wrote {path}")
    if FLAGS.readme:
        found = update_readme(pathlib.Path(FLAGS.readme), name, blocks)
        print(f"updated in {FLAGS.readme}: " + ", ".join(f"'{name}{p}'" for p in found))
        if len(found) < len(blocks):
            missing = ", ".join(f"'<!-- begin {name}{p} -->'" for p in blocks if p not in found)
            print(f"{FLAGS.readme} has no block {missing}; those tables are in {folder} only")


def entry() -> None:
    """The command line (``dssec-report``, or ``python -m experiments.report`` in a checkout)."""
    from . import common
    from .common import run_cli

    run_cli(
        report_main,
        positional=True,
        doc=__doc__,
        reads=(*common.ALL_READ, "readme", "clean", "against"),
    )


if __name__ == "__main__":
    entry()

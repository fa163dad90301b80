"""Results under harsh conditions (``dssec_jax.data.corrupt``) against the clean results.

For each dataset: ACC at each condition; the ACC each method loses against its clean
result, paired by seed (clean - corrupted); the paired comparisons of the sparse and the
plain embedding (DSSEC - IDEC, SAE+K-means - AE+K-means) at each condition; and how much
less the first method of each pair loses ((clean - corrupted) of the base less that of
the method, per seed: positive where the sparse embedding loses less). A figure per
dataset shows ACC against severity, one panel per corruption, one line per method.
"""

from __future__ import annotations

import pathlib
from collections import defaultdict
from typing import Optional

import numpy as np

from dssec_jax.data.corrupt import number_text, split_name

from .report import (
    _cell,
    _dataset_order,
    _finished_acc,
    _given,
    _order,
    _paired_cell,
    _save_fig,
    main_table,
    paired_acc,
    paired_seeds,
    table_head,
)
from .runner import same_settings, summarize

PAIRS = (("dssec", "idec"), ("sae_kmeans", "ae_kmeans"))  # (sparse, plain)


def is_harsh(runs: list[dict]) -> bool:
    """Whether any run was trained on corrupted data."""
    return any(split_name(r["dataset"])[1] for r in runs)


def _on_seeds(run: dict, seeds: set) -> dict:
    """``run`` with only the ``seeds`` given (its summary recomputed)."""
    kept = [r for r in run["per_seed"] if r.get("seed") in seeds]
    return {**run, "per_seed": kept, "summary": summarize(kept)}


def _clean_table(harsh: dict, clean_runs: list[dict]) -> dict:
    """The clean runs of the harsh runs' methods and datasets, on the seeds the harsh runs
    of that dataset have (a clean mean over other seeds would not compare); ValueError
    when a clean run's settings differ from the harsh run's."""
    seeds: dict[tuple, set] = defaultdict(set)
    for (m, d), r in harsh.items():
        seeds[(m, split_name(d)[0])] |= {s["seed"] for s in r["per_seed"]}
    clean = {k: r for k, r in main_table(clean_runs).items() if k in seeds} if clean_runs else {}
    for (m, d), r in harsh.items():
        base = clean.get((m, split_name(d)[0]))
        if base is None:
            continue
        if not same_settings(base["config"], r["config"]):
            raise ValueError(
                f"{d} / {m} was run with other settings than its clean result "
                f"({base['dir']}); compare runs of one protocol"
            )
    return {k: _on_seeds(r, seeds[k]) for k, r in clean.items()}


def mixed_seeds(runs: dict) -> dict[str, list[int]]:
    """{base dataset: seeds whose records (any method, clean or corrupted) name more than
    one processor's vector flags}: a seed retrains to another result on another vector
    unit, so its clean - corrupted and method - method differences would mix the two.
    Records without the flags (written before they were recorded) name none."""
    flags: dict[tuple, set] = defaultdict(set)
    for (_, d), r in runs.items():
        for rec in r["per_seed"]:
            if rec.get("vector_flags") is not None:
                flags[(split_name(d)[0], rec["seed"])].add(tuple(rec["vector_flags"]))
    out: dict[str, list[int]] = defaultdict(list)
    for (base, seed), seen in sorted(flags.items()):
        if len(seen) > 1:
            out[base].append(seed)
    return dict(out)


def _points(runs: list[dict], clean_runs: list[dict]) -> dict:
    """{(method, dataset): run} of the corrupted runs and their clean results (``grid``)."""
    harsh = main_table([r for r in runs if split_name(r["dataset"])[1]])
    clean_runs = [*(r for r in runs if not split_name(r["dataset"])[1]), *clean_runs]
    return {**_clean_table(harsh, clean_runs), **harsh}


def grid(runs: list[dict], clean_runs: list[dict]) -> dict:
    """{base dataset: {(kind, level): {method: run}}} with the clean results (of the same
    datasets and methods, on the same seeds) at (None, 0.0); the table's point of each
    (method, data). Clean runs among ``runs`` count as clean results and come before those
    of ``clean_runs`` (their settings checked alike); a dataset with no corrupted run is
    left out, and so is every record of a seed that ``mixed_seeds`` names."""
    return _grid_of(_points(runs, clean_runs))


def _grid_of(points: dict) -> dict:
    """:func:`grid` of the points ``_points`` gives."""
    out: dict[str, dict] = defaultdict(dict)
    mixed = mixed_seeds(points)
    for (m, d), r in points.items():
        base, kind, level = split_name(d)
        if mixed.get(base):
            r = _on_seeds(r, {s["seed"] for s in r["per_seed"]} - set(mixed[base]))
        out[base].setdefault((kind, level), {})[m] = r
    return {
        b: dict(sorted(c.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])))
        for b, c in out.items()
    }


def _curve(points: dict, method: str) -> list[tuple[float, dict]]:
    """(level, ACC summary with the count of seeds that collapsed) of ``method`` at each
    of a panel's ``points`` ({(kind, level): {method: run}}), every point on the seeds all
    of them finished (a campaign under way has more seeds of some levels, and a seed that
    diverged at one level is left out of that level's mean: a line over other seeds would
    not compare); levels where every seed diverged are left out."""
    finished = {
        lv: set(_finished_acc(rs[method])) for (_, lv), rs in points.items() if method in rs
    }
    finished = {lv: f for lv, f in finished.items() if f}
    if not finished:
        return []
    seeds = set.intersection(*finished.values())
    runs = {lv: rs[method] for (_, lv), rs in points.items() if lv in finished}
    at = [(lv, _on_seeds(r, seeds)["summary"]) for lv, r in runs.items()]
    return [(lv, {**s["acc"], "collapsed": s.get("collapsed", 0)}) for lv, s in at if "acc" in s]


def _name(kind: Optional[str], level: float) -> str:
    return "clean" if kind is None else f"{kind} {number_text(level)}"


def _loss_less(method: dict, base: dict, method_clean: dict, base_clean: dict) -> list[float]:
    """Per seed: (clean - corrupted ACC) of ``base`` less that of ``method``."""
    now = dict(zip(paired_seeds(method, base), paired_acc(method, base)))
    before = dict(zip(paired_seeds(method_clean, base_clean), paired_acc(method_clean, base_clean)))
    return [now[s] - before[s] for s in sorted(now) if s in before]


def _losses(at: dict, clean: dict, method: str, base: str) -> Optional[list[float]]:
    """``_loss_less`` of ``method`` against ``base`` at one condition ``at`` ({method:
    run}) and its ``clean`` results; None where any of the four runs is missing."""
    if not all(k in r for r in (at, clean) for k in (method, base)):
        return None
    return _loss_less(at[method], at[base], clean[method], clean[base])


def _left_out(summary: dict) -> str:
    """The seeds a cell's mean leaves out (non-finite) or keeps though they collapsed."""
    marks = [
        f"{summary[k]} {name}"
        for k, name in (("stopped_nonfinite", "non-finite"), ("collapsed", "collapsed"))
        if summary.get(k)
    ]
    return f" [{', '.join(marks)}]" if marks else ""


def dataset_lines(base: str, conditions: dict) -> list[str]:
    """The Markdown tables of one dataset (module docstring)."""
    names = [_name(*c) for c in conditions]
    methods = sorted({m for runs in conditions.values() for m in runs}, key=_order)
    head = table_head("", names)
    clean = conditions.get((None, 0.0), {})
    lines = [f"### {base}", "", "ACC, mean ± sample std (seeds):", "", *head]
    for m in methods:
        cells = [
            _cell(c[m]["summary"], "acc") + _left_out(c[m]["summary"]) + _given(c[m])
            if m in c
            else "-"
            for c in conditions.values()
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if clean:
        lines += [
            "",
            "ACC lost against the clean result (clean - corrupted, same seeds):",
            "",
            *head,
        ]
        for m in methods:
            cells = [
                _paired_cell(paired_acc(clean[m], c[m])) if m in c and m in clean else "-"
                for c in conditions.values()
            ]
            cells[0] = "-"  # the clean column against itself
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Paired ACC (same seeds; seeds on which the first is ahead):", "", *head]
    for m, b in PAIRS:
        cells = [
            _paired_cell(paired_acc(c[m], c[b])) if m in c and b in c else "-"
            for c in conditions.values()
        ]
        lines.append(f"| {m} − {b} | " + " | ".join(cells) + " |")
        if clean.get(m) and clean.get(b):
            losses = [_losses(c, clean, m, b) for c in conditions.values()]
            cells = [_paired_cell(d) if d is not None else "-" for d in losses]
            cells[0] = "-"
            lines.append(f"| {b}'s loss − {m}'s loss | " + " | ".join(cells) + " |")
    return lines + [""]


def _ahead(diffs: list[float]) -> str:
    """``+mean (ahead on k of n)``: a paired mean and the seeds above zero, "-" for none."""
    if not diffs:
        return "-"
    return f"{np.mean(diffs):+.3f} ({sum(d > 0 for d in diffs)} of {len(diffs)})"


def summary_markdown(
    runs: list[dict], clean_runs: list[dict], folder: str, drawn: pathlib.Path
) -> str:
    """The verdict's table, a row per dataset and pair (``PAIRS``) and a column per
    condition, each cell paired by seed (mean and the seeds where it is above zero): the
    sparse method's ACC less the plain one's, then the plain method's ACC lost against
    clean less the sparse one's (``_loss_less``); then a link to every table
    (``<folder>/results.md``) and the figures ``<folder>/harsh_<dataset>.png`` on one line,
    those already drawn in the folder ``drawn`` (``folder`` as the document names it)."""
    from .plan_comparison import DATASET_LABELS, METHOD_LABELS

    table = grid(runs, clean_runs)
    bases = sorted(table, key=_dataset_order)
    conditions = sorted({c for b in bases for c in table[b] if c[0] is not None})
    head = (
        "Paired by seed: ACC, sparse − plain; ACC lost against clean, plain's − sparse's "
        "(> 0: the sparse one is ahead, loses less; seeds > 0 of those paired)"
    )
    lines = table_head(head, [_name(*c) for c in conditions])
    for b in bases:
        clean = table[b].get((None, 0.0), {})
        for m, p in PAIRS:
            cells = []
            for c in conditions:
                at = table[b].get(c, {})
                acc = paired_acc(at[m], at[p]) if m in at and p in at else []
                cells.append(f"{_ahead(acc)}; {_ahead(_losses(at, clean, m, p) or [])}")
            row = f"{DATASET_LABELS.get(b, b)}: {METHOD_LABELS[m]} vs {METHOD_LABELS[p]}"
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    figures = [
        f"![{DATASET_LABELS.get(b, b)}]({folder}/harsh_{b}.png)"
        for b in bases
        if (drawn / f"harsh_{b}.png").exists()
    ]
    links = " ".join([f"[Every table]({folder}/results.md):", *figures])
    return "\n".join([*lines, "", links]) + "\n"


def harsh_markdown(runs: list[dict], clean_runs: list[dict]) -> str:
    """The tables of every dataset (module docstring), in the paper's dataset order."""
    lines = [
        "Final iterate. Noise of each condition drawn once (seed 0), the same for every run; "
        "the clean column is the clean result at the same settings (the folder's own clean "
        "runs where it has them). A loss "
        "difference above zero means the first method of the pair lost less ACC than the "
        "second. [k non-finite]: seeds left out of the cell's mean and pairs; [k collapsed]: "
        "seeds in it whose clustering left under half the clusters non-empty.",
        "",
    ]
    points = _points(runs, clean_runs)
    for base, conditions in sorted(_grid_of(points).items(), key=lambda kv: _dataset_order(kv[0])):
        lines += dataset_lines(base, conditions)
    for base, seeds in mixed_seeds(points).items():
        lines.append(
            f"Left out of {base}'s tables: seed(s) {', '.join(map(str, seeds))}, whose runs "
            "were made on more than one processor (rerun them on one)."
        )
    unnamed = sum(rec.get("vector_flags") is None for r in points.values() for rec in r["per_seed"])
    if unnamed:
        lines.append(
            f"{unnamed} record(s) name no processor (written before it was recorded): the "
            "seeds that hold them could not be checked for runs made on two."
        )
    return "\n".join(lines)


def plot_harsh(
    runs: list[dict], clean_runs: list[dict], folder: pathlib.Path
) -> list[pathlib.Path]:
    """``harsh_<dataset>.png`` per dataset: ACC (mean ± std) against the level of each
    corruption (0: clean), one panel per corruption, one line per method, each line on the
    seeds all its points finished (``_curve``; a method with none is named in the panel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for base, conditions in grid(runs, clean_runs).items():
        kinds = sorted({k for k, _ in conditions if k is not None})
        methods = sorted({m for rs in conditions.values() for m in rs}, key=_order)
        fig, axes = plt.subplots(
            1, len(kinds), figsize=(4 * len(kinds), 3.9), squeeze=False, layout="constrained"
        )
        for ax, kind in zip(axes[0], kinds):
            points = {c: rs for c, rs in conditions.items() if c[0] in (None, kind)}
            missing = []  # methods with runs here but no seed finished at every level
            for i, m in enumerate(methods):
                at = _curve(points, m)
                if not at:
                    missing += [m] if any(m in rs for rs in points.values()) else []
                    continue
                ax.errorbar(
                    [lv for lv, _ in at],
                    [s["mean"] for _, s in at],
                    yerr=[s["std"] or 0.0 for _, s in at],
                    marker="o",
                    capsize=3,
                    color=f"C{i % 10}",
                    label=m,
                )
                hit = [(lv, s["mean"]) for lv, s in at if s["collapsed"]]
                if hit:  # a mean that holds a collapsed clustering
                    ax.plot(*zip(*hit), "kx", markersize=9, label="a seed collapsed")
            if missing:
                note = "no seed finished every level: " + ", ".join(missing)
                ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=7)
            ax.set_title(kind)
            ax.set_xlabel("level (0: clean)")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("ACC")
        legend: dict = {}  # one entry per label over every panel
        for ax in axes[0]:
            legend.update(zip(*reversed(ax.get_legend_handles_labels())))
        fig.legend(
            list(legend.values()), list(legend), loc="outside lower center", ncol=len(legend)
        )
        fig.suptitle(f"{base}: ACC under harsh conditions (mean ± std over seeds)")
        path = pathlib.Path(folder) / f"harsh_{base}.png"
        _save_fig(fig, path)
        plt.close(fig)
        written.append(path)
    return written

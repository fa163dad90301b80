"""One folder of results against another, paired by seed: for each dataset the mean ACC
of the base (e.g. ``results/paper``), of the compared folder (e.g. ``results/strong``) and
their paired difference, mean over seeds of (compared - base).

    python -m experiments.report results/strong --against=results/paper [--readme=README.md]

writes ``against_<base>.md`` into the compared folder and, with ``--readme``, fills the
document's block ``<!-- begin results/strong against results/paper -->``. A dataset is
shown once every method of it has run at least the base's seeds; until then it is named
below the table as in progress. Seeds that turned non-finite are left out of the pairs.
"""

from __future__ import annotations

import pathlib
from typing import Optional

import numpy as np

from dssec_jax import checkpoint

from .report import (
    _dataset_order,
    _finished_acc,
    _given,
    _order,
    collect,
    known_count,
    label_share,
    main_table,
    paired_seeds,
    table_head,
)

DATASET_LABELS = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "usps": "USPS",
    "coil20": "COIL-20",
}
METHOD_LABELS = {
    "kmeans": "K-means on pixels",
    "pca_kmeans": "PCA + K-means",
    "ae_kmeans": "AE + K-means",
    "sae_kmeans": "SAE + K-means",
    "lcae_kmeans": "LCAE + K-means",
    "dec": "DEC",
    "idec": "IDEC",
    "dssec": "DSSEC",
}


def against_part(base: str) -> str:
    """The part of a document block's name, after the folder's, that holds the folder's
    table against ``base`` (``<!-- begin results/strong against results/paper -->``)."""
    return f" against {base}"


def _complete(table: dict, base: dict, dataset: str) -> bool:
    """Whether every method of the compared folder that the base holds on ``dataset`` has
    run all of the base's seeds there (a seed that turned non-finite has run; it is left
    out of the pairs)."""
    methods = {m for m, _ in table}
    keys = [k for k in base if k[1] == dataset and k[0] in methods]
    return bool(keys) and all(
        k in table
        and {r["seed"] for r in base[k]["per_seed"]} <= {r["seed"] for r in table[k]["per_seed"]}
        for k in keys
    )


def _seed_counts(means: dict, datasets: list[str]) -> str:
    """``MNIST 3; USPS, COIL-20 5``: the paired seeds per dataset (a range where methods
    differ), equal counts grouped."""
    groups: dict[str, list[str]] = {}
    for d in datasets:
        ns = sorted({v[3] for (_, e), v in means.items() if e == d})
        n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
        groups.setdefault(n, []).append(DATASET_LABELS.get(d, d))
    return "; ".join(f"{', '.join(names)} {n}" for n, names in groups.items())


def _means(run: dict, base: dict) -> tuple[float, float, float, int]:
    """Mean ACC of ``base`` and of ``run`` on the seeds both finished, the mean of the
    paired differences (run - base), and how many seeds that is (NaN means for none)."""
    seeds = paired_seeds(run, base)
    if not seeds:
        return (float("nan"),) * 3 + (0,)
    a, b = _finished_acc(base), _finished_acc(run)
    return (
        float(np.mean([a[s] for s in seeds])),
        float(np.mean([b[s] for s in seeds])),
        float(np.mean([b[s] - a[s] for s in seeds])),
        len(seeds),
    )


def _best(means: dict, datasets: list[str], given: set) -> dict[str, str]:
    """Per dataset, the best compared mean as shown (3 decimals) over the rows that pair,
    but those of runs ``given`` labels (a semi-supervised row does not compete)."""
    return {
        d: max(
            (f"{v[1]:.3f}" for k, v in means.items() if k[1] == d and v[3] and k not in given),
            default="",
        )
        for d in datasets
    }


def _cells(means: dict, best: dict, datasets: list[str], method: str) -> list[str]:
    """One row's cells: per dataset base mean, compared mean (bold where it is ``best``
    as shown), paired difference; "-" where nothing pairs."""
    cells = []
    for d in datasets:
        v = means.get((method, d))
        if v is None or not v[3]:
            cells += ["-", "-", "-"]
            continue
        shown = f"{v[1]:.3f}"
        cells += [f"{v[0]:.3f}", f"**{shown}**" if shown == best[d] else shown, f"{v[2]:+.3f}"]
    return cells


def against_markdown(runs: list[dict], base_runs: list[dict], name: str, base_name: str) -> str:
    """The table of ``runs`` (folder ``name``) against ``base_runs`` (``base_name``): per
    dataset, mean ACC of each on the seeds both finished and the paired mean difference;
    the best of ``name``'s column in bold, of the unsupervised rows (a row given labels is
    marked ‡). Below it, the methods only ``name`` holds and the datasets still in
    progress."""
    table, base = main_table(runs), main_table(base_runs)
    shared = {d for _, d in base} & {d for _, d in table}
    datasets = sorted((d for d in shared if _complete(table, base, d)), key=_dataset_order)
    if not datasets:
        return f"No dataset of {name} has every method at the {base_name} seeds yet.\n"
    means = {k: _means(table[k], base[k]) for k in base if k in table and k[1] in datasets}
    columns = []
    for d in datasets:
        label = DATASET_LABELS.get(d, d)
        columns += [f"{label}, {base_name}", f"{label}, {name}", f"{name} - {base_name}, paired"]
    lines = table_head(f"ACC, mean over seeds ({_seed_counts(means, datasets)})", columns)
    given = {k for k in means if _given(table[k]) or _given(base[k])}
    best = _best(means, datasets, given)
    for m in sorted({m for m, _ in means}, key=_order):
        mark = " ‡" if any(k[0] == m for k in given) else ""
        cells = " | ".join(_cells(means, best, datasets, m))
        lines.append(f"| {METHOD_LABELS.get(m, m)}{mark} | {cells} |")
    notes = [_given_note(table, base, given, (name, base_name))] if given else []
    alone = sorted({m for m, _ in table} - {m for m, _ in base}, key=_order)
    if alone:
        notes.append(f"Not in {base_name}: {', '.join(METHOD_LABELS.get(m, m) for m in alone)}.")
    waiting = sorted(shared - set(datasets), key=_dataset_order)
    if waiting:
        names = ", ".join(DATASET_LABELS.get(d, d) for d in waiting)
        notes.append(f"In progress (not every method has the {base_name} seeds yet): {names}.")
    return "\n".join(lines + ([""] + [" ".join(notes)] if notes else [])) + "\n"


def _given_note(table: dict, base: dict, given: set, names: tuple[str, str]) -> str:
    """The ‡ note: the shares of labels the marked rows were given (and how many samples
    that was, where the records say), and their mean ACC on the samples whose label was not
    given (base / compared, on the paired seeds)."""
    runs = [r for k in given for r in (table[k], base[k]) if label_share(r)]
    shares = ", ".join(f"{100 * f:.3g} %" for f in sorted({label_share(r) for r in runs}))
    how = (
        ["stratified by class, drawn from the seed"]
        if all(r["config"].get("label_fraction") for r in runs)
        else []
    )
    cells, several = [], len({m for m, _ in given}) > 1
    counts: dict[str, str] = {}
    for m, d in sorted(given, key=lambda k: (_order(k[0]), _dataset_order(k[1]))):
        seeds = set(paired_seeds(table[(m, d)], base[(m, d)]))
        pair = [_unknown_acc(r, seeds) for r in (base[(m, d)], table[(m, d)])]
        label = DATASET_LABELS.get(d, d) + (f" {METHOD_LABELS.get(m, m)}" if several else "")
        cells.append(f"{label} " + " / ".join("-" if v is None else f"{v:.3f}" for v in pair))
        was, now = (known_count(r) for r in (base[(m, d)], table[(m, d)]))
        if now:
            counts[label] = now if was in ("", now) else f"{was} / {now}"
    if counts:
        how.append(", ".join(f"{d} {n}" for d, n in counts.items()))
    how_text = f" ({'; '.join(how)})" if how else ""
    return (
        f"‡ Given {shares} of the labels{how_text}: not in the "
        f"bold. Its ACC on the samples whose label was not given ({names[1]} / {names[0]}): "
        + ", ".join(cells)
        + "."
    )


def _unknown_acc(run: dict, seeds: set) -> Optional[float]:
    """Mean ``acc_unknown`` of ``run`` over ``seeds`` (None where no record has it)."""
    vals = [v for s, v in _finished_acc(run, "acc_unknown").items() if s in seeds]
    return float(np.mean(vals)) if vals else None


def write_against(folder: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    """Write ``folder``'s table against ``base`` to ``folder/against_<base name>.md``;
    returns its path."""
    path = folder / f"against_{base.name}.md"
    text = against_markdown(collect(folder), collect(base), folder.name, base.name)
    checkpoint.atomic_write_bytes(path, text.encode())
    return path

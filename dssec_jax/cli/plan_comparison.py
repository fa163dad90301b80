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

import numpy as np

from dssec_jax import checkpoint

from .report import (
    _dataset_order,
    _finished_acc,
    _order,
    collect,
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


def block_name(folder: str, base: str) -> str:
    """The document block that holds ``folder``'s table against ``base``."""
    return f"{folder} against {base}"


def _complete(table: dict, base: dict, dataset: str) -> bool:
    """Whether every method of ``dataset`` in both tables has run all of the base's seeds
    (a seed that turned non-finite has run; it is left out of the pairs)."""
    keys = [k for k in base if k[1] == dataset and k in table]
    return bool(keys) and all(
        {r["seed"] for r in base[k]["per_seed"]} <= {r["seed"] for r in table[k]["per_seed"]}
        for k in keys
    )


def _seed_counts(table: dict, base: dict, datasets: list[str]) -> str:
    """``MNIST 3; USPS, COIL-20 5``: the paired seeds per dataset, equal counts grouped."""
    groups: dict[int, list[str]] = {}
    for d in datasets:
        n = max(len(paired_seeds(table[k], base[k])) for k in base if k[1] == d and k in table)
        groups.setdefault(n, []).append(DATASET_LABELS.get(d, d))
    return "; ".join(f"{', '.join(names)} {n}" for n, names in groups.items())


def _means(run: dict, base: dict) -> tuple[float, float, float]:
    """Mean ACC of ``base`` and of ``run`` on the seeds both finished, and the mean of the
    paired differences (run - base)."""
    seeds = paired_seeds(run, base)
    a, b = _finished_acc(base), _finished_acc(run)
    return (
        float(np.mean([a[s] for s in seeds])),
        float(np.mean([b[s] for s in seeds])),
        float(np.mean([b[s] - a[s] for s in seeds])),
    )


def against_markdown(runs: list[dict], base_runs: list[dict], name: str, base_name: str) -> str:
    """The table of ``runs`` (folder ``name``) against ``base_runs`` (``base_name``): per
    dataset, mean ACC of each on the seeds both finished and the paired mean difference;
    the best of ``name``'s column in bold."""
    table, base = main_table(runs), main_table(base_runs)
    shared = {d for m, d in base if (m, d) in table}
    datasets = sorted((d for d in shared if _complete(table, base, d)), key=_dataset_order)
    waiting = sorted(shared - set(datasets), key=_dataset_order)
    means = {k: _means(table[k], base[k]) for k in base if k in table and k[1] in datasets}
    columns = []
    for d in datasets:
        label = DATASET_LABELS.get(d, d)
        columns += [f"{label}, {base_name}", f"{label}, {name}", f"{name} - {base_name}, paired"]
    first = f"ACC, mean over seeds ({_seed_counts(table, base, datasets)})" if datasets else "ACC"
    lines = table_head(first, columns)
    best = {d: max(v[1] for (_, e), v in means.items() if e == d) for d in datasets}
    for m in sorted({m for m, _ in means}, key=_order):
        cells = []
        for d in datasets:
            if (m, d) not in means:
                cells += ["-", "-", "-"]
                continue
            mean_a, mean_b, diff = means[(m, d)]
            shown = f"{mean_b:.3f}"
            cells += [
                f"{mean_a:.3f}",
                f"**{shown}**" if mean_b == best[d] else shown,
                f"{diff:+.3f}",
            ]
        lines.append(f"| {METHOD_LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    if waiting:
        names = ", ".join(DATASET_LABELS.get(d, d) for d in waiting)
        lines += ["", f"In progress (not every method has the {base_name} seeds yet): {names}."]
    return "\n".join(lines) + "\n"


def write_against(folder: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    """Write ``folder``'s table against ``base`` to ``folder/against_<base name>.md``;
    returns its path."""
    path = folder / f"against_{base.name}.md"
    text = against_markdown(collect(folder), collect(base), folder.name, base.name)
    checkpoint.atomic_write_bytes(path, text.encode())
    return path

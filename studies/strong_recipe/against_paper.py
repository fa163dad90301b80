"""The strong recipe against the paper protocol, unsupervised method by method (the ones
the default was decided on), paired by seed: on the
table datasets from the committed results (results/strong, results/paper), pooled over
them, and on the data outside the tables from the outside check's logs beside this file
(AE+K-means and SAE+K-means there are the K-means starts of IDEC's and DSSEC's runs: the
same pretraining and the same K-means).

    python -m studies.strong_recipe.against_paper > studies/strong_recipe/against_paper.md
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from dssec_jax.cli.report import METHOD_ORDER
from dssec_jax.methods import get_method

HERE = pathlib.Path(__file__).parent
TABLE = ("mnist", "fashion_mnist", "usps", "coil20")
SEEDS = {"mnist": 3, "fashion_mnist": 3, "usps": 5, "coil20": 5}  # the table's, per dataset
OUTSIDE = ("digits", "coil20_c10", "usps_c10")
# the unsupervised methods, on which the default was decided (a method given labels is not)
METHODS = [m for m in METHOD_ORDER if not get_method(m).semi_supervised]
# method -> (the screen's method, the field of its record that holds the method's ACC)
FROM_SCREEN = {
    "ae_kmeans": ("idec", "km"),
    "sae_kmeans": ("dssec", "km"),
    "dec": ("dec", "acc"),
    "idec": ("idec", "acc"),
    "dssec": ("dssec", "acc"),
}


def per_seed(plan: str, dataset: str, method: str) -> dict[int, float]:
    path = pathlib.Path("results") / plan / f"{dataset}_{method}" / "results.json"
    if not path.exists():
        return {}
    return {r["seed"]: r["acc"] for r in json.loads(path.read_text())["per_seed"]}


def screened(dataset: str, method: str) -> tuple[dict[int, float], dict[int, float]]:
    """Per seed ACC of ``method`` under the paper and the strong recipe in the outside
    check's log of ``dataset`` (the strong runs are those that set ``init``)."""
    name, field = FROM_SCREEN[method]
    out: tuple[dict[int, float], dict[int, float]] = ({}, {})
    for line in (HERE / f"{dataset}.log").read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r["kw"]["method"] == name:
                out["init" in r["kw"]][r["seed"]] = r[field]
    return out


def paired(a: dict[int, float], b: dict[int, float]) -> np.ndarray:
    """b - a on the seeds both hold."""
    return np.array([b[s] - a[s] for s in sorted(set(a) & set(b))])


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main():
    print(row("dataset", "method", "paper protocol", "strong recipe", "strong - paper, paired"))
    print("|---|---|---|---|---|")
    pooled: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for ds in TABLE:
        # a dataset enters the pooled rows when every method has all its seeds in
        done = all(
            len(paired(per_seed("paper", ds, m), per_seed("strong", ds, m))) >= SEEDS[ds]
            for m in FROM_SCREEN
        )
        for m in METHODS:
            a, b = per_seed("paper", ds, m), per_seed("strong", ds, m)
            d = paired(a, b)
            if not len(d):
                continue
            if done:
                pooled[m].append(d)
            seeds = sorted(set(a) & set(b))
            pa, pb = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
            print(
                row(
                    ds,
                    m,
                    f"{pa.mean():.3f} ± {pa.std(ddof=1):.3f}",
                    f"{pb.mean():.3f} ± {pb.std(ddof=1):.3f}",
                    f"{d.mean():+.3f} ± {d.std(ddof=1):.3f} ({int(np.sum(d > 0))} of {len(d)})",
                )
            )
    print()
    print("Pooled over the table datasets with all their seeds in (each dataset's mean paired")
    print("difference weighs the same; seeds ahead over every dataset) and outside them")
    print("(digits, 10 images per class of COIL-20 and of USPS; seeds 0-2 each):")
    print()
    print(row("method", "table datasets", "datasets", "outside the tables", "by data set"))
    print("|---|---|---|---|---|")
    for m in METHODS:
        if m not in FROM_SCREEN or not pooled[m]:
            continue
        ds_means = [d.mean() for d in pooled[m]]
        every = np.concatenate(pooled[m])
        out = [paired(*screened(ds, m)) for ds in OUTSIDE]
        flat = np.concatenate(out)
        print(
            row(
                m,
                f"{np.mean(ds_means):+.3f} (ahead on {int(np.sum(every > 0))} of {len(every)})",
                len(ds_means),
                f"{np.mean([d.mean() for d in out]):+.3f} "
                f"(ahead on {int(np.sum(flat > 0))} of {len(flat)})",
                ", ".join(f"{ds} {d.mean():+.3f}" for ds, d in zip(OUTSIDE, out)),
            )
        )


if __name__ == "__main__":
    main()

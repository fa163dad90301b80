"""Which label-free rule picks the best of R restarts? Evaluated on the committed runs of
the paper-protocol table (results/paper: DEC, IDEC, DSSEC; 5 seeds on USPS and COIL-20,
3 on MNIST and Fashion-MNIST), no training. For each group (dataset, method) and rule:
the chosen ACC against the group's mean, median and best.

    python -m studies.restart_rules.evaluate [--results=results/paper] > studies/restart_rules/paper.md
    python -m studies.restart_rules.evaluate --results=results/strong --datasets=usps,coil20 \
        > studies/restart_rules/strong.md
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib

import numpy as np

from dssec_jax import restarts
from dssec_jax.data import load_dataset
from dssec_jax.metrics import cluster_acc

DATASETS = ("mnist", "fashion_mnist", "usps", "coil20")
METHODS = ("dec", "idec", "dssec")


def group(results: pathlib.Path, dataset: str, method: str):
    """Each seed's labels and final losses of one committed point."""
    out = []
    for d in sorted((results / f"{dataset}_{method}").glob("seed_*")):
        with np.load(d / "labels.npz") as f:
            labels = f["labels"].astype(np.int64)
        hist = json.loads(gzip.decompress((d / "history.json.gz").read_bytes()))
        out.append((labels, hist["cluster"][-1]["loss"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="results/paper")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    args = ap.parse_args()
    results = pathlib.Path(args.results)
    rows = []
    for ds_name in args.datasets.split(","):
        ds = load_dataset(ds_name)
        space = restarts.common_space(ds.x)
        for method in METHODS:
            runs = group(results, ds_name, method)
            if len(runs) < 2:
                continue
            labelings = [lab for lab, _ in runs]
            accs = np.array([cluster_acc(ds.y, lab) for lab in labelings])
            row = {"group": f"{ds_name} {method}", "R": len(runs), "mean": accs.mean()}
            row |= {"median": float(np.median(accs)), "best": accs.max(), "worst": accs.min()}
            for rule in restarts.RULES:
                _, labels, _ = restarts.choose(
                    rule, labelings, ds.n_clusters, [loss for _, loss in runs], space
                )
                row[rule] = cluster_acc(ds.y, labels)
            rows.append(row)
            print(json.dumps(row), flush=True)
    head = ["group", "R", "mean", "median", "best", *restarts.RULES]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print(
            "| "
            + " | ".join(f"{r[h]:.3f}" if isinstance(r[h], float) else str(r[h]) for h in head)
            + " |"
        )
    print(
        "\n| rule | groups at or above the mean | mean difference to the mean | worst difference |\n|---|---|---|---|"
    )
    for rule in restarts.RULES:
        d = np.array([r[rule] - r["mean"] for r in rows])
        print(
            f"| {rule} | {int(np.sum(d >= -1e-12))} of {len(d)} | {d.mean():+.4f} | {d.min():+.4f} |"
        )


if __name__ == "__main__":
    main()

"""Does choosing among restarts without labels give the same good answer more often? For a
dataset and method at the library defaults: G independent groups of R runs (seeds
g R .. g R + R - 1), each answered by the consensus rule; the spread (sample std) of the
G answers' ACC against the spread of the G R single runs' ACC.

    python -m studies.restart_rules.spread --dataset=coil20 --method=dssec --groups=4 --runs=5
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from dssec_jax import DSSEC, restarts
from dssec_jax.data import load_dataset
from dssec_jax.metrics import cluster_acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="coil20")
    ap.add_argument("--method", default="dssec")
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--recipe", default="paper")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    singles, answers = [], {rule: [] for rule in restarts.RULES if rule != "loss"}
    answers["loss"] = []
    for g in range(args.groups):
        t = time.time()
        est = DSSEC(
            n_clusters=ds.n_clusters,
            method=args.method,
            recipe=args.recipe,
            random_state=g * args.runs,
            n_restarts=args.runs,
        ).fit(ds.x)
        labelings = [r["labels"] for r in est.restarts_]
        losses = [r["loss"] for r in est.restarts_]
        accs = [cluster_acc(ds.y, lab) for lab in labelings]
        singles += accs
        space = restarts.common_space(ds.x)
        for rule in answers:
            _, labels, _ = restarts.choose(
                rule, labelings, ds.n_clusters, losses, space, g * args.runs
            )
            answers[rule].append(cluster_acc(ds.y, labels))
        print(
            json.dumps(
                {
                    "group": g,
                    "single_acc": accs,
                    "consensus": cluster_acc(ds.y, est.labels_),
                    **{r: a[-1] for r, a in answers.items()},
                    "seconds": round(time.time() - t),
                }
            ),
            flush=True,
        )
    s = np.std(singles, ddof=1)
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "method": args.method,
                "single_mean": np.mean(singles),
                "single_std": s,
                **{f"{r}_mean": np.mean(a) for r, a in answers.items()},
                **{f"{r}_std": np.std(a, ddof=1) for r, a in answers.items()},
            }
        )
    )


if __name__ == "__main__":
    main()

"""The strong recipe against the paper protocol, method by method, paired by seed, from the
committed results (results/strong, results/paper).

    python -m studies.strong_recipe.against_paper > studies/strong_recipe/against_paper.md
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from dssec_jax.cli.report import METHOD_ORDER


def per_seed(plan: str, dataset: str, method: str) -> dict[int, float]:
    path = pathlib.Path("results") / plan / f"{dataset}_{method}" / "results.json"
    if not path.exists():
        return {}
    return {r["seed"]: r["acc"] for r in json.loads(path.read_text())["per_seed"]}


def main():
    print(
        "| dataset | method | paper protocol | strong recipe | strong - paper, paired (seeds ahead) |"
    )
    print("|---|---|---|---|---|")
    for ds in ("mnist", "fashion_mnist", "usps", "coil20"):
        for m in METHOD_ORDER:
            a, b = per_seed("paper", ds, m), per_seed("strong", ds, m)
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            pa, pb = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
            d = pb - pa
            print(
                f"| {ds} | {m} | {pa.mean():.3f} ± {pa.std(ddof=1):.3f} | "
                f"{pb.mean():.3f} ± {pb.std(ddof=1):.3f} | {d.mean():+.3f} ± {d.std(ddof=1):.3f} "
                f"({int(np.sum(d > 0))} of {len(d)}) |"
            )


if __name__ == "__main__":
    main()

"""The harsh verdict with the embedding-scale rule held fixed.

Reads the harsh campaign's runs (``results/harsh``: IDEC at scale 1.5, DSSEC at the
kernel rule) and this study's reruns (``screen.sh``: IDEC at the kernel rule, DSSEC at
1.5, on the same cached autoencoders), and prints per dataset and condition, paired by
seed: ACC of each, and IDEC's ACC lost against its clean run less DSSEC's (> 0: DSSEC
loses less) for the campaign's pair and for the pair at each single rule.

    python -m studies.harsh_scale_rule_control.summarize > studies/harsh_scale_rule_control/summary.log
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = pathlib.Path(
    os.environ.get(
        "WORK", pathlib.Path.home() / ".cache/dssec_jax/studies/harsh_scale_rule_control"
    )
)
CONDITIONS = ("clean", "gaussian0.3", "noise_features1", "occlusion0.4", "salt_pepper0.3")
SEEDS = (0, 1, 2)


def acc(folder: pathlib.Path, seed: int) -> float:
    return json.loads((folder / f"seed_{seed}" / "result.json").read_text())["acc"]


def runs(dataset: str, cond: str) -> dict:
    """{(method, rule): [ACC per seed]} at one condition."""
    name = dataset if cond == "clean" else f"{dataset}_{cond}"
    out = {}
    for method, rule in (("idec", "1.5"), ("dssec", "kernel")):
        out[(method, rule)] = [acc(ROOT / "results/harsh" / f"{name}_{method}", s) for s in SEEDS]
    for method, rule in (("idec", "kernel"), ("dssec", "1.5")):
        out[(method, rule)] = [acc(WORK / f"{name}_{method}_embed_std{rule}", s) for s in SEEDS]
    return out


def loss_gap(clean: dict, bad: dict, idec: tuple, dssec: tuple) -> str:
    """IDEC's loss less DSSEC's, mean over seeds (seeds where DSSEC loses less)."""
    d = [
        (clean[idec][i] - bad[idec][i]) - (clean[dssec][i] - bad[dssec][i])
        for i in range(len(SEEDS))
    ]
    return f"{np.mean(d):+.3f} ({sum(v > 0 for v in d)} of {len(d)})"


def main() -> None:
    pairs = {
        "campaign (IDEC 1.5, DSSEC kernel)": (("idec", "1.5"), ("dssec", "kernel")),
        "both kernel": (("idec", "kernel"), ("dssec", "kernel")),
        "both 1.5": (("idec", "1.5"), ("dssec", "1.5")),
    }
    for dataset in ("usps", "coil20"):
        clean = runs(dataset, "clean")
        print(f"## {dataset}: mean ACC over seeds {SEEDS}")
        print("| condition | IDEC 1.5 | IDEC kernel | DSSEC 1.5 | DSSEC kernel |")
        print("|---|---|---|---|---|")
        for cond in CONDITIONS:
            r = runs(dataset, cond)
            keys = (("idec", "1.5"), ("idec", "kernel"), ("dssec", "1.5"), ("dssec", "kernel"))
            print(f"| {cond} | " + " | ".join(f"{np.mean(r[k]):.3f}" for k in keys) + " |")
        print(f"\n## {dataset}: IDEC's ACC lost less DSSEC's (> 0: DSSEC loses less)")
        print("| condition | " + " | ".join(pairs) + " |")
        print("|---|" + "---|" * len(pairs))
        for cond in CONDITIONS[1:]:
            bad = runs(dataset, cond)
            cells = [loss_gap(clean, bad, *p) for p in pairs.values()]
            print(f"| {cond} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()

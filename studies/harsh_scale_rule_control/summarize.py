"""The harsh verdict with the embedding-scale rule held fixed.

Reads the harsh campaign's runs (``results/harsh``: IDEC at scale 1.5, DSSEC at the
kernel rule) and this study's reruns (``screen.sh``: IDEC at the kernel rule, DSSEC at
1.5, on the same cached autoencoders), and prints per dataset and condition, paired by
seed (the seeds every run has finished): ACC of each, and IDEC's ACC lost against its clean run less DSSEC's (> 0: DSSEC
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


RULES = (("idec", "1.5"), ("idec", "kernel"), ("dssec", "1.5"), ("dssec", "kernel"))


def folder(name: str, method: str, rule: str) -> pathlib.Path:
    """The campaign's run (IDEC at 1.5, DSSEC at the kernel rule) or this study's."""
    if (method, rule) in (("idec", "1.5"), ("dssec", "kernel")):
        return ROOT / "results/harsh" / f"{name}_{method}"
    return WORK / f"{name}_{method}_embed_std{rule}"


def seeds_of(dataset: str) -> list[int]:
    """The seeds every method, rule and condition of ``dataset`` has finished."""
    names = [dataset if c == "clean" else f"{dataset}_{c}" for c in CONDITIONS]
    return [
        s
        for s in range(5)
        if all((folder(n, *r) / f"seed_{s}" / "result.json").exists() for n in names for r in RULES)
    ]


def runs(dataset: str, cond: str, seeds: list[int]) -> dict:
    """{(method, rule): [ACC per seed]} at one condition."""
    name = dataset if cond == "clean" else f"{dataset}_{cond}"
    out = {}
    for r in RULES:
        path = folder(name, *r)
        out[r] = [json.loads((path / f"seed_{s}/result.json").read_text())["acc"] for s in seeds]
    return out


def loss_gap(clean: dict, bad: dict, idec: tuple, dssec: tuple) -> str:
    """IDEC's loss less DSSEC's, mean over seeds (seeds where DSSEC loses less)."""
    d = [
        (clean[idec][i] - bad[idec][i]) - (clean[dssec][i] - bad[dssec][i])
        for i in range(len(clean[idec]))
    ]
    return f"{np.mean(d):+.3f} ({sum(v > 0 for v in d)} of {len(d)})"


def main() -> None:
    pairs = {
        "campaign (IDEC 1.5, DSSEC kernel)": (("idec", "1.5"), ("dssec", "kernel")),
        "both kernel": (("idec", "kernel"), ("dssec", "kernel")),
        "both 1.5": (("idec", "1.5"), ("dssec", "1.5")),
    }
    for dataset in ("usps", "coil20"):
        seeds = seeds_of(dataset)
        clean = runs(dataset, "clean", seeds)
        print(f"## {dataset}: mean ACC over seeds {', '.join(map(str, seeds))}")
        print("| condition | IDEC 1.5 | IDEC kernel | DSSEC 1.5 | DSSEC kernel |")
        print("|---|---|---|---|---|")
        for cond in CONDITIONS:
            r = runs(dataset, cond, seeds)
            print(f"| {cond} | " + " | ".join(f"{np.mean(r[k]):.3f}" for k in RULES) + " |")
        print(f"\n## {dataset}: IDEC's ACC lost less DSSEC's (> 0: DSSEC loses less)")
        print("| condition | " + " | ".join(pairs) + " |")
        print("|---|" + "---|" * len(pairs))
        for cond in CONDITIONS[1:]:
            bad = runs(dataset, cond, seeds)
            cells = [loss_gap(clean, bad, *p) for p in pairs.values()]
            print(f"| {cond} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()

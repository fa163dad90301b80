"""Paired comparison of screen results: every setting against a baseline, seed by seed.

    python -m studies.compare coil20=runs/screens/coil20_questions.log \
        usps=runs/screens/usps_questions.log,runs/screens/usps_more.log

Reads the JSON lines that ``studies.screen`` prints (for the same setting and seed a
later line wins), pairs each setting's runs with the baseline's (``--baseline``) on the
same dataset and seed, and prints a Markdown table: the mean difference
d = metric(setting) - metric(baseline) per dataset, and over all (dataset, seed) pairs
mean(d) ± s(d) / sqrt(n) (standard error) and how many pairs are better / worse.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
from absl import flags

from dssec_jax.cli import common

flags.DEFINE_string(
    "baseline",
    '{"method": "dssec"}',
    "the setting (JSON overrides as in the screen's grid) every other setting is compared with",
)
flags.DEFINE_enum("metric", "acc", ["acc", "nmi", "ari", "km"], "the metric compared")
FLAGS = flags.FLAGS


def setting_key(kw: dict) -> str:
    """One canonical string per setting (key order does not matter)."""
    return json.dumps(kw, sort_keys=True)


def read_screen_logs(paths) -> dict[str, dict[int, dict]]:
    """{setting: {seed: row}} from the per-run JSON lines of screen logs."""
    out: dict[str, dict[int, dict]] = {}
    for p in paths:
        try:
            lines = pathlib.Path(p).read_text().splitlines()
        except OSError as e:
            raise ValueError(f"cannot read screen log {p} ({e.strerror}); check the path") from e
        for i, ln in enumerate(lines, 1):
            if ln.startswith("{"):
                try:
                    row = json.loads(ln)
                    out.setdefault(setting_key(row["kw"]), {})[row["seed"]] = row
                except (json.JSONDecodeError, KeyError) as e:
                    raise ValueError(
                        f"{p}, line {i} is not a screen result ({e}); "
                        "remove it or pass the screen's own output"
                    ) from e
    return out


def paired(
    results: dict[str, dict[str, dict[int, dict]]], baseline: dict, metric: str = "acc"
) -> list[dict]:
    """Per setting: {"setting", "per_dataset": {name: (mean d, pairs)}, "mean", "se", "n",
    "better", "worse"}, d = metric(setting) - metric(baseline) on the same dataset and seed."""
    base = setting_key(baseline)
    settings = sorted({k for runs in results.values() for k in runs if k != base})
    rows = []
    for key in settings:
        per, diffs = {}, []
        for name, runs in results.items():
            seeds = sorted(set(runs.get(key, {})) & set(runs.get(base, {})))
            d = [runs[key][s][metric] - runs[base][s][metric] for s in seeds]
            if d:
                per[name] = (float(np.mean(d)), len(d))
                diffs += d
        if diffs:
            se = (
                float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else math.nan
            )
            rows.append(
                {
                    "setting": key,
                    "per_dataset": per,
                    "mean": float(np.mean(diffs)),
                    "se": se,
                    "n": len(diffs),
                    "better": sum(x > 0 for x in diffs),
                    "worse": sum(x < 0 for x in diffs),
                }
            )
    return rows


def markdown(rows: list[dict], datasets: list[str], metric: str) -> str:
    """The table ``paired`` describes, one line per setting."""
    head = [
        "| setting | " + " | ".join(datasets) + " | all pairs: mean ± SE | better / worse |",
        "|---|" + "---|" * (len(datasets) + 2),
    ]
    body = []
    for r in rows:
        cells = [
            f"{r['per_dataset'][d][0]:+.3f} ({r['per_dataset'][d][1]})"
            if d in r["per_dataset"]
            else ""
            for d in datasets
        ]
        body.append(
            f"| {r['setting']} | "
            + " | ".join(cells)
            + f" | {r['mean']:+.3f} ± {r['se']:.3f} ({r['n']}) | {r['better']} / {r['worse']} |"
        )
    title = f"Paired {metric.upper()} differences, setting - baseline (pairs in brackets)"
    return "\n".join([title, ""] + head + body)


def main(argv):
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        raise ValueError("usage: python -m studies.compare NAME=LOG[,LOG...] ...")
    results = {}
    for arg in argv[1:]:
        name, paths = arg.split("=", 1)
        results[name] = read_screen_logs(paths.split(","))
    rows = paired(results, json.loads(FLAGS.baseline), FLAGS.metric)
    if not rows:
        raise ValueError(
            f"no setting shares a seed with the baseline {FLAGS.baseline} in these logs"
        )
    print(markdown(rows, list(results), FLAGS.metric))


if __name__ == "__main__":
    common.run_cli(main, positional=True)

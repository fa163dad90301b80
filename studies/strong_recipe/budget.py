"""The strong recipe's pretraining budget, paired by seed: 300 epochs against 200, from the
logs of ``budget_screen.sh`` beside this file (K-means starts, "km", are AE+K-means for
IDEC's runs and SAE+K-means for DSSEC's).

    python -m studies.strong_recipe.budget
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent


def records(dataset: str) -> dict[tuple[str, int], dict[int, dict]]:
    """{(method, epochs): {seed: record}} of the budget log of ``dataset``."""
    out: dict[tuple[str, int], dict[int, dict]] = {}
    for line in (HERE / f"budget_{dataset}.log").read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            key = (r["kw"]["method"], r["kw"].get("pretrain_epochs", 200))
            out.setdefault(key, {})[r["seed"]] = r
    return out


def main():
    print(
        "| dataset | method | field | 200 epochs | 300 epochs | 300 - 200, paired (seeds ahead) |"
    )
    print("|---|---|---|---|---|---|")
    pooled: dict[tuple[str, str], list[float]] = {}
    for ds in ("coil20", "usps"):
        rec = records(ds)
        for m in ("idec", "dssec"):
            a, b = rec.get((m, 200), {}), rec.get((m, 300), {})
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            for field, name in (("km", "K-means start"), ("acc", "final ACC")):
                x = np.array([a[s][field] for s in seeds])
                y = np.array([b[s][field] for s in seeds])
                d = y - x
                pooled.setdefault((m, name), []).append(float(d.mean()))
                print(
                    f"| {ds} | {m} | {name} | {x.mean():.3f} | {y.mean():.3f} | "
                    f"{d.mean():+.3f} ({int(np.sum(d > 0))} of {len(d)}) |"
                )
    print()
    for (m, name), means in pooled.items():  # each dataset's paired mean weighs the same
        print(f"pooled over {len(means)} datasets: {m} {name} {np.mean(means):+.4f}")


if __name__ == "__main__":
    main()

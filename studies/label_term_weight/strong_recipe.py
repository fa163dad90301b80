"""Does the label term train finite under the strong recipe on the table's datasets?
LCAE+K-means at 10 % known labels (the table's share, drawn from the run's seed), each
label_weight given, the strong recipe's full pretraining; one JSON line per run: ACC of
K-means on the code over the samples whose label was not given, or the error.

    python -m studies.label_term_weight.strong_recipe --dataset=coil20 --seeds=0,1,2 \
        --weights=0.1,0.03
"""

from __future__ import annotations

import argparse
import json
import time

from dssec_jax import fit
from dssec_jax.data import load_dataset
from dssec_jax.labels import reveal
from dssec_jax.metrics import cluster_acc
from dssec_jax.presets import recipe_config
from dssec_jax.validation import NonFiniteLossError


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="coil20")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--weights", default="0.1,0.03")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    for weight in map(float, args.weights.split(",")):
        for seed in map(int, args.seeds.split(",")):
            known = reveal(ds.y, 0.1, seed)
            cfg = recipe_config(
                "strong", "lcae_kmeans", n_clusters=ds.n_clusters, label_weight=weight
            )
            t = time.time()
            row = {"dataset": args.dataset, "label_weight": weight, "seed": seed}
            try:
                res = fit(ds.x, cfg, seed=seed, known=known)
                rest = known < 0
                row["acc_unknown"] = round(cluster_acc(ds.y[rest], res.labels[rest]), 4)
            except NonFiniteLossError as e:
                row["error"] = str(e).split(";")[0]
            row["s"] = round(time.time() - t, 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

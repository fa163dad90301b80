"""How strong may the label term be? LCAE+K-means on digits (the one dataset outside the
tables) at 1 % and 10 % known labels, label_weight 0.1, 0.3 and 1, under the strong recipe
(SGD at learning rate 1, momentum 0.9) and the paper recipe (Adam), 30 pretraining
epochs; ACC of K-means on the code over the samples whose label was not given.

    python -m studies.label_term_weight.grid > studies/label_term_weight/digits.log
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.datasets import load_digits

from dssec_jax import fit
from dssec_jax.labels import reveal
from dssec_jax.metrics import cluster_acc
from dssec_jax.presets import recipe_config
from dssec_jax.validation import NonFiniteLossError


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    for recipe in ("strong", "paper"):
        for fraction in (0.01, 0.1):
            for weight in (0.1, 0.3, 1.0):
                cfg = recipe_config(
                    recipe,
                    "lcae_kmeans",
                    n_clusters=10,
                    pretrain_epochs=30,
                    n_init=3,
                    label_weight=weight,
                )
                known = reveal(y, fraction, 0)
                rest = known < 0
                row = dict(recipe=recipe, fraction=fraction, label_weight=weight)
                try:
                    res = fit(x, cfg, 0, known=known)
                    last = res.pretrain_history[-1]
                    row.update(
                        labels=round(last["labels"], 4),
                        reconstruction=round(last["reconstruction"], 4),
                        acc_unknown=round(cluster_acc(y[rest], res.labels[rest]), 3),
                    )
                except NonFiniteLossError as e:
                    row["nonfinite"] = str(e)[:80]
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

"""Does the sparse autoencoder ignore inputs that carry nothing, as the paper argues?

Appends round(r d) inputs of uniform noise to every sample (``noise_features:r``, noise
seed 0), pretrains the plain (AE+K-means) and the sparse (SAE+K-means) autoencoder at a
recipe, and measures for each:

- weight share: the first encoder layer's squared weight mass on the noise inputs
  (``sae.input_weight_share``), against r / (1 + r) for weights spread evenly;
- code sensitivity: the noise inputs drawn again (seed 1), the mean squared change of the
  embedding over its total variance, sum ||z' - z||^2 / sum ||z - mean z||^2 (0: the code
  ignores the noise inputs);
- ACC of K-means on the embedding.

    python -m studies.noise_input_weight_mass.measure --dataset=usps --seeds=0,1,2

One JSON line per (method, seed) on stdout.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from dssec_jax import DSSEC, sae
from dssec_jax.data import load_dataset
from dssec_jax.data.corrupt import corrupt_dataset
from dssec_jax.metrics import cluster_acc


def measure(method: str, ds, noisy, redrawn, n_real: int, seed: int, recipe: str) -> dict:
    est = DSSEC(n_clusters=ds.n_clusters, method=method, recipe=recipe, random_state=seed)
    t = time.time()
    est.fit(noisy.x)
    z, z2 = est.transform(noisy.x), est.transform(redrawn.x)
    d = noisy.x.shape[1]
    return {
        "dataset": noisy.name,
        "method": method,
        "seed": seed,
        "recipe": recipe,
        "weight_share_noise": sae.input_weight_share(est.params_, np.arange(n_real, d)),
        "even_share": (d - n_real) / d,
        "code_sensitivity": float(np.sum((z2 - z) ** 2) / np.sum((z - z.mean(0)) ** 2)),
        "acc": float(cluster_acc(ds.y, est.labels_)),
        "seconds": round(time.time() - t, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="usps")
    p.add_argument("--ratio", type=float, default=1.0)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--recipe", default="strong")
    p.add_argument("--methods", default="ae_kmeans,sae_kmeans")
    a = p.parse_args()
    ds = load_dataset(a.dataset)
    spec = f"noise_features:{a.ratio:g}"
    noisy, redrawn = corrupt_dataset(ds, spec, seed=0), corrupt_dataset(ds, spec, seed=1)
    n_real = ds.x.shape[1]
    assert np.array_equal(noisy.x[:, :n_real], redrawn.x[:, :n_real])  # only the noise differs
    for seed in map(int, a.seeds.split(",")):
        for method in a.methods.split(","):
            rec = measure(method, ds, noisy, redrawn, n_real, seed, a.recipe)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()

"""The eigengap (and Davies-Bouldin, silhouette) on curved synthetic
shapes: three concentric noisy rings of 72 or 150 points each (true k 3), two moons and
two concentric circles (scikit-learn, true k 2), k_range (2, 10), seed 0.

    python studies/choosing_k/synthetic_shapes.py > studies/choosing_k/synthetic_shapes.log
"""

import json

import numpy as np
from sklearn.datasets import make_circles, make_moons

from dssec_jax.choose_k import choose_k


def rings(n_per, radii=(1.0, 2.0, 3.0), seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for r in radii:
        t = rng.uniform(0, 2 * np.pi, n_per)
        parts.append(np.c_[r * np.cos(t), r * np.sin(t)] + rng.normal(0, 0.05, (n_per, 2)))
    return np.concatenate(parts)


SHAPES = {
    "rings_72": (rings(72), 3),
    "rings_150": (rings(150), 3),
    "moons_400": (make_moons(400, noise=0.05, random_state=0)[0], 2),
    "circles_400": (make_circles(400, noise=0.03, factor=0.4, random_state=0)[0], 2),
}
for name, (x, true_k) in SHAPES.items():
    chosen = {
        c: choose_k(x, (2, 10), 0, c)[0] for c in ("eigengap", "davies_bouldin", "silhouette")
    }
    print(json.dumps({"shape": name, "true_k": true_k, **chosen}), flush=True)

"""Your own data: a NumPy array in memory, or a .npz/.mat/.h5 file on disk.

python examples/own_data.py
"""

import pathlib
import tempfile

import numpy as np
from _budget import budget
from sklearn.datasets import make_blobs

from dssec_jax import DSSEC
from dssec_jax.data import load_dataset

# 1. an array in memory: rows are samples; scale features to a common range first
x, y = make_blobs(n_samples=600, n_features=50, centers=4, random_state=0)
x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
est = DSSEC(
    n_clusters=4,
    method="idec",
    hidden_dims=(64, 64, 128),
    random_state=0,
    **budget(pretrain_epochs=50),
)
print("clusters found:", np.bincount(est.fit_predict(x)))

# 2. a file: load_dataset reads .npz/.mat/.h5 (name the arrays with x_key/y_key)
with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp) / "mine.npz"
    np.savez(path, features=x, classes=y)
    ds = load_dataset(str(path), x_key="features", y_key="classes")
    print(ds.name, ds.x.shape, "classes:", ds.n_clusters)

"""Save a fitted model to one file and load it elsewhere: predict and transform as before.

python examples/save_load.py
"""

import pathlib
import tempfile

import numpy as np
from _budget import budget
from sklearn.datasets import load_digits

from dssec_jax import DSSEC

x = (load_digits().data / 16.0).astype("float32")
est = DSSEC(n_clusters=10, method="idec", random_state=0, **budget(pretrain_epochs=100)).fit(x)
with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp) / "digits.dssec"
    est.save(path)
    again = DSSEC.load(path)
print("same predictions after loading:", np.array_equal(again.predict(x), est.predict(x)))

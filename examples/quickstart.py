"""Cluster scikit-learn's handwritten digits with DSSEC (no download needed).

python examples/quickstart.py
"""

from _budget import budget
from sklearn.datasets import load_digits

from dssec_jax import DSSEC, evaluate

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")  # pixels in [0, 1]

est = DSSEC(n_clusters=10, method="dssec", random_state=0, **budget(pretrain_epochs=200))
labels = est.fit_predict(x)
print("ACC/NMI/ARI:", {k: round(v, 3) for k, v in evaluate(y, labels).items()})
print("embedding:", est.transform(x).shape, "stopped by:", est.stop_reason_)

"""When the number of clusters is unknown: n_clusters="auto" picks k within k_range on
the pretrained embedding, without labels.

    python examples/choose_k.py
"""

from _budget import budget
from sklearn.datasets import load_digits

from dssec_jax import DSSEC

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
est = DSSEC(
    n_clusters="auto",
    k_range=(5, 15),
    method="sae_kmeans",
    random_state=0,
    **budget(pretrain_epochs=200),
)
est.fit(x)
print("chosen k:", est.n_clusters_, "(true: 10)")
print("criterion per k:", {k: round(v, 3) for k, v in est.k_scores_.items()})

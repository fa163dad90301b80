"""Why occlusion takes every method to about a third of its clean ACC on COIL-20: does it
break the data's neighbourhoods before any embedding sees them? For each harsh condition
(noise seed 0, as the campaign draws it): the share of samples whose nearest neighbour
in pixel space (Euclidean) shows the same class, and the mean distance to the nearest
sample of the same class over the mean distance to the nearest of another class. Then,
under occlusion, what K-means on the pixels (k classes, 10 starts) follows: NMI of its
clusters with the class and with the block's place (drawn again as the transform draws
it) and, for chance, with the places shuffled; and the same NMIs of every method's final
clusters in the harsh campaign's committed runs (`results/harsh`, seed 0).

    python -m studies.occlusion_neighbours.measure --data_dir=../shared/data > studies/occlusion_neighbours/measure.log
"""

from __future__ import annotations

import pathlib

import numpy as np
from absl import app
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from dssec_jax.cli.campaign import HARSH_CONDITIONS
from dssec_jax.cli.common import FLAGS  # --data_dir
from dssec_jax.data import load_dataset
from dssec_jax.data.corrupt import corrupt_dataset, corrupted_name, parse


def neighbours(x: np.ndarray, y: np.ndarray, chunk: int = 1024) -> tuple[float, float]:
    """(share whose nearest other sample has the same class, mean over samples of the
    nearest same-class distance / the nearest other-class distance)."""
    sq = (x * x).sum(1)
    same_nn, ratios = 0, []
    for i in range(0, len(x), chunk):
        d = sq[i : i + chunk, None] + sq[None] - 2.0 * x[i : i + chunk] @ x.T
        d[np.arange(d.shape[0]), np.arange(i, i + d.shape[0])] = np.inf  # not itself
        same = y[i : i + chunk, None] == y[None]
        same_nn += int(np.sum(same[np.arange(d.shape[0]), d.argmin(1)]))
        near_same = np.sqrt(np.maximum(np.where(same, d, np.inf).min(1), 0))
        near_other = np.sqrt(np.maximum(np.where(same, np.inf, d).min(1), 0))
        ratios.append(near_same / near_other)
    return same_nn / len(x), float(np.concatenate(ratios).mean())


def main(_):
    print(
        "| dataset | condition | nearest neighbour of the same class | same / other class distance |"
    )
    print("|---|---|---|---|")
    for name in ("usps", "coil20"):
        ds = load_dataset(name, data_dir=FLAGS.data_dir)
        for spec in ("clean", *HARSH_CONDITIONS):
            x = ds.x if spec == "clean" else corrupt_dataset(ds, spec).x
            share, ratio = neighbours(np.asarray(x, np.float32), np.asarray(ds.y))
            print(f"| {name} | {spec} | {share:.3f} | {ratio:.3f} |")
    what_kmeans_follows()
    what_the_methods_follow()


def block_place(n: int, shape: tuple, area: float, seed: int = 0) -> np.ndarray:
    """Where each sample's block lies, as ``corrupt`` draws it: its top-left corner's cell
    in a 4 x 5 grid of the corners it can take (20 places, as many as COIL-20's classes);
    the block's size as ``corrupt`` rounds it on these square images."""
    h, w = shape[:2]
    bh = min(h, max(1, int(round(h * np.sqrt(area)))))
    bw = min(w, max(1, int(round(area * h * w / bh))))
    rng = np.random.default_rng(seed)
    top = rng.integers(0, h - bh + 1, n)
    left = rng.integers(0, w - bw + 1, n)
    return top * 4 // (h - bh + 1) * 5 + left * 5 // (w - bw + 1)


def what_kmeans_follows():
    print()
    print(
        "| dataset | condition | K-means NMI with the class | with the block's place "
        "| with the places shuffled (chance) |"
    )
    print("|---|---|---|---|---|")
    for name in ("usps", "coil20"):
        ds = load_dataset(name, data_dir=FLAGS.data_dir)
        for spec in ("clean", "occlusion:0.2", "occlusion:0.4"):
            x = ds.x if spec == "clean" else corrupt_dataset(ds, spec).x
            km = KMeans(ds.n_clusters, n_init=10, random_state=0).fit_predict(x)
            if spec == "clean":
                print(f"| {name} | {spec} | {nmi(ds.y, km):.3f} | - | - |")
                continue
            place = block_place(len(x), ds.image_shape, parse(spec)[1])
            chance = nmi(np.random.default_rng(1).permutation(place), km)
            print(
                f"| {name} | {spec} | {nmi(ds.y, km):.3f} | {nmi(place, km):.3f} | {chance:.3f} |"
            )


def what_the_methods_follow(results: pathlib.Path = pathlib.Path("results/harsh")):
    print()
    print("| dataset | condition | method | NMI with the class | with the block's place |")
    print("|---|---|---|---|---|")
    for name in ("usps", "coil20"):
        ds = load_dataset(name, data_dir=FLAGS.data_dir)
        for spec in ("occlusion:0.2", "occlusion:0.4"):
            place = block_place(len(ds.x), ds.image_shape, parse(spec)[1])
            for method in ("kmeans", "ae_kmeans", "sae_kmeans", "dec", "idec", "dssec"):
                run = results / f"{corrupted_name(name, spec)}_{method}" / "seed_0" / "labels.npz"
                if not run.exists():
                    continue
                labels = np.load(run)["labels"]
                print(
                    f"| {name} | {spec} | {method} | {nmi(ds.y, labels):.3f} "
                    f"| {nmi(place, labels):.3f} |"
                )


if __name__ == "__main__":
    app.run(main)

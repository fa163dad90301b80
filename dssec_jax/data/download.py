"""Explicit downloads (never implicit): a pinned checksum, written atomically to the cache."""

from __future__ import annotations

import hashlib
import os
import pathlib
import urllib.request

from ..checkpoint import atomic_write_bytes
from .formats import DataError, verify_checksum

# name -> list of (file name, url, algorithm, digest of the downloaded bytes)
SOURCES = {
    "usps": [
        (
            "usps.bz2",
            "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
            "md5",
            "ec16c51db3855ca6c91edd34d0e9b197",
        ),
        (
            "usps.t.bz2",
            "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
            "md5",
            "8ea070ee2aca1ac39742fdd1ef5ed118",
        ),
    ],
}
# MNIST-style mirrors; the downloaded .gz files are checked by the sha256 of their content.
IDX_MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def fetch(
    url: str,
    dest: str | os.PathLike,
    algo: str,
    digest: str,
    decompress=None,
    timeout: float = 60.0,
) -> pathlib.Path:
    """Download ``url`` to ``dest`` if the ``algo`` digest of the bytes (of
    ``decompress(bytes)`` when given) equals ``digest``; nothing is written otherwise."""
    dest = pathlib.Path(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            data = r.read()
        content = data if decompress is None else decompress(data)
    except Exception as e:
        raise DataError(
            f"download of {url} failed ({type(e).__name__}: {e}); check the network "
            f"or place the file at {dest} yourself"
        ) from e
    verify_checksum(url, content, digest, algo, fix="nothing was written")
    atomic_write_bytes(dest, data)
    return dest


def tfds_arrays(name: str) -> dict:
    """{"train": (x, y), "test": (x, y)} of ``name`` through tensorflow-datasets (``tfds``
    extra); x uint8 (n, 28, 28), y uint8, rows in :func:`fixed_order`."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise DataError(
            "tensorflow-datasets is not installed; pip install 'dssec_jax[tfds]' or "
            "download without it (download=True uses the public mirrors)"
        ) from e
    import numpy as np

    out = {}
    for split in ("train", "test"):  # in batches: batch_size=-1 aborts TF 2.21 on mock data
        batches = list(tfds.as_numpy(tfds.load(name, split=split, batch_size=10000)))
        y = np.concatenate([b["label"] for b in batches]).astype(np.uint8)
        x = np.concatenate([b["image"] for b in batches]).reshape(len(y), 28, 28)
        order = fixed_order(x, y)
        out[split] = (x[order], y[order])
    return out


def fixed_order(x, y):
    """The permutation sorting the rows (x_i, y_i) by sha256(y_i byte + x_i bytes): one
    order for every ordering of the same rows. tensorflow-datasets stores MNIST and
    Fashion-MNIST shuffled, so its rows are put in this order to be checked by a pinned
    digest (``registry.TFDS_SHA256``); it is not the order of the files as distributed."""
    import numpy as np

    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8 or y.min() < 0 or y.max() > 255:
        raise ValueError("fixed_order takes uint8 images and labels in 0..255")
    rows = np.concatenate([y.astype(np.uint8).reshape(-1, 1), x.reshape(len(y), -1)], axis=1)
    keys = [hashlib.sha256(r.tobytes()).digest() for r in rows]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)

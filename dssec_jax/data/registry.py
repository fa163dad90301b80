"""Dataset registry: built-in names and users' own files, as one clean record."""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import warnings
from typing import Optional, Sequence

import numpy as np

from ..validation import beyond_float32
from . import download as dl
from .formats import (
    DataError,
    idx_content,
    open_maybe_compressed,
    parse_idx,
    parse_libsvm,
    read_h5,
    read_idx,
    read_mat,
    read_npz,
    read_usps_h5,
    verify_checksum,
)

CACHE_DIR = (
    pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "dssec_jax"
)
DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")

# sha256 of the decompressed IDX content, as distributed.
IDX_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
# sha256 of the IDX content written from tensorflow-datasets: the same rows as the files
# distributed, in ``download.fixed_order`` (tfds stores them shuffled).
TFDS_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "f3477cbf6071fb7e2df712cbac41f4a4eeb46da95efc004e048783bddf622c3c",
        "train-labels-idx1-ubyte": "8e5ffb4517b8626f79bc851d3dddcf467ad49317591087709583e88ee195b4c8",
        "t10k-images-idx3-ubyte": "db142d79e3dad59689a32938bed63929e8e57e3d6b887f4e3d8b1209db80efdf",
        "t10k-labels-idx1-ubyte": "1e249db6e316cbcdf7c033d75deb30606135de74239fae533c2eea89dffa0332",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "d0d5d6d5b2a86cb03e548a9609096ee8039eb6558787cefda55f97fb579aabd8",
        "train-labels-idx1-ubyte": "baf4c1d5c71b4048f813daeb91a69bea1e98ada2e1c479cef28a13cd366afec4",
        "t10k-images-idx3-ubyte": "a938aaaa12dd0dea46a223d79a57b0a17cd2023b467d85791f2c51d1a2e45bf8",
        "t10k-labels-idx1-ubyte": "2b2dd560978ecae4ca5857237c6f310ca26caf71d5a7645f3dd3ed272b5ea7a7",
    },
}
FILE_SHA256 = {
    "usps.h5": "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36",
    "COIL20_32x32.mat": "2a35c105dbb327492b90389e55612bcbf39187bc7c408252239903e4ce7d6958",
}
BUILTIN = ("digits", "mnist", "fashion_mnist", "usps", "coil20")
SPLITS = ("all", "train", "test")


@dataclasses.dataclass
class Dataset:
    """x float32 (n, d); y int32 (n,) or None; image_shape for plots; source = files read."""

    x: np.ndarray
    y: Optional[np.ndarray]
    name: str
    image_shape: Optional[tuple]
    n_clusters: int | str  # "auto" for an unlabeled file loaded with n_clusters="auto"
    source: str = ""

    def __post_init__(self):
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(
                f"{self.name}: {len(self.y)} labels for {len(self.x)} samples; "
                "pass one label per sample"
            )
        if not np.all(np.isfinite(self.x)):
            raise DataError(f"{self.name}: data contains NaN or infinite values; clean the file")


def search_dirs(
    data_dir: Optional[os.PathLike] = None, name: Optional[str] = None
) -> list[pathlib.Path]:
    """Where files are looked for, in order: data_dir, $DSSEC_DATA_DIR, the user cache
    (~/.cache/dssec_jax), and Debian's fashion-mnist folder for Fashion-MNIST."""
    roots = []
    if data_dir is not None:
        roots.append(pathlib.Path(data_dir))
    if os.environ.get("DSSEC_DATA_DIR"):
        roots.append(pathlib.Path(os.environ["DSSEC_DATA_DIR"]))
    roots.append(CACHE_DIR)
    dirs = []
    for r in roots:
        dirs += [r / name, r] if name else [r]
    if name == "fashion_mnist":
        dirs.append(DEBIAN_FASHION)
    return dirs


def _find(candidates: Sequence[str], dirs: Sequence[pathlib.Path]) -> Optional[pathlib.Path]:
    for d in dirs:
        for c in candidates:
            if (d / c).is_file():
                return d / c
    return None


def _missing(name: str, files: Sequence[str], dirs: Sequence[pathlib.Path], fix: str) -> DataError:
    where = "\n  ".join(str(d) for d in dirs)
    return DataError(
        f"dataset {name!r}: could not find {' / '.join(files)} in any of:\n  {where}\nFix: {fix}"
    )


def _fix(name: str) -> str:
    common = (
        f"put the files in <dir>/{name}/ and pass data_dir=<dir> (--data_dir) or set DSSEC_DATA_DIR"
    )
    if name in ("mnist", "fashion_mnist", "usps"):
        return common + ", or download them with download=True (--download)"
    return common + (
        " (COIL20_32x32.mat, Deng Cai's 32x32 COIL-20 file with arrays fea and gnd, has no "
        "pinned download: the Datasets section of docs/guide.md gives its layout)"
    )


def _select(split: str, parts: dict) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {SPLITS}")
    keys = ("train", "test") if split == "all" else (split,)
    return (
        np.concatenate([parts[k][0] for k in keys]),
        np.concatenate([parts[k][1] for k in keys]),
    )


def _load_idx_dataset(name: str, split: str, dirs, download: bool, verify: bool):
    stems = [
        f"{p}-{k}" for p in ("train", "t10k") for k in ("images-idx3-ubyte", "labels-idx1-ubyte")
    ]
    paths = {stem: _find([stem + ".gz", stem], dirs) for stem in stems}
    for stem in stems:
        if paths[stem] is None and download:
            paths[stem], from_tfds = _download_idx(name, stem, verify)
            if from_tfds:  # all four written from tfds: one order for images and labels
                paths = {s: CACHE_DIR / name / f"{s}.gz" for s in stems}
    found = {stem: p for stem, p in paths.items() if p is not None}
    if missing := [stem for stem in stems if stem not in found]:
        raise _missing(name, [missing[0] + ".gz", missing[0]], dirs, _fix(name))
    parts = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        x, y = _read_idx_pair(
            name, found[f"{prefix}-images-idx3-ubyte"], found[f"{prefix}-labels-idx1-ubyte"], verify
        )
        parts[part] = (x.reshape(len(x), -1), y)
    x, y = _select(split, parts)
    return x.astype(np.float32) / 255.0, y, (28, 28)


def _read_idx_pair(name: str, images: pathlib.Path, labels: pathlib.Path, verify: bool):
    """The (images, labels) IDX files of one part of ``name``; with ``verify`` each must be
    the file distributed or the one written from tensorflow-datasets (``TFDS_SHA256``),
    and both the same: their rows are in two orders."""
    data = [open_maybe_compressed(p) for p in (images, labels)]
    if verify:
        sources = set()
        for path, content in zip((images, labels), data):
            stem = path.name.removesuffix(".gz")
            accepted = (IDX_SHA256[name][stem], TFDS_SHA256[name][stem])
            sources.add(accepted.index(verify_checksum(path, content, accepted)))
        if len(sources) > 1:
            raise DataError(
                f"{images} and {labels} hold their rows in two orders (one file as "
                "distributed, one written from tensorflow-datasets), so images and labels "
                "would not match; delete both and obtain them again"
            )
    return parse_idx(data[0], images), parse_idx(data[1], labels)


def _download_idx(name: str, base: str, verify: bool) -> tuple[pathlib.Path, bool]:
    """(path, whether from tfds): the file ``base`` of ``name`` from its public mirror
    (checked by its pinned sha256); if that fails and tensorflow-datasets is installed,
    the four files written from it."""
    dest = CACHE_DIR / name / (base + ".gz")
    try:
        path = dl.fetch(
            dl.IDX_MIRRORS[name] + base + ".gz",
            dest,
            "sha256",
            IDX_SHA256[name][base],
            gzip.decompress,
        )
        return path, False
    except DataError as failed:
        try:
            import tensorflow_datasets  # noqa: F401
        except ImportError:
            raise failed from None
        warnings.warn(f"{failed}; trying tensorflow-datasets")
    return _idx_from_tfds(name, base, verify), True


def _idx_from_tfds(name: str, base: str, verify: bool) -> pathlib.Path:
    """Write the four IDX files of ``name`` from tensorflow-datasets into the cache, rows in
    ``download.fixed_order`` (not the order of the files distributed: a seed's result on
    them differs from one on those), each checked by ``TFDS_SHA256`` before it is written
    (unless ``verify`` is False)."""
    from ..checkpoint import atomic_write_bytes

    files = {}
    for prefix, (x, y) in zip(("train", "t10k"), dl.tfds_arrays(name).values()):
        img, lab = idx_content(x, y)
        files.update({f"{prefix}-images-idx3-ubyte": img, f"{prefix}-labels-idx1-ubyte": lab})
    for stem, content in files.items():
        where = f"tensorflow-datasets' {name} ({stem})"
        fix = "nothing was written; place the files as distributed in the cache yourself"
        verify_checksum(where, content, TFDS_SHA256[name][stem] if verify else None, fix=fix)
    for stem, content in files.items():
        atomic_write_bytes(CACHE_DIR / name / f"{stem}.gz", gzip.compress(content))
    return CACHE_DIR / name / (base + ".gz")


def usps_from_libsvm(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LIBSVM USPS (values in [-1, 1], labels 1..10) -> values in [0, 1], digits 0..9."""
    return ((x + 1.0) / 2.0).astype(np.float32), (y - 1).astype(np.int32)


def _usps_sources(dirs) -> tuple[Optional[pathlib.Path], Optional[list]]:
    """The first folder holding usps.h5 or both LIBSVM files: (h5 path, None) or (None, [train, test])."""
    for d in dirs:
        if (d / "usps.h5").is_file():
            return d / "usps.h5", None
        pair = [d / "usps.bz2", d / "usps.t.bz2"]
        if all(p.is_file() for p in pair):
            return None, pair
    return None, None


def _load_usps(split: str, dirs, download: bool, verify: bool):
    h5, pair = _usps_sources(dirs)
    if h5 is None and pair is None and download:
        pair = [
            dl.fetch(url, CACHE_DIR / "usps" / fname, algo, digest)
            for fname, url, algo, digest in dl.SOURCES["usps"]
        ]
    if h5 is not None:
        if verify:
            verify_checksum(h5, h5.read_bytes(), FILE_SHA256["usps.h5"])
        xtr, ytr, xte, yte = read_usps_h5(h5)
        parts = {"train": (xtr, ytr), "test": (xte, yte)}
        source = str(h5)
    elif pair is not None:
        parts = {
            k: usps_from_libsvm(*parse_libsvm(open_maybe_compressed(p), 256, p))
            for k, p in zip(("train", "test"), pair)
        }
        source = str(pair[0])
    else:
        raise _missing("usps", ["usps.h5", "usps.bz2 + usps.t.bz2"], dirs, _fix("usps"))
    x, y = _select(split, parts)
    return np.asarray(x, np.float32), np.asarray(y).ravel(), (16, 16), source


def _load_coil20(split: str, dirs, verify: bool):
    if split != "all":
        raise DataError("coil20 has no train/test split; use split='all'")
    path = _find(["COIL20_32x32.mat"], dirs)
    if path is None:
        raise _missing("coil20", ["COIL20_32x32.mat"], dirs, _fix("coil20"))
    if verify:
        verify_checksum(path, path.read_bytes(), FILE_SHA256["COIL20_32x32.mat"])
    x, y = read_mat(path, "fea", "gnd")
    assert y is not None  # read_mat was given a y_key
    n = x.shape[0]
    # stored column-major: reorder so rows reshape to (32, 32) in C order
    x = x.reshape(n, 32, 32, order="F").reshape(n, 1024)
    return x.astype(np.float32), y.ravel() - 1, (32, 32)


def _load_digits(split: str):
    if split != "all":
        raise DataError("digits has no train/test split; use split='all'")
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target, (8, 8)


def load_builtin(
    name: str, *, data_dir=None, split: str = "all", download: bool = False, verify: bool = True
) -> Dataset:
    """One of :data:`BUILTIN`; see :func:`load_dataset`."""
    dirs = search_dirs(data_dir, name)
    if name == "digits":
        x, y, shape = _load_digits(split)
        src = "sklearn.datasets.load_digits"
    elif name in ("mnist", "fashion_mnist"):
        x, y, shape = _load_idx_dataset(name, split, dirs, download, verify)
        src = str(_find(["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"], dirs))
    elif name == "usps":
        x, y, shape, src = _load_usps(split, dirs, download, verify)
    elif name == "coil20":
        x, y, shape = _load_coil20(split, dirs, verify)
        src = str(_find(["COIL20_32x32.mat"], dirs))
    else:
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN)} "
            "or pass a path to your own .npz/.mat/.h5/IDX file"
        )
    y = np.asarray(y).astype(np.int32)
    return Dataset(np.ascontiguousarray(x, np.float32), y, name, shape, int(len(np.unique(y))), src)


def _class_labels(y: np.ndarray, n: int, path) -> np.ndarray:
    """The true classes of a file's samples, numbered 0..C-1 in their sorted order; a
    DataError for a count unlike the samples' or a missing (NaN) label, a warning for -1
    (the library's mark of an unknown label in ``known_labels``: here it is a class)."""
    if len(y) != n:
        raise DataError(f"{path}: {len(y)} labels for {n} samples; pass one label per sample")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise DataError(
            f"{path}: {int(np.isnan(y).sum())} labels are NaN; a dataset's labels are the true "
            "classes of every sample: drop the unlabelled samples (a few known labels go to "
            "fit(known_labels=...), -1 where unknown)"
        )
    if y.dtype.kind in "iuf" and (y == -1).any():
        warnings.warn(
            f"{path}: {int((y == -1).sum())} labels are -1, counted as a class of their own "
            "(if they mark unlabelled samples, drop them: a few known labels go to "
            "fit(known_labels=...))",
            stacklevel=3,
        )
    return np.unique(y, return_inverse=True)[1].astype(np.int32)


def load_file(
    path: str | os.PathLike,
    *,
    x_key: Optional[str] = None,
    y_key: Optional[str] = None,
    labels_path: Optional[os.PathLike] = None,
    n_clusters: Optional[int] = None,
    image_shape: Optional[tuple] = None,
) -> Dataset:
    """A user's file: ``.npz``, ``.mat``, ``.h5``/``.hdf5`` or IDX (``labels_path`` for its labels)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"file {path} does not exist; check the path")
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".npz"):
        x, y = read_npz(path, x_key, y_key)
    elif suffixes.endswith(".mat"):
        x, y = read_mat(path, x_key, y_key)
    elif suffixes.endswith((".h5", ".hdf5")):
        x, y = read_h5(path, x_key or "x", y_key)
    elif "idx" in path.name or "ubyte" in path.name:
        x, y = read_idx(path), None
    else:
        raise DataError(f"{path}: unknown file type; use .npz, .mat, .h5/.hdf5 or an IDX file")
    if labels_path is not None:
        lp = pathlib.Path(labels_path)
        y = (
            read_idx(lp)
            if ("idx" in lp.name or "ubyte" in lp.name)
            else np.loadtxt(lp, dtype=np.int64)
        )
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: data has dtype {x.dtype}; expected numbers")
    if x.ndim == 0 or x.size == 0:
        raise DataError(
            f"{path}: data of shape {x.shape} holds no values; expected (samples, features...)"
        )
    if image_shape is None and x.ndim > 2:
        image_shape = tuple(x.shape[1:])
    if (big := beyond_float32(x)) is not None:
        raise DataError(
            f"{path}: values up to {big:.3g}, beyond float32's range (the library "
            "computes in float32); rescale the data, e.g. to [0, 1]"
        )
    scale = 255.0 if x.dtype == np.uint8 else 1.0  # 8-bit images -> [0, 1]
    x = x.reshape(len(x), -1).astype(np.float32) / scale
    if y is not None:
        y = _class_labels(np.asarray(y).ravel(), len(x), path)
        y = y.astype(np.int32)
    k = n_clusters if n_clusters is not None else (None if y is None else int(y.max() + 1))
    if k is None:
        raise DataError(
            f"{path} has no labels: give the number of clusters (n_clusters= / --n_clusters, "
            "an integer or auto)"
        )
    return Dataset(x, y, path.stem, image_shape, k if k == "auto" else int(k), str(path))


def load_dataset(
    name_or_path: str,
    *,
    data_dir: Optional[os.PathLike] = None,
    split: str = "all",
    download: bool = False,
    verify: bool = True,
    **file_kw,
) -> Dataset:
    """Load a built-in dataset by name, or a user's file by path.

    Built-ins (x float32, y int32): ``digits`` (x / 16), ``mnist`` and ``fashion_mnist``
    (x / 255; train + test = 70,000 by default, ``split="train"``/``"test"``), ``usps``
    (usps.h5 in [0, 1], or LIBSVM usps.bz2 mapped (v + 1) / 2; 9,298), ``coil20``
    (COIL20_32x32.mat; labels 0..19). Files are looked for in :func:`search_dirs`;
    ``download=True`` fetches missing MNIST / Fashion-MNIST / USPS files with pinned checksums.
    For own files, ``file_kw`` goes to :func:`load_file` (x_key, y_key, labels_path, n_clusters).
    """
    if name_or_path in BUILTIN:
        return load_builtin(
            name_or_path, data_dir=data_dir, split=split, download=download, verify=verify
        )
    if os.sep in str(name_or_path) or pathlib.Path(name_or_path).suffix:
        return load_file(name_or_path, **file_kw)
    raise DataError(
        f"unknown dataset {name_or_path!r}; choose one of {', '.join(BUILTIN)} "
        "or pass a path to your own .npz/.mat/.h5/IDX file"
    )

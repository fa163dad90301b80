"""Readers for the file formats of the built-in datasets and of users' own files.

Every reader raises :class:`DataError` (a ValueError) naming the file and what is wrong.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import pathlib
import struct
import zlib
from typing import Optional

import numpy as np


class DataError(ValueError):
    """A data file is missing, corrupt or not in the expected layout."""


def open_maybe_compressed(path: str | os.PathLike) -> bytes:
    """File content, transparently decompressing ``.gz`` and ``.bz2``."""
    path = pathlib.Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            return gzip.decompress(raw)
        if path.suffix == ".bz2":
            return bz2.decompress(raw)
        return raw
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is truncated or corrupt ({type(e).__name__}: {e}); "
            "delete it and obtain the file again"
        ) from e


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_checksum(
    path: str | os.PathLike,
    data: bytes,
    expected: Optional[str | tuple[str, ...]],
    algo: str = "sha256",
    fix: str = "the file is damaged or a different version: delete it and obtain it again",
) -> Optional[str]:
    """Raise DataError (ending in ``fix``) if ``data``'s digest differs from ``expected``
    (one digest, or a tuple of those accepted; skipped when None); else return the digest."""
    if expected is None:
        return None
    accepted = (expected,) if isinstance(expected, str) else expected
    got = hashlib.new(algo, data).hexdigest()
    if got not in accepted:
        want = accepted[0] if len(accepted) == 1 else f"one of {', '.join(accepted)}"
        raise DataError(f"checksum mismatch for {path}: {algo} {got}, expected {want}; {fix}")
    return got


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode IDX bytes (magic 0x0000TTNN: type TT, NN dimensions, big-endian sizes)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {data[:4].hex()}); "
            "expected MNIST-style IDX, gzipped or raw"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])  # type: ignore[call-overload]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path}: IDX body has {len(data) - header} bytes, header says {expected} "
            f"for shape {shape}; the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def idx_content(images: np.ndarray, labels: np.ndarray) -> tuple[bytes, bytes]:
    """The IDX content (not compressed) of uint8 ``images`` (n, h, w) and ``labels`` (n,)."""
    n, h, w = images.shape
    img = struct.pack(">I3I", 0x00000803, n, h, w) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">II", 0x00000801, n) + labels.astype(np.uint8).tobytes()
    return img, lab


def read_idx(
    path: str | os.PathLike, sha256_expected: Optional[str | tuple[str, ...]] = None
) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw); verify the decompressed content if a checksum (or
    a tuple of those accepted) is given."""
    data = open_maybe_compressed(path)
    verify_checksum(path, data, sha256_expected)
    return parse_idx(data, path)


def read_h5(
    path: str | os.PathLike, x_key: str, y_key: Optional[str]
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Arrays ``x_key`` (and ``y_key``) of an HDF5 file; keys may be paths like ``train/data``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in (x_key, y_key) if k is not None and k not in f]
            if missing:
                raise DataError(
                    f"{path} has no dataset(s) {missing}; it holds {_h5_names(f)}. "
                    "Name the arrays with x_key=/y_key= (--x_key/--y_key)"
                )
            x = np.asarray(f[x_key])
            y = None if y_key is None else np.asarray(f[y_key])
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path} is not a readable HDF5 file ({type(e).__name__}: {e})") from e
    return x, y


def _h5_names(f) -> list[str]:
    names = []
    f.visit(lambda n: names.append(n) if hasattr(f[n], "shape") else None)
    return names


def read_usps_h5(
    path: str | os.PathLike,
) -> tuple[np.ndarray, Optional[np.ndarray], np.ndarray, Optional[np.ndarray]]:
    """(x_train, y_train, x_test, y_test) of the ``usps.h5`` layout (train/data, train/target, ...)."""
    xtr, ytr = read_h5(path, "train/data", "train/target")
    xte, yte = read_h5(path, "test/data", "test/target")
    return xtr, ytr, xte, yte


def parse_libsvm(
    data: bytes, n_features: int, path: str | os.PathLike = "<bytes>"
) -> tuple[np.ndarray, np.ndarray]:
    """Dense (x, y) from LIBSVM text ``label idx:value ...`` (1-based indices; absent = 0),
    read by scikit-learn's ``load_svmlight_file``."""
    from sklearn.datasets import load_svmlight_file

    try:
        x, y = load_svmlight_file(io.BytesIO(data), n_features=n_features)
    except ValueError as e:
        raise DataError(f"{path} is not LIBSVM format ({e})") from e
    return x.toarray(), y.astype(np.int64)


def read_mat(
    path: str | os.PathLike, x_key: Optional[str] = None, y_key: Optional[str] = None
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Arrays of a MATLAB ``.mat`` file: named, or ``fea``/``gnd``, ``X``/``Y``, ``x``/``y``, ``data``/``labels``."""
    from scipy.io import loadmat

    try:
        m = loadmat(path)
    except Exception as e:
        raise DataError(f"{path} is not a readable MATLAB file ({type(e).__name__}: {e})") from e
    names = [k for k in m if not k.startswith("__")]
    if x_key is None:
        for xk, yk in (("fea", "gnd"), ("X", "Y"), ("x", "y"), ("data", "labels")):
            if xk in m:
                x_key, y_key = xk, (y_key or (yk if yk in m else None))
                break
    if x_key is None or x_key not in m:
        raise DataError(
            f"{path} has no recognisable data variable (found {names}); "
            "name it with x_key= / --x_key (and y_key= / --y_key for labels)"
        )
    if y_key is not None and y_key not in m:
        raise DataError(f"{path} has no variable {y_key!r} (found {names})")
    return np.asarray(m[x_key]), None if y_key is None else np.asarray(m[y_key])


def read_npz(
    path: str | os.PathLike, x_key: Optional[str] = None, y_key: Optional[str] = None
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Arrays of an ``.npz`` file: named, or ``x``/``y`` (also ``X``/``Y``, ``data``/``labels``)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            names = list(f.files)
            if x_key is None:
                for xk, yk in (("x", "y"), ("X", "Y"), ("data", "labels")):
                    if xk in names:
                        x_key, y_key = xk, (y_key or (yk if yk in names else None))
                        break
            if x_key is None or x_key not in names or (y_key is not None and y_key not in names):
                raise DataError(
                    f"{path} holds arrays {names}; name the data and labels with "
                    "x_key= / y_key= (--x_key / --y_key)"
                )
            return f[x_key], None if y_key is None else f[y_key]
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path} is not a readable .npz file ({type(e).__name__}: {e})") from e

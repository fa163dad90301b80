import bz2
import gzip
import hashlib
import os
import struct
import sys
import types

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from dssec_jax.data import DataError, formats, load_dataset, registry, search_dirs
from dssec_jax.data import download as dl
from dssec_jax.data.registry import FILE_SHA256, usps_from_libsvm

USPS_COUNTS = [1553, 1269, 929, 824, 852, 716, 834, 792, 708, 821]


def test_digits_always_available():
    d = load_dataset("digits")
    assert d.x.shape == (1797, 64) and d.x.dtype == np.float32 and d.y.dtype == np.int32
    assert d.x.min() == 0 and d.x.max() == 1 and d.n_clusters == 10 and d.image_shape == (8, 8)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_builtins(name, data_dir):
    d = load_dataset(name, data_dir=data_dir)  # verify=True checks all four sha256 sums
    assert d.x.shape == (70000, 784) and d.x.dtype == np.float32 and d.y.dtype == np.int32
    assert d.x.min() == 0.0 and d.x.max() == 1.0 and d.image_shape == (28, 28)
    counts = np.bincount(d.y)
    assert len(counts) == 10 and d.n_clusters == 10 and counts.sum() == 70000
    if name == "fashion_mnist":
        assert np.all(counts == 7000)
    else:
        assert counts[1] == 7877 and counts[5] == 6313
    tr = load_dataset(name, data_dir=data_dir, split="test")
    assert tr.x.shape == (10000, 784)
    np.testing.assert_array_equal(tr.x, d.x[60000:])


def test_usps_builtin(data_dir):
    d = load_dataset("usps", data_dir=data_dir)
    assert d.x.shape == (9298, 256) and d.x.dtype == np.float32
    assert 0.0 <= d.x.min() and d.x.max() <= 1.0 and d.image_shape == (16, 16)
    assert np.bincount(d.y).tolist() == USPS_COUNTS
    assert load_dataset("usps", data_dir=data_dir, split="train").x.shape == (7291, 256)


def test_coil20_builtin(data_dir):
    d = load_dataset("coil20", data_dir=data_dir)
    assert d.x.shape == (1440, 1024) and d.n_clusters == 20 and d.image_shape == (32, 32)
    assert np.all(np.bincount(d.y) == 72) and d.y.min() == 0 and d.y.max() == 19
    assert 0.0 <= d.x.min() and d.x.max() <= 1.0


def test_shared_file_checksums(data_dir):
    for rel, name in (("usps/usps.h5", "usps.h5"), ("coil20/COIL20_32x32.mat", "COIL20_32x32.mat")):
        assert hashlib.sha256((data_dir / rel).read_bytes()).hexdigest() == FILE_SHA256[name]


def _write_libsvm(path, x, y):
    lines = []
    for xi, yi in zip(x, y):
        raw = 2.0 * xi.astype(np.float64) - 1.0
        feats = " ".join(f"{j + 1}:{v:.9g}" for j, v in enumerate(raw) if v != 0.0)
        lines.append(f"{int(yi) + 1} {feats}")
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


def test_usps_libsvm_matches_h5(data_dir, tmp_path):
    with h5py.File(data_dir / "usps" / "usps.h5") as f:
        xtr, ytr = f["train/data"][:300], f["train/target"][:300]
        xte, yte = f["test/data"][:200], f["test/target"][:200]
    d = tmp_path / "usps"
    d.mkdir()
    _write_libsvm(d / "usps.bz2", xtr, ytr)
    _write_libsvm(d / "usps.t.bz2", xte, yte)
    ds = load_dataset("usps", data_dir=tmp_path)
    np.testing.assert_allclose(ds.x, np.concatenate([xtr, xte]).astype(np.float32), atol=1e-7)
    np.testing.assert_array_equal(ds.y, np.concatenate([ytr, yte]))


def test_user_file_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(30, 7)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    savemat(tmp_path / "b.mat", {"fea": x, "gnd": y[:, None] + 1})
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["feats"], f["lab"] = x, y
    for path, kw in (
        (tmp_path / "a.npz", {}),
        (tmp_path / "b.mat", {}),
        (tmp_path / "c.h5", {"x_key": "feats", "y_key": "lab"}),
    ):
        d = load_dataset(str(path), **kw)
        np.testing.assert_allclose(d.x, x)
        np.testing.assert_array_equal(d.y, np.unique(y, return_inverse=True)[1])
        assert d.n_clusters == 3
    d = load_dataset(str(tmp_path / "c.h5"), x_key="feats", n_clusters=4)
    assert d.y is None and d.n_clusters == 4


def _idx_bytes(arr, code):
    return (
        struct.pack(">BBBB", 0, 0, code, arr.ndim)
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.tobytes()
    )


def test_user_idx_pair(tmp_path):
    imgs = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    labs = np.array([0, 1, 0, 1, 2], np.uint8)
    (tmp_path / "imgs-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(imgs, 0x08)))
    (tmp_path / "labs-idx1-ubyte").write_bytes(_idx_bytes(labs, 0x08))
    d = load_dataset(str(tmp_path / "imgs-idx3-ubyte.gz"), labels_path=tmp_path / "labs-idx1-ubyte")
    assert d.x.shape == (5, 16) and d.image_shape == (4, 4) and d.n_clusters == 3
    np.testing.assert_allclose(d.x, imgs.reshape(5, 16) / 255.0)
    np.testing.assert_array_equal(d.y, labs)  # row by row, not only three classes


# ---------------------------------------------------------------- errors


def test_missing_file_names_places_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("DSSEC_DATA_DIR", raising=False)
    monkeypatch.setattr(registry, "CACHE_DIR", tmp_path / "cache")  # not this machine's cache
    with pytest.raises(DataError) as e:
        load_dataset("coil20", data_dir=tmp_path)
    msg = str(e.value)
    assert "COIL20_32x32.mat" in msg and str(tmp_path) in msg and "data_dir" in msg
    with pytest.raises(DataError, match="download=True"):
        load_dataset("mnist", data_dir=tmp_path)


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("DSSEC_DATA_DIR", str(tmp_path / "env"))
    dirs = search_dirs(tmp_path / "arg", "fashion_mnist")
    assert (
        dirs[0] == tmp_path / "arg" / "fashion_mnist"
        and dirs[2] == tmp_path / "env" / "fashion_mnist"
    )
    assert "dssec_jax" in str(dirs[4]) and str(dirs[-1]) == "/usr/share/datasets/fashion-mnist"


def test_unknown_name_and_split():
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="no train/test split"):
        load_dataset("digits", split="train")


def test_checksum_mismatch(tmp_path, data_dir):
    d = tmp_path / "coil20"
    d.mkdir()
    raw = bytearray((data_dir / "coil20" / "COIL20_32x32.mat").read_bytes())
    raw[-1] ^= 0xFF
    (d / "COIL20_32x32.mat").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("coil20", data_dir=tmp_path)


def test_bad_idx_magic_and_truncation(tmp_path):
    (tmp_path / "x-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78" + b"\0" * 20)
    with pytest.raises(DataError, match="bad magic"):
        load_dataset(str(tmp_path / "x-idx3-ubyte"), n_clusters=2)
    good = _idx_bytes(np.zeros((4, 3, 3), np.uint8), 0x08)
    (tmp_path / "t-idx3-ubyte").write_bytes(good[:-5])
    with pytest.raises(DataError, match="truncated"):
        load_dataset(str(tmp_path / "t-idx3-ubyte"), n_clusters=2)
    (tmp_path / "g-idx3-ubyte.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset(str(tmp_path / "g-idx3-ubyte.gz"), n_clusters=2)


def test_unreadable_h5_and_mat_and_npz(tmp_path):
    for name in ("a.h5", "b.mat", "c.npz"):
        (tmp_path / name).write_bytes(os.urandom(200))
        with pytest.raises(DataError, match="not a readable"):
            load_dataset(str(tmp_path / name), n_clusters=2)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["other"] = np.zeros((3, 2))
    with pytest.raises(DataError, match="no dataset"):
        load_dataset(str(tmp_path / "d.h5"), n_clusters=2)


def test_mat_without_known_variables(tmp_path):
    savemat(tmp_path / "m.mat", {"weird": np.zeros((3, 2))})
    with pytest.raises(DataError, match="no recognisable data variable"):
        load_dataset(str(tmp_path / "m.mat"))


def test_label_length_mismatch_and_nan(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="4 labels for 5 samples"):
        load_dataset(str(tmp_path / "a.npz"))
    x = np.zeros((5, 2))
    x[1, 1] = np.nan
    np.savez(tmp_path / "b.npz", x=x, y=np.zeros(5))
    with pytest.raises(DataError, match="NaN or infinite"):
        load_dataset(str(tmp_path / "b.npz"))
    x[1, 1] = 1e39
    np.savez(tmp_path / "c.npz", x=x, y=np.zeros(5))
    with pytest.raises(DataError, match="c.npz: values up to 1e.39, beyond float32's range"):
        load_dataset(str(tmp_path / "c.npz"))


def test_unlabelled_samples_in_a_files_labels_are_not_a_class_unnoticed(tmp_path):
    """NaN labels are refused; -1 (the library's mark of an unknown label elsewhere) is a
    class here, with a warning saying so."""
    x = np.random.default_rng(0).normal(size=(6, 2))
    np.savez(tmp_path / "nan.npz", x=x, y=np.array([0, 1, 2, np.nan, 0, 1]))
    with pytest.raises(DataError, match="1 labels are NaN.*drop the unlabelled samples"):
        load_dataset(str(tmp_path / "nan.npz"))
    np.savez(tmp_path / "minus.npz", x=x, y=np.array([0, 1, 2, -1, 0, 1]))
    with pytest.warns(UserWarning, match="1 labels are -1, counted as a class"):
        ds = load_dataset(str(tmp_path / "minus.npz"))
    assert ds.n_clusters == 4


def test_no_labels_needs_n_clusters(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((5, 2)))
    with pytest.raises(DataError, match="n_clusters"):
        load_dataset(str(tmp_path / "a.npz"))


def test_explicit_download_checks_and_writes_atomically(tmp_path):
    payload = b"hello dataset"
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    url = src.as_uri()  # local file URL: no network at test time
    dest = tmp_path / "cache" / "f.bin"
    with pytest.raises(DataError, match="checksum mismatch"):
        dl.fetch(url, dest, "md5", "0" * 32)
    assert not dest.exists()
    dl.fetch(url, dest, "md5", hashlib.md5(payload).hexdigest())
    assert dest.read_bytes() == payload
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(payload))
    with pytest.raises(DataError, match="checksum mismatch.*nothing was written"):
        dl.fetch(
            gz.as_uri(),
            tmp_path / "y.gz",
            "sha256",
            hashlib.sha256(gzip.compress(payload)).hexdigest()[::-1],
            gzip.decompress,
        )
    dl.fetch(
        gz.as_uri(),
        tmp_path / "y.gz",
        "sha256",
        hashlib.sha256(payload).hexdigest(),
        gzip.decompress,
    )  # the digest is of the decompressed content
    assert (tmp_path / "y.gz").read_bytes() == gz.read_bytes()
    with pytest.raises(DataError, match="download of"):
        dl.fetch((tmp_path / "nope").as_uri(), dest, "md5", "0")


def _distributed(data_dir, name):
    """{"train": (x, y), "test": (x, y)} of the IDX files as distributed, uint8."""
    read = lambda stem: formats.read_idx(data_dir / name / f"{stem}.gz")  # noqa: E731
    return {
        split: (read(f"{p}-images-idx3-ubyte"), read(f"{p}-labels-idx1-ubyte"))
        for split, p in (("train", "train"), ("test", "t10k"))
    }


def _fake_tfds(parts, seed=0):
    """A stand-in tensorflow_datasets module serving ``parts`` shuffled, as tfds stores
    MNIST, in batches of dicts."""
    rng = np.random.default_rng(seed)

    def load(name, split, batch_size):
        x, y = parts[split]
        p = rng.permutation(len(y))
        x, y = x[p, :, :, None], y[p].astype(np.int64)
        return [
            {"image": x[i : i + batch_size], "label": y[i : i + batch_size]}
            for i in range(0, len(y), batch_size)
        ]

    fake = types.ModuleType("tensorflow_datasets")
    fake.load, fake.as_numpy = load, lambda batches: batches
    return fake


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_downloads_take_the_mirror_first_and_tensorflow_datasets_after_it(
    name, data_dir, tmp_path, monkeypatch
):
    monkeypatch.delenv("DSSEC_DATA_DIR", raising=False)
    monkeypatch.setattr(registry, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(registry, "DEBIAN_FASHION", tmp_path / "none")
    real = _distributed(data_dir, name)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _fake_tfds(real))
    truth = load_dataset(name, data_dir=data_dir)

    def mirror(url, dest, algo, digest, decompress):  # serves the files as distributed
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((data_dir / name / url.rsplit("/", 1)[1]).read_bytes())
        return dest

    monkeypatch.setattr(dl, "fetch", mirror)
    monkeypatch.setattr(dl, "tfds_arrays", lambda n: pytest.fail("tfds asked first"))
    got = load_dataset(name, data_dir=tmp_path / "empty", download=True)
    np.testing.assert_array_equal(got.x, truth.x)  # the order distributed
    np.testing.assert_array_equal(got.y, truth.y)

    for f in (tmp_path / "cache" / name).iterdir():
        f.unlink()
    monkeypatch.undo()  # now the mirror is unreachable and tfds holds a shuffled copy
    monkeypatch.delenv("DSSEC_DATA_DIR", raising=False)
    monkeypatch.setattr(registry, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(registry, "DEBIAN_FASHION", tmp_path / "none")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _fake_tfds(real))

    def unreachable(url, dest, *args):
        raise DataError(f"download of {url} failed (URLError: no network)")

    monkeypatch.setattr(dl, "fetch", unreachable)
    with pytest.warns(UserWarning, match="no network.*trying tensorflow-datasets"):
        got = load_dataset(name, data_dir=tmp_path / "empty", download=True)  # verified
    order = [dl.fixed_order(x, y) for x, y in real.values()]  # the same rows, one fixed order
    want_y = np.concatenate([y[o] for (_, y), o in zip(real.values(), order)])
    want_x = np.concatenate([x[o].reshape(len(o), -1) for (x, _), o in zip(real.values(), order)])
    np.testing.assert_array_equal(got.y, want_y)
    np.testing.assert_array_equal(got.x, want_x.astype(np.float32) / 255.0)
    assert not np.array_equal(got.y, truth.y)

    for f in (tmp_path / "cache" / name).iterdir():
        f.unlink()
    served = []

    def first_only(url, dest, *args):  # the mirror gives one file, then fails
        if served:
            unreachable(url, dest)
        served.append(url)
        return mirror(url, dest, *args)

    monkeypatch.setattr(dl, "fetch", first_only)
    with pytest.warns(UserWarning, match="trying tensorflow-datasets"):
        again = load_dataset(name, data_dir=tmp_path / "empty", download=True)
    assert len(served) == 1  # the four files then all came from tfds, in one order
    np.testing.assert_array_equal(again.y, want_y)
    np.testing.assert_array_equal(again.x, got.x)

    mixed = tmp_path / "mixed" / name  # images as distributed, labels in tfds's order
    mixed.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (mixed / f"{stem}.gz").write_bytes((data_dir / name / f"{stem}.gz").read_bytes())
    for stem in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        (mixed / f"{stem}.gz").write_bytes((tmp_path / "cache" / name / f"{stem}.gz").read_bytes())
    with pytest.raises(DataError, match="rows in two orders"):
        load_dataset(name, data_dir=tmp_path / "mixed")

    for f in (tmp_path / "cache" / name).iterdir():
        f.unlink()
    monkeypatch.setattr(dl, "fetch", unreachable)
    damaged = {k: (x.copy(), y) for k, (x, y) in real.items()}
    damaged["test"][0][0, 0, 0] ^= 1  # one pixel off: refused, nothing written
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _fake_tfds(damaged))
    with pytest.warns(UserWarning), pytest.raises(DataError, match="nothing was written"):
        load_dataset(name, data_dir=tmp_path / "empty", download=True)
    assert list((tmp_path / "cache" / name).iterdir()) == []

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # not installed
    with pytest.raises(DataError, match="download of .* failed"):
        load_dataset(name, data_dir=tmp_path / "empty", download=True)


def test_fixed_order_is_one_order_for_every_ordering_of_the_rows():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 10, 50).astype(np.uint8)
    x[7], y[7] = x[3], y[3]  # a repeated row
    o = dl.fixed_order(x, y)
    assert sorted(o) == list(range(50))
    for _ in range(3):
        p = rng.permutation(50)
        q = dl.fixed_order(x[p], y[p])
        np.testing.assert_array_equal(x[p][q], x[o])
        np.testing.assert_array_equal(y[p][q], y[o])
    with pytest.raises(ValueError, match="uint8 images"):
        dl.fixed_order(x.astype(np.float32), y)


def test_usps_libsvm_mapping():
    x, y = usps_from_libsvm(np.array([[-1.0, 0.0, 1.0]]), np.array([10]))
    np.testing.assert_allclose(x, [[0.0, 0.5, 1.0]])
    assert y.tolist() == [9]
    with pytest.raises(DataError, match="not LIBSVM"):
        formats.parse_libsvm(b"1 abc\n", 3)

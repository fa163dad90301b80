"""The tensorflow-datasets route for MNIST and Fashion-MNIST, on tfds's mock data (no
download): it writes IDX files into the cache that then load like the real ones.
Runs where the ``tfds`` extra is installed (as in .ci/run)."""

import numpy as np
import pytest

from dssec_jax.data import download as dl
from dssec_jax.data import load_dataset, registry
from dssec_jax.data.formats import DataError

tfds = pytest.importorskip("tensorflow_datasets")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_the_tfds_route_writes_idx_files_that_load(name, tmp_path, monkeypatch):
    monkeypatch.delenv("DSSEC_DATA_DIR", raising=False)
    monkeypatch.setattr(registry, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(registry, "DEBIAN_FASHION", tmp_path / "none")

    def unreachable(url, dest, *args):  # the mirror comes first; here it fails
        raise DataError(f"download of {url} failed (no network at test time)")

    monkeypatch.setattr(dl, "fetch", unreachable)
    with tfds.testing.mock_data(num_examples=12), pytest.warns(UserWarning, match="tensorflow"):
        expected = dl.tfds_arrays(name)
        ds = load_dataset(name, data_dir=tmp_path / "empty", download=True, verify=False)
    x = np.concatenate([expected[s][0] for s in ("train", "test")]).reshape(24, 784)
    np.testing.assert_array_equal(ds.x, x.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(ds.y, np.concatenate([expected[s][1] for s in ("train", "test")]))
    assert sorted(p.name for p in (tmp_path / "cache" / name).iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    for split in ("train", "test"):  # each split keeps its own size (not 60,000 + rest)
        part = load_dataset(name, data_dir=tmp_path / "empty", split=split, verify=False)
        np.testing.assert_array_equal(part.y, expected[split][1])
    # the pinned checksums tell the mock files from the real ones
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset(name, data_dir=tmp_path / "empty")

"""Corruptions as a seeded data transform (dssec_jax.data.corrupt)."""

import numpy as np
import pytest

from dssec_jax.data import Dataset
from dssec_jax.data.corrupt import corrupt, corrupt_dataset, parse

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (400, 64)).astype(np.float32)
SPECS = [
    "gaussian:0.1",
    "gaussian:0.3",
    "gaussian:0.5",
    "salt_pepper:0.1",
    "salt_pepper:0.3",
    "occlusion:0.25",
    "noise_features:1",
]


@pytest.mark.parametrize("spec", SPECS)
def test_shape_dtype_range_seed_and_the_callers_array(spec):
    before = X.copy()
    a = corrupt(X, spec, seed=3, image_shape=(8, 8), value_range=(0, 1))
    b = corrupt(X, spec, seed=3, image_shape=(8, 8), value_range=(0, 1))
    c = corrupt(X, spec, seed=4, image_shape=(8, 8), value_range=(0, 1))
    np.testing.assert_array_equal(X, before)  # the caller's array is untouched
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    extra = 64 if spec.startswith("noise_features") else 0
    assert a.shape == (400, 64 + extra)
    np.testing.assert_array_equal(a, b)  # the same seed, the same corruption
    assert not np.array_equal(a, c)
    if not extra:
        assert not np.array_equal(a, X)


def test_gaussian_noise_has_the_asked_for_std():
    mid = np.full((2000, 50), 0.5, np.float32)  # far from the clip for s = 0.05
    d = corrupt(mid, "gaussian:0.05", value_range=(0, 1)) - mid
    assert abs(d.mean()) < 0.002 and abs(d.std() - 0.05) < 0.002
    # drawn per entry: not once per row or per column, and no two columns alike
    assert np.all(np.abs(d.std(1) - 0.05) < 0.02) and np.all(np.abs(d.std(0) - 0.05) < 0.005)
    corr = np.corrcoef(d.T)[np.triu_indices(50, 1)]
    assert np.abs(corr).max() < 0.12
    # Gaussian, not another law of that spread: within 1, 2 and 3 std (uniform noise of
    # std 0.05 puts 57.7 %, 100 % and 100 % there; 100,000 draws: each share to +-0.5 %)
    within = [np.mean(np.abs(d) < k * 0.05) for k in (1, 2, 3)]
    np.testing.assert_allclose(within, [0.6827, 0.9545, 0.9973], atol=0.005)


def test_the_output_is_float32_whatever_the_input():
    """The library's data type: float64 and integer images come back float32 (the noise
    makes integer pixels fractional)."""
    for x in (X.astype(np.float64), (X * 255).astype(np.uint8)):
        for spec in SPECS:
            out = corrupt(x, spec, image_shape=(8, 8))
            assert out.dtype == np.float32 and out.min() >= x.min() and out.max() <= x.max()


def test_salt_and_pepper_hits_the_asked_for_fraction_with_both_ends():
    mid = np.full((1000, 100), 0.5, np.float32)
    out = corrupt(mid, "salt_pepper:0.2", value_range=(0, 1))
    hit = out != 0.5
    assert abs(hit.mean() - 0.2) < 0.005
    assert abs((out[hit] == 1).mean() - 0.5) < 0.02 and set(np.unique(out[hit])) == {0.0, 1.0}


def test_occlusion_blanks_one_square_block_of_the_asked_for_area():
    ones = np.ones((300, 16 * 16), np.float32)
    out = corrupt(ones, "occlusion:0.25", image_shape=(16, 16), value_range=(0, 1))
    blank = (out == 0).reshape(300, 16, 16)
    assert np.all(blank.sum((1, 2)) == 64)  # an 8 x 8 block: a quarter of the image
    r, c = np.nonzero(blank[0])
    assert r.max() - r.min() == 7 and c.max() - c.min() == 7
    assert len({tuple(np.argwhere(b)[0]) for b in blank}) > 20  # at random positions


def test_an_occlusion_blocks_place_is_uniform_over_every_place_that_fits():
    """Each of the 9 x 9 top-left corners of an 8 x 8 block in a 16 x 16 image, the edges
    included, about equally often (a chi-square test on 4,050 draws, at the 0.1 % level)."""
    ones = np.ones((4050, 16 * 16), np.float32)
    blank = corrupt(ones, "occlusion:0.25", 3, image_shape=(16, 16), value_range=(0, 1)) == 0
    corners = [tuple(np.argwhere(b.reshape(16, 16))[0]) for b in blank]
    counts = np.zeros((9, 9))
    for r, c in corners:
        counts[r, c] += 1
    assert counts.sum() == 4050 and counts.min() > 0  # no corner beyond the 9 x 9 that fit
    chi2 = ((counts - 50) ** 2 / 50).sum()
    assert chi2 < 124.8  # the 0.999 quantile of chi-square with 80 degrees of freedom


def test_noise_features_are_uniform_in_the_range_and_the_pixels_are_kept():
    out = corrupt(X, "noise_features:2", value_range=(0, 1))
    np.testing.assert_array_equal(out[:, :64], X)
    extra = out[:, 64:]
    assert extra.shape == (400, 128) and abs(extra.mean() - 0.5) < 0.01
    assert abs(extra.std() - np.sqrt(1 / 12)) < 0.01


@pytest.mark.parametrize(
    "spec, message",
    [
        ("blur:0.1", "unknown corruption 'blur'"),
        ("gaussian", "must be a number in"),
        ("gaussian:x", "must be a number in"),
        ("gaussian:0", "must be a number in \\(0, 1\\]"),
        ("salt_pepper:1", "must be a number in \\(0, 1\\)"),
        ("noise_features:11", "must be a number in \\(0, 10\\]"),
    ],
)
def test_bad_specs_are_refused_with_the_fix(spec, message):
    with pytest.raises(ValueError, match=message):
        parse(spec)


@pytest.mark.parametrize(
    "x, value_range, message",
    [
        (X, (1, 0), "finite with lo < hi"),
        (X, (0.0, np.inf), "finite with lo < hi"),
        (X, (0,), "two numbers"),
        (np.where(np.eye(400, 64) > 0, np.nan, X), None, "non-finite values"),
        (np.zeros((0, 64), np.float32), None, "non-empty data"),
        (X[0], None, "shape \\(n, d\\)"),
        (np.full((10, 4), 0.5, np.float32), None, "constant .*pass value_range"),
        (X * 255, (0, 1), "runs from .* to 25[0-9.]*, outside value_range=\\(0, 1\\)"),
        (X - 0.5, (0, 1), "outside value_range"),
    ],
)
def test_data_and_value_ranges_the_transforms_cannot_take_are_refused(x, value_range, message):
    for spec in ("gaussian:0.1", "salt_pepper:0.1", "noise_features:1"):
        with pytest.raises(ValueError, match=message):
            corrupt(x, spec, value_range=value_range)


def test_occlusion_needs_an_image_shape():
    with pytest.raises(ValueError, match="occlusion needs the image shape"):
        corrupt(X, "occlusion:0.2")
    ds = Dataset(X, None, "toy", None, 2)
    with pytest.raises(ValueError, match="toy: occlusion needs the image shape"):
        corrupt_dataset(ds, "occlusion:0.2")
    named = corrupt_dataset(ds, "noise_features:0.5", seed=1)
    assert named.name == "toy_noise_features0.5" and named.x.shape == (400, 96)


def test_the_run_driver_takes_a_corruption(tmp_path):
    from test_experiments import TINY, run

    wd = tmp_path / "run"
    r = run(
        "experiments.run", "--method=kmeans", "--corrupt=noise_features:1", f"--workdir={wd}", *TINY
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "digits_noise_features1 (1797 x 128" in r.stdout
    bad = run("experiments.run", "--corrupt=blur:1", f"--workdir={wd}", *TINY)
    assert bad.returncode == 2 and "unknown corruption 'blur'" in bad.stderr


def test_the_default_range_is_the_datas_own():
    """Without value_range, [lo, hi] is the data's min and max (as the drivers use it)."""
    x = np.full((2000, 50), 3.0, np.float32)
    x[0, 0], x[0, 1] = 1.0, 5.0  # range [1, 5]: width 4
    d = corrupt(x, "gaussian:0.02")[1:] - x[1:]
    assert abs(d.std() - 0.08) < 0.003  # s (hi - lo)
    out = corrupt(x, "salt_pepper:0.3")
    assert set(np.unique(out[out != 3.0])) == {1.0, 5.0}
    extra = corrupt(x, "noise_features:1")[:, 50:]
    assert extra.min() >= 1.0 and extra.max() <= 5.0 and abs(extra.mean() - 3.0) < 0.02
    assert np.all(corrupt(x, "occlusion:0.3", image_shape=(5, 10)).min(1) == 1.0)


@pytest.mark.parametrize(
    "shape, area",
    [
        ((8, 64), 0.4),
        ((4, 256), 0.4),
        ((8, 8, 3), 0.4),
        ((20, 1), 0.05),
        ((100, 1), 0.3),  # a column: the block's width rounds to the whole width
        ((10, 1), 0.3),
        ((28, 2), 0.4),
        ((1, 100), 0.3),
    ],
)
def test_occlusion_covers_the_asked_for_area_of_any_image_shape(shape, area):
    d = int(np.prod(shape))
    out = corrupt(
        np.ones((200, d), np.float32), f"occlusion:{area}", image_shape=shape, value_range=(0, 1)
    )
    covered = (out == 0).mean()
    assert abs(covered - area) < 0.06, covered
    if shape == (20, 1):  # 5 % of 20 x 1: one row of each image, not none and not two
        assert np.all((out == 0).sum(1) == 1)
    if len(shape) == 3:  # every channel of a blanked pixel
        blank = (out == 0).reshape(200, *shape)
        assert np.all(blank.all(-1) == blank.any(-1))


def test_the_blocks_of_square_images_keep_their_size():
    # the built-in images: (size, area) -> (rows, columns) of the block
    for size, area, block in [
        (16, 0.2, 49),
        (16, 0.4, 100),
        (32, 0.2, 210),
        (32, 0.4, 400),
        (16, 0.01, 2),  # 2 x 1: a block one pixel wide keeps its rows on a square image
        (5, 0.1, 2),
    ]:
        out = corrupt(
            np.ones((3, size * size), np.float32),
            f"occlusion:{area}",
            image_shape=(size, size),
            value_range=(0, 1),
        )
        assert np.all((out == 0).sum(1) == block)


def test_noise_features_refuse_a_level_that_appends_nothing():
    with pytest.raises(ValueError, match="= 0 features; pass a level of at least 1/64 = 0.01562"):
        corrupt(X, "noise_features:0.001")
    assert corrupt(X, "noise_features:0.01562").shape == (400, 65)  # the level it names works


def test_occlusion_refuses_a_channels_first_shape():
    with pytest.raises(ValueError, match="channels-first array"):
        corrupt(X[:4, :48].repeat(4, axis=1), "occlusion:0.2", image_shape=(3, 8, 8))


def test_an_occlusion_that_would_hide_the_whole_image_is_refused():
    x = np.random.default_rng(1).random((3, 28 * 28)).astype(np.float32)
    with pytest.raises(ValueError, match="hides the whole 28x28 image"):
        corrupt(x, "occlusion:0.99", image_shape=(28, 28))
    kept = (corrupt(x, "occlusion:0.9", image_shape=(28, 28)) == x).mean(axis=1)
    assert np.all((kept > 0.05) & (kept < 0.15))  # a tenth of each image left


def test_levels_of_one_shape_never_share_a_cache_key():
    """Gaussian noise at two levels keeps the data's shape, so only the key tells their
    stored autoencoders apart (and the clean data's)."""
    from dssec_jax.cli.runner import dataset_id
    from dssec_jax.methods import Config

    ds = Dataset(X, np.zeros(400, np.int32), "toy", (8, 8), 2)
    variants = [ds, corrupt_dataset(ds, "gaussian:0.1"), corrupt_dataset(ds, "gaussian:0.2")]
    variants.append(corrupt_dataset(ds, "gaussian:0.1", seed=1))
    ids = {dataset_id(v) for v in variants}
    hashes = {Config().pretrain_hash(dataset_id(v), 0) for v in variants}
    assert len(ids) == len(hashes) == 4


def test_a_corrupted_dataset_keeps_its_labels_and_leaves_the_original_alone():
    y = (np.arange(400) % 4).astype(np.int32)
    ds = Dataset(X.copy(), y.copy(), "toy", (8, 8), 4)
    for spec in ("gaussian:0.2", "occlusion:0.25", "noise_features:0.5"):
        out = corrupt_dataset(ds, spec, seed=3)
        np.testing.assert_array_equal(ds.x, X)  # the original dataset is untouched
        np.testing.assert_array_equal(out.y, y)
        assert out.n_clusters == 4 and out.source == ds.source
        np.testing.assert_array_equal(out.x, corrupt(X, spec, 3, image_shape=(8, 8)))
        wider = spec.startswith("noise_features")
        assert out.image_shape == (None if wider else (8, 8))  # no image with extra inputs
        if wider:  # the pixels kept as they were, the noise inputs after them
            np.testing.assert_array_equal(out.x[:, :64], X)
        else:
            assert not np.array_equal(out.x, X)


def test_the_sweep_driver_takes_a_corruption(tmp_path):
    from test_experiments import TINY, run

    wd = tmp_path / "sweep"
    args = ["--methods=kmeans", "--seeds=1", "--notsne", f"--workdir={wd}", *TINY]
    r = run("experiments.sweep", "--corrupt=noise_features:1", *args)
    assert r.returncode == 0, r.stderr[-2000:]
    (name,) = [p.name for p in (wd / "runs").iterdir()]
    assert name.startswith("digits_noise_features1__kmeans")
    bad = run("experiments.sweep", "--corrupt=occlusion:1", *args)
    assert bad.returncode == 2 and "the level of occlusion must be a number in (0, 1)" in bad.stderr

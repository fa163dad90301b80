"""Numerical safety, corrupt files, kills at random moments, degenerate data."""

import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dssec_jax import checkpoint, losses, pipeline
from dssec_jax.data import DataError, formats, load_dataset
from dssec_jax.methods import Config
from dssec_jax.validation import NonFiniteLossError

floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float32, (7, 3), elements=floats),
    hnp.arrays(np.float32, (4, 3), elements=floats),
    st.floats(0.1, 10.0),
)
def test_assignment_target_kl_always_finite(z, mu, alpha):
    q = np.asarray(losses.soft_assignment(z, mu, alpha=alpha))
    p = np.asarray(losses.target_distribution(q))
    kl = float(losses.clustering_kl(p, q))
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(p)) and np.isfinite(kl)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-4)
    assert kl >= -1e-5


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-4, 1 - 1e-4), hnp.arrays(np.float32, (9,), elements=st.floats(0, 1, width=32)))
def test_sparsity_kl_finite_and_nonnegative(rho, rho_hat):
    v = float(losses.sparsity_kl(rho, rho_hat))
    assert np.isfinite(v) and v >= -1e-4


def test_corrupt_checkpoint_falls_back_to_previous(tmp_path):
    path = tmp_path / "c.ckpt"
    checkpoint.save(path, {"a": np.arange(3)}, {"step": 1})
    checkpoint.save(path, {"a": np.arange(3) + 10}, {"step": 2})
    path.write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="unreadable.*moved to .*c.ckpt.damaged"):
        meta, raw = checkpoint.load(path)
    assert meta["step"] == 1
    np.testing.assert_array_equal(checkpoint.restore({"a": np.zeros(3, int)}, raw)["a"], [0, 1, 2])
    # the damaged file is moved aside, so the next save cannot rotate it over the good .prev
    assert path.with_name("c.ckpt.damaged").read_bytes() == b"\x00garbage"
    checkpoint.save(path, {"a": np.arange(3) + 20}, {"step": 3})
    path.write_bytes(b"\x00damaged again")
    with pytest.warns(UserWarning, match="unreadable"):
        assert checkpoint.load(path)[0]["step"] == 1
    path.with_name("c.ckpt.prev").write_bytes(b"junk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert checkpoint.load(path) is None


def test_a_damaged_checkpoint_is_moved_aside_only_by_the_writer_and_only_if_unchanged(
    tmp_path, monkeypatch
):
    """Another process (not the writer) leaves the damaged file where it is; a file that a
    save replaced after the failed read, or that another reader moved first, is left alone
    and load still falls back to .prev."""
    path = tmp_path / "c.ckpt"
    checkpoint.save(path, {"a": np.arange(3)}, {"step": 1})
    checkpoint.save(path, {"a": np.arange(3)}, {"step": 2})
    path.write_bytes(b"\x00garbage")
    monkeypatch.setattr(checkpoint, "is_writer", lambda: False)
    with pytest.warns(UserWarning, match="unreadable.*; trying the previous"):
        assert checkpoint.load(path)[0]["step"] == 1
    assert path.read_bytes() == b"\x00garbage"
    monkeypatch.setattr(checkpoint, "is_writer", lambda: True)
    read = checkpoint._read

    def saved_meanwhile(p):  # a good save lands between the failed read and the move
        try:
            return read(p)
        finally:
            if p == path:
                path.write_bytes(b"\x00a newer file, written after the read")

    monkeypatch.setattr(checkpoint, "_read", saved_meanwhile)
    with pytest.warns(UserWarning, match="unreadable"):
        assert checkpoint.load(path)[0]["step"] == 1
    assert path.exists() and not path.with_name("c.ckpt.damaged").exists()

    def moved_meanwhile(p):  # another reader moved it aside first
        try:
            return read(p)
        finally:
            if p == path:
                path.unlink()

    monkeypatch.setattr(checkpoint, "_read", moved_meanwhile)
    with pytest.warns(UserWarning, match="unreadable"):
        assert checkpoint.load(path)[0]["step"] == 1


def test_a_checkpoint_of_another_layout_is_refused_clearly(tmp_path):
    """The layout before TrainState ({"params", "opt_state", "prev"}) does not restore into
    {"state", "prev"}: a CheckpointError that says to delete it, not a Flax KeyError."""
    path = tmp_path / "cluster.ckpt"
    checkpoint.save(path, {"params": np.ones(2), "opt_state": np.ones(2)}, {"iteration": 3})
    _, raw = checkpoint.load(path)
    template = {"state": {"params": np.zeros(2)}, "prev": np.zeros(2)}
    with pytest.raises(checkpoint.CheckpointError, match="another version of dssec_jax"):
        checkpoint.restore(template, raw)


def _fuzz(data: bytes, suffix: str, tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / f"f{suffix}"
    p.write_bytes(data)
    try:
        load_dataset(str(p), n_clusters=2)
    except DataError:
        pass


@pytest.mark.parametrize("suffix", ["-idx3-ubyte", "-idx3-ubyte.gz", ".h5", ".mat", ".npz"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_loaders_on_random_bytes_only_raise_data_error(suffix, data, tmp_path_factory):
    _fuzz(data, suffix, tmp_path_factory)


_ANY_ARRAY = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(x=_ANY_ARRAY, y=st.one_of(st.none(), _ANY_ARRAY))
def test_a_readable_npz_of_any_arrays_loads_or_raises_data_error(x, y, tmp_path_factory):
    """The file parses, so what is tested is the checks after it: whatever shape, dtype and
    values the arrays have, the result is a clean dataset or a DataError."""
    p = tmp_path_factory.mktemp("npz") / "f.npz"
    np.savez(p, **({"x": x} if y is None else {"x": x, "y": y}))
    try:
        d = load_dataset(str(p), n_clusters=2)
    except DataError:
        return
    assert d.x.dtype == np.float32 and d.x.ndim == 2 and np.isfinite(d.x).all()
    assert d.y is None or (d.y.dtype == np.int32 and d.y.shape == (d.x.shape[0],))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=4, max_size=64))
def test_idx_parser_on_mutated_headers(tail):
    for head in (b"\x00\x00\x08\x01", b"\x00\x00\x08\x03", b"\x00\x00\x0d\x02"):
        try:
            formats.parse_idx(head + tail)
        except DataError:
            pass


def _cfg(**kw):
    base = dict(
        method="dssec",
        n_clusters=5,
        hidden_dims=(32, 32, 64),
        embed_dim=4,
        pretrain_epochs=5,
        batch_size=64,
        update_interval=10,
        max_iter=60,
        n_init=3,
    )
    return Config(**{**base, **kw})


def test_degenerate_data_completes_and_reports_clusters():
    rng = np.random.default_rng(0)
    blobs = np.concatenate(
        [rng.normal(c, 0.05, size=(n, 6)) for c, n in ((0, 150), (3, 150), (6, 8))]
    )
    dup = np.repeat(rng.normal(size=(10, 6)), 20, axis=0)
    for x in (blobs, dup):  # fewer true clusters than n_clusters, imbalance, duplicated points
        res = pipeline.fit(x.astype(np.float32), _cfg(), 0)
        assert len(res.labels) == len(x) and np.all(np.isfinite(res.embedding))
        h, sizes = res.history[-1], np.bincount(res.labels, minlength=5)
        assert h["iteration"] == res.n_iter  # the last refresh saw the final labels
        assert (h["min_cluster_size"], h["max_cluster_size"], h["n_empty_clusters"]) == (
            sizes.min(),
            sizes.max(),
            int(np.sum(sizes == 0)),
        )


def _start(workdir, extra=()):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-u",
        "-m",
        "experiments.run",
        "--method=dssec",
        f"--workdir={workdir}",
        "--pretrain_epochs=6",
        "--max_iter=100",
        "--update_interval=20",
        "--n_init=3",
        "--tol=0",
        "--checkpoint_interval=0",
        *extra,
    ]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.parametrize("kill_at", ["pretrain finetune epoch 3/6", "cluster iter 40/100"])
def test_sigkill_then_rerun_gives_same_labels(tmp_path, kill_at):
    ref = _start(tmp_path / "ref" / "r")
    assert ref.wait(timeout=600) == 0
    wd = tmp_path / "kill" / "r"
    proc = _start(wd)
    for line in proc.stdout:
        if kill_at in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    again = _start(wd)
    out = again.stdout.read()
    assert again.wait(timeout=600) == 0, out
    phase = (
        "cluster: resuming at iteration" if kill_at.startswith("cluster") else "pretrain: resuming"
    )
    assert phase in out, out  # from the killed phase's checkpoint, not from the start
    a = np.load(tmp_path / "ref" / "r" / "seed_0" / "outputs.npz")["labels"]
    b = np.load(wd / "seed_0" / "outputs.npz")["labels"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "x, kw, match",
    [
        (np.zeros((0, 4)), {}, "at least one sample"),
        (
            np.zeros((4, 0)),
            {},
            r"0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1 is required; pass at least one feature",
        ),
        (np.zeros((5, 2, 2)), {}, "must be 2-D"),
        (np.ones((10, 3)), {}, "every feature of X is constant"),
        (np.array([["a", "b"], ["c", "d"]]), {}, "pass numeric data"),
        (np.full((6, 2), np.inf), {}, "NaN or infinite"),
        (None, {"beta": -0.1}, "beta must be a finite number >= 0"),
        (None, {"rho": 0.0}, r"rho must lie in \(0, 1\)"),
        (None, {"embed_dim": 0}, "embed_dim must be >= 1"),
        (None, {"embed_std": 0.0}, "embed_std must be a number > 0, 'kernel'"),
        (None, {"embed_std": "auto"}, "embed_std must be a number > 0, 'kernel'"),
        (None, {"pretrain": "greedy"}, "pretrain must be 'end_to_end' or 'stacked'"),
        (None, {"sparse_layers": (7,)}, "sparse_layers \\[7\\] out of range"),
        (None, {"sparse_activation": "tanh"}, "sparse_activation 'tanh' has no sparsity penalty"),
        (None, {"sparsity_form": "square"}, "sparsity_form must be one of ratio, exp, tanh, clip"),
        (None, {"pretrain_clip_norm": 0.0}, "pretrain_clip_norm must be finite and > 0, or None"),
    ],
)
def test_validation_cases(x, kw, match):
    from dssec_jax import DSSEC

    if x is None:
        x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=match):
        DSSEC(n_clusters=2, pretrain_epochs=1, batch_size=4, **kw).fit(x)


def test_labels_of_wrong_length():
    from dssec_jax import DSSEC

    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="got 19 labels for 20 samples"):
        DSSEC(n_clusters=2, method="kmeans").fit(x, np.zeros(19, int))


def test_int_float64_and_zero_columns_are_accepted_and_converted():
    from dssec_jax.validation import check_data

    xi = np.arange(12).reshape(4, 3)
    xi[:, 1] = 0  # an all-zero column (like MNIST's border pixels) is kept
    for x in (xi, xi.astype(np.float64)):
        out = check_data(x)
        assert out.dtype == np.float32 and out.shape == (4, 3)
        np.testing.assert_array_equal(out, xi)


def test_nonfinite_loss_keeps_last_good_checkpoint(tmp_path):
    from dssec_jax.checkpoint import FileStore

    x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    store = FileStore(tmp_path / "run", tmp_path / "cache", "k", min_interval_s=0.0)
    cfg = _cfg(
        method="idec", max_iter=40, tol=0.0, cluster_learning_rate=1e12, cluster_optimizer="sgd"
    )
    with pytest.raises(NonFiniteLossError, match="clustering at iterations"):
        pipeline.fit(x, cfg, 0, store=store)
    assert checkpoint.load(store.path("pretrained")) is not None


def test_cache_keys_of_earlier_autoencoders_hold_whatever_the_defaults(monkeypatch):
    """The pretrained-autoencoder cache key of the original recipe (Glorot-uniform, Adam)
    is pinned (at library version 0.1.0): fields added later enter the key only away from
    the value every earlier autoencoder was trained at. Another recipe must never get that
    key, even once the defaults become that recipe (a key built against the current
    default would then give it the old key)."""
    import dataclasses

    from dssec_jax import methods

    monkeypatch.setattr(methods, "__version__", "0.1.0")
    old = Config(method="dssec", init="glorot_uniform", pretrain_optimizer="adam")
    pinned = "db49656a26f2378a"
    assert old.pretrain_hash("digits", 0) == pinned
    recipe = Config(method="dssec", init="variance_scaling", pretrain_optimizer="sgd")
    monkeypatch.setattr(methods, "Config", lambda **kw: dataclasses.replace(recipe, **kw))
    assert old.pretrain_hash("digits", 0) == pinned
    others = [
        recipe,
        dataclasses.replace(old, init="variance_scaling"),
        dataclasses.replace(old, pretrain_optimizer="sgd"),
        dataclasses.replace(recipe, pretrain_momentum=0.0),
        dataclasses.replace(old, pretrain_clip_norm=1.0),
    ]
    keys = {c.pretrain_hash("digits", 0) for c in others}
    assert len(keys) == len(others) and pinned not in keys
    one = dataclasses.replace(old, pretrain_clip_norm=1)
    assert one.pretrain_hash("digits", 0) == others[-1].pretrain_hash("digits", 0)


def test_cache_key_normalises_numbers_and_holds_the_library_version(monkeypatch):
    """1, 1.0 and numpy scalars are one setting; numpy scalars do not break the JSON key;
    another library version (which may initialise or pretrain differently) gets other keys."""
    from dssec_jax import methods

    ref = Config(beta=1.0, embed_dim=10).pretrain_hash("digits", 0)
    same = [
        Config(beta=1),
        Config(beta=np.float64(1.0)),
        Config(beta=np.int64(1), embed_dim=np.int64(10)),
        Config(hidden_dims=(np.int64(500), 500, 2000), sparse_layers=[np.int32(0), 1]),
    ]
    assert [c.pretrain_hash("digits", 0) for c in same] == [ref] * len(same)
    monkeypatch.setattr(methods, "__version__", "99.0.0")
    assert Config(beta=1.0).pretrain_hash("digits", 0) != ref


def test_unfinished_pretraining_is_kept_per_run_not_in_the_shared_cache(tmp_path):
    a = checkpoint.FileStore(tmp_path / "dec", tmp_path / "cache", "k")
    b = checkpoint.FileStore(tmp_path / "idec", tmp_path / "cache", "k")
    a.put("pretrain_progress", {"w": np.ones(3)}, {"stage": 0, "epoch": 5, "history": []})
    assert b.get("pretrain_progress") is None
    assert a.get("pretrain_progress") is not None
    a.put("pretrained", {"w": np.ones(3)}, {})
    assert b.get("pretrained") is not None  # the finished autoencoder is shared

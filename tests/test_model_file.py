"""A fitted estimator saved to one file and loaded in a fresh process: identical
predictions and embeddings; earlier formats load, and damaged, truncated, foreign and
later-format files are refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_experiments import TINY as FLAGS_TINY
from test_experiments import run

from dssec_jax import DSSEC, __version__
from dssec_jax.model_file import MAGIC

TINY = dict(pretrain_epochs=2, max_iter=40, n_init=2, hidden_dims=(32, 32, 64), random_state=0)

LOAD_AND_PREDICT = """
import sys, numpy as np
from sklearn.datasets import load_digits
from dssec_jax import DSSEC
x = (load_digits().data / 16).astype(np.float32)[:300]
est = DSSEC.load(sys.argv[1])
np.savez(sys.argv[2], labels=est.predict(x), z=est.transform(x), q=est.soft_assign(x),
         fit_labels=est.labels_, centers=est.cluster_centers_)
"""


@pytest.mark.parametrize("method", ["kmeans", "pca_kmeans", "dssec"])
def test_a_loaded_model_predicts_identically_in_a_fresh_process(method, digits, tmp_path):
    x = digits[0]
    est = DSSEC(n_clusters=10, method=method, **TINY).fit(x)
    est.save(tmp_path / "m.dssec")
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_PREDICT,
            str(tmp_path / "m.dssec"),
            str(tmp_path / "out.npz"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    got = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(got["labels"], est.predict(x[:300]))
    np.testing.assert_array_equal(got["z"], est.transform(x[:300]))
    np.testing.assert_array_equal(got["q"], est.soft_assign(x[:300]))
    np.testing.assert_array_equal(got["fit_labels"], est.labels_)
    np.testing.assert_array_equal(got["centers"], est.cluster_centers_)


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.dssec"
    est = DSSEC(n_clusters=10, method="dssec", **TINY).fit(digits[0])
    est.save(path)
    return est, path


def test_the_file_records_version_settings_and_fitted_attributes(saved):
    import os
    import stat

    from dssec_jax import checkpoint

    est, path = saved
    assert stat.S_IMODE(path.stat().st_mode) == checkpoint.new_file_mode()  # not 0600
    umask = os.umask(0o027)  # another umask: a new file follows it, a rewrite keeps the mode
    try:
        assert checkpoint.new_file_mode() == 0o640
        est.save(path.parent / "other.dssec")
        assert stat.S_IMODE((path.parent / "other.dssec").stat().st_mode) == 0o640
        path.chmod(0o604)
        est.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o604
    finally:
        os.umask(umask)
    loaded = DSSEC.load(path)
    assert loaded.get_params() == est.get_params()
    assert loaded.history_ == est.history_ and loaded.n_iter_ == est.n_iter_ == 40
    assert loaded.settings_ == est.settings_ == est.config().to_dict()
    meta = json.loads(path.read_bytes()[len(MAGIC) :].split(b"\n", 1)[0])
    assert meta["library"] == __version__ and meta["params"]["method"] == "dssec"


def _damage(path, tmp_path, edit):
    bad = tmp_path / "bad.dssec"
    bad.write_bytes(edit(path.read_bytes()))
    return bad


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda b: b[:-100], "truncated or damaged"),
        (lambda b: b[:-5000] + bytes([b[-5000] ^ 1]) + b[-4999:], "truncated or damaged"),
        (lambda b: b[:30], "truncated or damaged"),
        (lambda b: b"PK\x03\x04" + b[4:], "not a dssec_jax model file"),
        (lambda b: b.replace(b'"alpha": 1.0', b'"alpha": 2.0', 1), "truncated or damaged"),
    ],
)
def test_damaged_truncated_foreign_and_other_version_files_are_refused(
    saved, tmp_path, edit, match
):
    with pytest.raises(ValueError, match=match):
        DSSEC.load(_damage(saved[1], tmp_path, edit))


def _rewrite(path, tmp_path, change):
    """The file with its meta changed by ``change`` and its checksum made right again."""
    from dssec_jax import model_file

    line, body = path.read_bytes()[len(MAGIC) :].split(b"\n", 1)
    meta = json.loads(line)
    change(meta)
    meta["sha256"] = model_file._digest(meta, body)
    out = tmp_path / "rewritten.dssec"
    out.write_bytes(MAGIC + json.dumps(meta).encode() + b"\n" + body)
    return out


def test_earlier_formats_and_versions_load_and_later_formats_are_refused(saved, digits, tmp_path):
    est, path = saved

    def as_format_1(meta):  # 0.2.0's files: no known-label settings
        meta.update(format=1, library="0.2.0")
        del meta["params"]["label_weight"], meta["params"]["label_fraction"]

    old = DSSEC.load(_rewrite(path, tmp_path, as_format_1))
    assert old.get_params() == est.get_params()  # the absent settings take their defaults
    np.testing.assert_array_equal(old.predict(digits[0]), est.predict(digits[0]))
    later = _rewrite(path, tmp_path, lambda m: m.update(format=99, library="9.0.0"))
    with pytest.raises(ValueError, match="saved by dssec_jax 9.0.0 .*upgrade dssec_jax"):
        DSSEC.load(later)
    newer = _rewrite(path, tmp_path, lambda m: m["params"].update(dropout=0.1))
    with pytest.raises(ValueError, match="sets dropout, which dssec_jax .* does not know"):
        DSSEC.load(newer)


def test_missing_file_and_unfitted_save_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read the model file"):
        DSSEC.load(tmp_path / "none.dssec")
    with pytest.raises(ValueError, match="not fitted yet"):
        DSSEC().save(tmp_path / "m.dssec")


def test_the_run_driver_saves_the_final_model(tmp_path, digits):
    wd = tmp_path / "run"
    r = run("experiments.run", "--method=dssec", "--save_model", f"--workdir={wd}", *FLAGS_TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    est = DSSEC.load(wd / "seed_0" / "model.dssec")
    with np.load(wd / "seed_0" / "outputs.npz") as f:
        np.testing.assert_array_equal(est.labels_, f["labels"])
        np.testing.assert_array_equal(est.transform(digits[0]), f["embedding"])
    assert est.get_params()["random_state"] == 0 and est.n_features_in_ == 64


def test_a_loaded_pca_has_every_fitted_attribute_of_the_fitted_one(digits, tmp_path):
    est = DSSEC(n_clusters=10, method="pca_kmeans", n_init=2, random_state=0).fit(digits[0])
    est.save(tmp_path / "m.dssec")
    a, b = est._pca, DSSEC.load(tmp_path / "m.dssec")._pca
    fitted = sorted(k for k in vars(a) if k.endswith("_"))
    assert fitted == sorted(k for k in vars(b) if k.endswith("_"))
    for k in fitted:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert a.get_params() == b.get_params()
    np.testing.assert_array_equal(a.get_covariance(), b.get_covariance())
    np.testing.assert_array_equal(
        a.inverse_transform(a.transform(digits[0][:5])),
        b.inverse_transform(b.transform(digits[0][:5])),
    )


def test_the_seed_drawn_for_random_state_none_is_kept_and_saved(digits, tmp_path):
    x = digits[0][:400]
    est = DSSEC(n_clusters=10, method="ae_kmeans", **{**TINY, "random_state": None}).fit(x)
    assert isinstance(est.seed_, int) and est.get_params()["random_state"] is None
    drawn = {DSSEC(method="kmeans", n_clusters=2, n_init=1).fit(x).seed_ for _ in range(3)}
    assert len(drawn) > 1  # drawn afresh each fit, not a fixed seed
    again = DSSEC(n_clusters=10, method="ae_kmeans", **{**TINY, "random_state": est.seed_}).fit(x)
    np.testing.assert_array_equal(again.labels_, est.labels_)
    est.save(tmp_path / "m.dssec")
    assert DSSEC.load(tmp_path / "m.dssec").seed_ == est.seed_


def test_files_saved_by_version_0_2_0_load_and_predict_as_they_did():
    """Models saved by dssec_jax 0.2.0 (file format 1, before the known-label settings;
    ``tests/fixtures``, with the predictions 0.2.0 made) load in this version."""
    from sklearn.datasets import load_digits

    x = (load_digits().data / 16).astype(np.float32)[:300]
    expected = np.load(ROOT / "tests/fixtures/model_0.2.0_expected.npz")
    for method in ("dssec", "pca_kmeans"):
        est = DSSEC.load(ROOT / f"tests/fixtures/model_0.2.0_{method}.dssec")
        assert est.label_weight == 0.1 and est.label_fraction == 0.0  # absent: the defaults
        assert est.settings_ is None  # not recorded then
        np.testing.assert_array_equal(est.predict(x), expected[f"{method}_labels"])
        np.testing.assert_allclose(est.transform(x), expected[f"{method}_z"], rtol=1e-5, atol=1e-6)

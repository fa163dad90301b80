import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The tests write no compiled programs to disk (the subprocesses of the driver tests inherit
# this): on a clean machine writing every one costs time and saves nothing.
# tests/test_compile_cache.py turns the cache on in folders of its own.
os.environ.setdefault("DSSEC_COMPILE_CACHE", "off")


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)


@pytest.fixture(scope="session")
def data_dir():
    """The shared real-data folder (DSSEC_DATA_DIR); tests needing it skip without it."""
    path = os.environ.get("DSSEC_DATA_DIR")
    if not path or not pathlib.Path(path).is_dir():
        pytest.skip("DSSEC_DATA_DIR is not set to the shared data folder")
    return pathlib.Path(path)


# A network small enough for a test to train in seconds on digits.
TINY_NET = dict(hidden_dims=(32, 32, 64), batch_size=64)


def pytest_sessionfinish(session, exitstatus):
    """With DSSEC_NO_SKIPS=1 (set by .ci/run) a skipped test fails the run: CI has the
    real data and every extra installed, so a skip there means a test silently lost."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("DSSEC_NO_SKIPS") == "1" and skipped and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(f"DSSEC_NO_SKIPS=1: {len(skipped)} test(s) skipped; failing the run")
        session.exitstatus = 1

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The tests' programs are small and many: compiling them takes longer than running them, so
# XLA's optimisations are mostly off in the test processes and their subprocesses (about a
# third less time for a compile-bound test; BUILD_NOTES, "The test suite's time"). The
# estimator's quality thresholds are fitted in a process at the default (test_estimator.py).
# Set JAX_DISABLE_MOST_OPTIMIZATIONS=0 to run every test at the default.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

# One compilation cache per test run (per xdist worker), in pytest's temporary folder: the
# driver tests' subprocesses compile the same small programs again and again (BUILD_NOTES,
# "The test suite's time"). Nothing is written to the user's cache.
# tests/test_compile_cache.py turns the cache on in folders of its own.


@pytest.fixture(scope="session", autouse=True)
def _compile_cache_of_this_run(tmp_path_factory):
    if "DSSEC_COMPILE_CACHE" not in os.environ:
        os.environ["DSSEC_COMPILE_CACHE"] = str(tmp_path_factory.mktemp("jax_compilation"))
    # the benchmarks' smoke runs measure their matmul bound in 2 calls, not 150 (machine.py)
    os.environ.setdefault("DSSEC_BENCH_TINY", "1")


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


def run_module(module: str, *args: str, env=None, cwd=None) -> subprocess.CompletedProcess:
    """``python -m module args`` with this repository importable, its output captured."""
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=600,
    )


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

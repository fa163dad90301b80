"""Every script in examples/ runs, on a tiny budget, and prints what it promises."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
EXPECT = {
    "quickstart.py": "ACC/NMI/ARI",
    "own_data.py": "classes: 4",
    "custom_loop.py": "'acc'",
    "flax_module.py": "['encoder', 'decoder']",
    "choose_k.py": "chosen k:",
    "save_load.py": "same predictions after loading: True",
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES) == sorted(EXPECT)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path):
    env = {**os.environ, "DSSEC_EXAMPLES_TINY": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert EXPECT[path.name] in r.stdout, r.stdout[-2000:]

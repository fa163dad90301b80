"""The bottleneck benchmark end to end on a tiny input (its FLOP count and its JSON)."""
import json
import subprocess
import sys

from conftest import ROOT


def test_bottleneck_breakdown_runs_and_writes_json(tmp_path):
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.bottleneck", "--dim=16",
                        "--batch_size=8", "--repeats=1", f"--bottleneck_out={out}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    # FLOPs of a step: forward, weight gradients, input gradients of all but the first layer
    pairs = [(16, 500), (500, 500), (500, 2000), (2000, 10)]
    fwd = 2.0 * 2 * sum(a * b for a, b in pairs)  # encoder and its mirror
    assert abs(res["step_gflop"] - 8 * (3 * fwd - 2.0 * 16 * 500) / 1e9) < 1e-9
    for name in ("float32", "bf16"):
        ms = res["precisions"][name]
        assert set(ms) == {"matmuls_fwd", "matmuls_dw", "matmuls_dx", "matmuls_dw_pre",
                           "matmuls_dx_pre", "matmuls", "grad", "adam", "step"}
        assert all(v > 0 for v in ms.values())
    assert "matmul share" in r.stdout

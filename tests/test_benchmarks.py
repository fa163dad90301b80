"""The benchmarks end to end on tiny inputs: bottleneck (FLOP count, JSON), paper_run, gpu_check.sh."""

import dataclasses
import json
import os
import subprocess
import sys

from conftest import ROOT, run_module


def test_bottleneck_breakdown_runs_and_writes_json(tmp_path):
    out = tmp_path / "b.json"
    r = run_module(
        "benchmarks.bottleneck",
        "--dim=16",
        "--hidden=256,256,512",  # small enough to be quick, large enough that matmuls dominate
        "--batch_size=8",
        "--repeats=1",
        f"--bottleneck_out={out}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    # every benchmark names its machine and measures its matmul bound in the same process
    m = res["machine"]
    assert m["processor"] and m["cores"] >= 1 and m["dot_gflops"]["float32"] > 0
    assert m["bound_from_tiny"] is True  # the tests' 2-call bound is marked as such
    assert res["network"] == [16, 256, 256, 512, 10]
    # ... on the shapes of the network it times, at its batch size
    assert m["bound_shapes"] == {"network": [16, 256, 256, 512, 10], "batch_size": 8}
    assert r.stdout.startswith("machine: ") or "\nmachine: " in r.stdout
    # the step's FLOPs against XLA's own count for the compiled gradient of the same
    # autoencoder (matmuls, plus the element-wise work the formula leaves out: under 1 %)
    import jax
    import jax.numpy as jnp

    from dssec_jax import sae

    params = sae.init_params(jax.random.key(0), (16, 256, 256, 512, 10))
    x = jnp.ones((8, 16))
    cost = (
        jax.jit(jax.grad(lambda p: jnp.mean((sae.forward(p, x, "relu")[1] - x) ** 2)))
        .lower(params)
        .compile()
        .cost_analysis()
    )
    xla_flops = (cost[0] if isinstance(cost, list) else cost)["flops"]
    assert abs(res["step_gflop"] * 1e9 - xla_flops) < 0.01 * xla_flops, (
        res["step_gflop"],
        xla_flops,
    )
    for name in ("float32", "bf16"):
        ms = res["precisions"][name]
        assert set(ms) == {
            "matmuls_fwd",
            "matmuls_dw",
            "matmuls_dx",
            "matmuls_dw_pre",
            "matmuls_dx_pre",
            "matmuls",
            "grad",
            "adam",
            "step",
        }
        assert all(v > 0 for v in ms.values())
    assert "matmul share" in r.stdout


def test_paper_run_times_each_phase_and_projects_from_the_slice(tmp_path):
    out = tmp_path / "p.json"
    slice_ = ["--pretrain_epochs=3", "--max_iter=90", "--update_interval=30", "--n_init=2"]
    paper = ["--checkpoint_interval=0", "--paper_epochs=10", "--paper_iter=300"]
    r = run_module("benchmarks.paper_run", "--dataset=digits", *slice_, *paper, f"--out={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    m, p = res["measured_s"], res["projected_s"]
    assert res["slice"]["pretrain_epochs"] == 3 and res["slice"]["max_iter"] == 90
    assert all(m[k] > 0 for k in ("epoch_first", "epoch_median", "interval_median", "refresh"))
    assert m["checkpoint_writes"] >= 3  # every interval at --checkpoint_interval=0, and stage ends
    assert abs(p["more_pretraining"] - 7 * m["epoch_median"]) < 1e-9
    assert abs(p["more_clustering"] - 7 * m["interval_median"]) < 1e-9  # 10 - 3 intervals
    assert (
        abs(
            p["total"]
            - (p["slice"] + p["more_pretraining"] + p["more_clustering"] + p["more_checkpoints"])
        )
        < 1e-9
    )
    assert "projected paper budget" in r.stdout
    # the arithmetic bound: the budget's matmul FLOPs (digits: n 1,797, d 64) at the
    # same process's float32 jnp.dot rate
    enc = [(64, 500), (500, 500), (500, 2000), (2000, 10)]
    fwd = 4.0 * sum(a * b for a, b in enc)
    step = 3 * fwd - 2.0 * 64 * 500
    b = res["paper_budget"]
    assert abs(b["tflop"]["pretraining"] * 1e12 - 10 * 1797 * step) < 1e-3 * step
    assert abs(b["tflop"]["clustering"] * 1e12 - 300 * 256 * step) < 1e-3 * step
    assert abs(b["tflop"]["refreshes"] * 1e12 - 11 * 1797 * fwd / 2) < 1e-3 * step
    assert res["machine"]["bound_shapes"] == {
        "network": [64, 500, 500, 2000, 10],
        "batch_size": 256,
    }
    rate = res["machine"]["dot_gflops"]["float32"] * 1e9
    assert abs(b["arithmetic_bound_s"] - sum(b["tflop"].values()) * 1e12 / rate) < 1e-9
    assert "arithmetic bound" in r.stdout


def test_the_paper_budget_bound_counts_dec_without_its_decoder_and_refreshes_at_their_precision():
    from benchmarks.paper_run import arithmetic_bound, paper_flops
    from dssec_jax.methods import Config

    d, h, n = 8, (4, 4, 6), 100
    enc = [(8, 4), (4, 4), (4, 6), (6, 2)]
    fwd_enc = 2.0 * sum(a * b for a, b in enc)
    kw = dict(n_clusters=3, hidden_dims=h, embed_dim=2, batch_size=16, update_interval=10)
    dec = paper_flops(Config(method="dec", **kw), n, d, epochs=5, iterations=25)
    # DEC's clustering step: the encoder's forward and backward, no input gradient at layer 0
    assert dec["clustering"] == 25 * 16 * (3 * fwd_enc - 2.0 * d * 4)
    assert dec["refreshes"] == 4 * n * fwd_enc  # iterations 0, 10, 20 and the end
    assert dec["pretraining"] == 5 * n * (3 * 2 * fwd_enc - 2.0 * d * 4)
    rates = {"float32": 100.0, "bf16": 400.0}
    cfg = Config(method="dssec", refresh_precision="bf16", **kw)
    f = paper_flops(cfg, n, d, epochs=5, iterations=25)
    want = (f["pretraining"] + f["clustering"]) / 100e9 + f["refreshes"] / 400e9
    assert arithmetic_bound(cfg, f, rates) == want
    both = dataclasses.replace(cfg, precision="bf16", refresh_precision=None)
    assert arithmetic_bound(both, f, rates) == sum(f.values()) / 400e9


def test_throughput_counts_the_refreshes_in_the_clustering_phases_share_of_the_bound(tmp_path):
    out = tmp_path / "t.json"
    args = ["--n=1024", "--dim=32", "--steps=2", "--repeats=1", "--update_interval=10"]
    r = run_module("benchmarks.throughput", *args, "--hidden=48,40,96", f"--out={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["network"] == [32, 48, 40, 96, 10]
    enc = [(32, 48), (48, 40), (40, 96), (96, 10)]  # the FLOPs follow --hidden
    encoder = 2.0 * sum(a * b for a, b in enc)
    train = 3 * 2 * encoder - 2.0 * 32 * 48
    assert abs(res["mflop_per_sample"]["train"] * 1e6 - train) < 1e-6 * train
    clus = res["rows"][-1]
    per_sample = train + 1024 * encoder / (10 * 256)  # a refresh of n every 10 steps of 256
    assert abs(clus["gflops"] - clus["samples_per_s"] * per_sample / 1e9) < 1e-9 * clus["gflops"]
    assert (
        abs(clus["fraction_of_matmul"] - clus["gflops"] / res["matmul_gflops"]["float32"]) < 1e-12
    )
    # the bound is measured once, on the timed network at its batch size, and recorded so
    assert res["machine"]["dot_gflops"] == res["matmul_gflops"]
    assert res["machine"]["bound_shapes"] == {"network": [32, 48, 40, 96, 10], "batch_size": 256}


def test_gpu_check_script_runs_at_a_tiny_budget(tmp_path):
    env = {
        **os.environ,
        "GPU_CHECK_TINY": "1",
        "GPU_CHECK_OUT": str(tmp_path),
        "PYTHON": sys.executable,
    }
    r = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    for line in (
        "== device",
        "projected paper-scale MNIST run",
        "batched 2 runs:",
        "fit wall",
        "== done",
    ):
        assert line in r.stdout, line
    assert (
        json.loads((tmp_path / "fit" / "run" / "results.json").read_text())["per_seed"][0]["n_iter"]
        == 60
    )


def test_xla_flags_times_each_back_end_in_its_own_process(tmp_path):
    out = tmp_path / "x.json"
    tiny = ["--n=300", "--dim=16", "--batch_size=32", "--steps=2", "--repeats=1", "--rounds=1"]
    tiny.append("--hidden=32,32,64")  # the children get it too
    r = run_module("benchmarks.xla_flags", *tiny, "--variants=default,xnn_dot", f"--xla_out={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    whole = json.loads(out.read_text())
    (row,) = whole["rounds"]
    assert set(row) == {"default", "xnn_dot"}
    assert whole["machine"]["bound_shapes"] == {"network": [16, 32, 32, 64, 10], "batch_size": 32}
    for res in row.values():
        assert res["network"] == [16, 32, 32, 64, 10]
        for dt in ("float32", "bf16"):
            assert res[dt]["pretrain_samples_s"] > 0 and len(res[dt]["q_colsum"]) == 10
            # Q's columns sum to the number of rows, on every back end
            assert abs(sum(res[dt]["q_colsum"]) - 300) < 0.5


def test_scaling_measures_time_and_peak_memory_per_size(tmp_path):
    out = tmp_path / "s.json"
    r = run_module(
        "benchmarks.scaling", "--sizes=2000,4000", "--dim=16", "--iterations=20", f"--out={out}"
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert [s["n"] for s in res["sizes"]] == [2000, 4000] and res["machine"]["processor"]
    assert res["machine"]["bound_shapes"]["network"] == [16, 500, 500, 2000, 10]
    for s in res["sizes"]:
        assert s["epoch_s"] > 0 and s["iteration_s"] > 0 and s["peak_gb"] > s["data_gb"] > 0
    assert "us/sample" in r.stdout and "x the data" in r.stdout
    step = 3 * 2 * 2.0 * (16 * 500 + 500 * 500 + 500 * 2000 + 2000 * 10) - 2.0 * 16 * 500
    dot = res["machine"]["dot_gflops"]["float32"]
    for s in res["sizes"]:
        want = s["n"] / s["epoch_s"] * step / 1e9 / dot
        assert abs(s["epoch_fraction_of_matmul"] - want) < 1e-9 * want
    assert "of the dot rate" in r.stdout


def test_bf16_backward_times_the_backward_variants_side_by_side(tmp_path):
    out = tmp_path / "b.json"
    r = run_module(
        "benchmarks.bf16_backward",
        "--n=256",
        "--dim=16",
        "--hidden=64,64,128",
        "--batch_size=32",
        "--steps=2",
        "--repeats=1",
        "--rounds=1",
        f"--bf16_out={out}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    (rnd,) = res["rounds"]
    assert res["network"] == [16, 64, 64, 128, 10]
    assert res["machine"]["bound_shapes"] == {"network": [16, 64, 64, 128, 10], "batch_size": 32}
    assert set(rnd) == {"float32", "bf16", "bf16_xla_backward", "bf16_row_major"}
    assert all(v > 0 for v in rnd.values()) and res["machine"]["processor"]
    assert "bf16 / float32" in r.stdout
    (frac,) = res["fraction_of_matmul"]
    step = 3 * 2 * 2.0 * (16 * 64 + 64 * 64 + 64 * 128 + 128 * 10) - 2.0 * 16 * 64
    dot = res["machine"]["dot_gflops"]
    for k, v in rnd.items():
        want = v * step / 1e9 / dot["float32" if k == "float32" else "bf16"]
        assert abs(frac[k] - want) < 1e-9 * want, k

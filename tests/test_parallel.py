"""Data parallelism on 8 fake CPU devices and over two processes on localhost (in
subprocesses, as XLA_FLAGS and the distributed start-up must come first)."""

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import ROOT

from dssec_jax import parallel

SCRIPT = r"""
import json, numpy as np, jax
from sklearn.datasets import load_digits
from dssec_jax import parallel, pipeline
from dssec_jax.methods import Config
assert len(jax.devices()) == 8, jax.devices()
d = load_digits(); x = (d.data / 16).astype(np.float32)[:800]
base = dict(method="dssec", hidden_dims=(64, 64, 128), pretrain_epochs=4, batch_size=128,
            update_interval=10, max_iter=40, n_init=3)
real, shares = parallel.place, []
def place(tree, mesh, rows=False):  # the share of its rows each device holds of the data
    out = real(tree, mesh, rows)
    if rows and mesh is not None:
        shares.extend(a.sharding.shard_shape(a.shape)[0] / a.shape[0] for a in jax.tree.leaves(out))
    return out
parallel.place = place
one = pipeline.fit(x, Config(**base), 0)
assert not shares  # one device: nothing placed on a mesh
many = pipeline.fit(x, Config(**base, data_parallel=True), 0)
try:
    pipeline.fit(x, Config(**{**base, "batch_size": 100}, data_parallel=True), 0)
    err = ""
except ValueError as e:
    err = str(e)
try:  # 101 samples: the batch is lowered to them
    pipeline.fit(x[:101], Config(**base, data_parallel=True), 0)
    lowered = ""
except ValueError as e:
    lowered = str(e)
print(json.dumps({"agree": float(np.mean(one.labels == many.labels)), "lowered": lowered,
                  "emb": float(np.max(np.abs(one.embedding - many.embedding))),
                  "scale": float(np.max(np.abs(one.embedding))),
                  "iters": [one.n_iter, many.n_iter], "err": err, "shares": sorted(set(shares))}))
"""


def test_eight_devices_match_one_device():
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    }
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["agree"] > 0.99 and out["iters"][0] == out["iters"][1]
    assert out["emb"] < 0.02 * out["scale"]
    assert "does not divide over 8 devices" in out["err"]
    assert "the data's 101 samples (the batch: a batch never exceeds the data)" in out["lowered"]
    assert out["shares"] == [1 / 8]  # each device holds an eighth of the rows


SHARD_RUNS = r"""
import json, numpy as np, jax
from sklearn.datasets import load_digits
from dssec_jax import parallel
from dssec_jax.methods import Config
from dssec_jax.sweep import fit_batched
assert len(jax.devices()) == 8
real, shares = parallel.put_rows, []
def put_rows(tree, mesh):  # the share of the runs each device holds
    out = real(tree, mesh)
    shares.extend(a.sharding.shard_shape(a.shape)[0] / a.shape[0] for a in jax.tree.leaves(out))
    return out
parallel.put_rows = put_rows
d = load_digits(); x = (d.data / 16).astype(np.float32)[:600]
cfgs = [Config(method="dssec", hidden_dims=(32, 32, 64), pretrain_epochs=2, batch_size=64,
               update_interval=10, max_iter=30, n_init=2, gamma=g) for g in (0.1, 0.3) * 4]
seeds = [0, 0, 1, 1, 2, 2, 3, 3]
plain = fit_batched(x, cfgs, seeds)
assert not shares  # the runs on one device
split = fit_batched(x, cfgs, seeds, shard_runs=True)
try:
    fit_batched(x, cfgs[:3], seeds[:3], shard_runs=True)
    err = ""
except ValueError as e:
    err = str(e)
print(json.dumps({"agree": min(float(np.mean(a.labels == b.labels)) for a, b in zip(plain, split)),
                  "iters": [[a.n_iter, b.n_iter] for a, b in zip(plain, split)], "err": err,
                  "shares": sorted(set(shares))}))
"""


def test_sweep_axis_sharded_over_eight_devices():
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    }
    r = subprocess.run(
        [sys.executable, "-c", SHARD_RUNS], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["agree"] > 0.99
    assert all(a == b for a, b in out["iters"])
    assert "3 runs do not divide over 8 devices" in out["err"]
    assert out["shares"] == [1 / 8]  # one run of the eight per device


TWO_PROCESSES = r"""
import json, sys, numpy as np
from dssec_jax import parallel
distributed = parallel.initialize()
import jax
from sklearn.datasets import load_digits
from dssec_jax import pipeline
from dssec_jax.methods import Config
d = load_digits(); x = (d.data / 16).astype(np.float32)[:800]
cfg = Config(method="dssec", hidden_dims=(64, 64, 128), pretrain_epochs=4, batch_size=128,
             update_interval=10, max_iter=40, n_init=3, data_parallel=distributed)
res = pipeline.fit(x, cfg, 0)
print(json.dumps({"process": jax.process_index(), "devices": jax.device_count(),
                  "labels": res.labels.tolist(), "iters": res.n_iter,
                  "emb": float(np.abs(res.embedding).max())}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _cpu_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    return env


def _two_processes(script: str, *args: str) -> list:
    """Two processes of ``script`` joined through a coordinator on localhost."""
    coord = f"localhost:{_free_port()}"
    return [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={
                **_cpu_env(),
                "DSSEC_COORDINATOR": coord,
                "DSSEC_NUM_PROCESSES": "2",
                "DSSEC_PROCESS_ID": str(i),
            },
        )
        for i in range(2)
    ]


def test_two_processes_on_localhost_agree_with_one():
    base = _cpu_env()
    procs = _two_processes(TWO_PROCESSES)
    single = subprocess.run(
        [sys.executable, "-c", TWO_PROCESSES], env=base, capture_output=True, text=True, timeout=600
    )
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads(single.stdout.strip().splitlines()[-1])
    assert [o["process"] for o in outs] == [0, 1] and outs[0]["devices"] == 2
    assert one["devices"] == 1
    assert outs[0]["labels"] == outs[1]["labels"] and outs[0]["iters"] == outs[1]["iters"]
    agree = sum(a == b for a, b in zip(outs[0]["labels"], one["labels"])) / len(one["labels"])
    assert agree > 0.99 and outs[0]["iters"] == one["iters"]


def test_initialize_needs_every_setting(monkeypatch):
    for k in parallel.ENV:
        monkeypatch.delenv(k, raising=False)
    assert parallel.initialize() is False
    monkeypatch.setenv("DSSEC_COORDINATOR", "localhost:1")
    with pytest.raises(ValueError, match="DSSEC_NUM_PROCESSES"):
        parallel.initialize()
    with pytest.raises(ValueError, match="must lie in"):
        parallel.initialize(num_processes=2, process_id=2)


SPLIT_CACHE = """
import json, sys, pathlib
import numpy as np
from dssec_jax import parallel, checkpoint
parallel.initialize()
import jax
i = jax.process_index()
root = pathlib.Path(sys.argv[1])
store = checkpoint.FileStore(root / f"run{i}", root / f"cache{i}", "key")  # not shared
store.put("pretrained", {"w": np.ones(3)}, {})  # written by process 0 only
try:
    store.get("pretrained")
except checkpoint.CheckpointError as e:
    print(json.dumps({"process": i, "refused": str(e)}))
    sys.exit(3)
print(json.dumps({"process": i, "refused": None}))
"""


def test_checkpoints_on_unshared_folders_are_refused_by_every_process(tmp_path):
    """Process 0 writes, every process reads: with a folder per process, process 0 would
    resume from its checkpoint while process 1 starts afresh. Both must refuse."""
    procs = _two_processes(SPLIT_CACHE, str(tmp_path))
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 3, stderr[-3000:]
        assert (
            "filesystem shared by every process" in json.loads(stdout.splitlines()[-1])["refused"]
        )
    assert (tmp_path / "cache0").exists() and not (tmp_path / "cache1").exists()


PLACE_SCRIPT = r"""
import json, resource, numpy as np, jax
from dssec_jax import parallel
jax.device_put(np.ones(8, np.float32)).block_until_ready()  # the backend up first
x = np.ones((100_000, 784), np.float32)  # 314 MB
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
placed = parallel.place(x, None, rows=True)
placed.block_until_ready()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"grew": (peak - before) / x.nbytes, "same": bool(np.array_equal(placed, x))}))
"""


def test_placing_data_on_the_device_copies_it_once():
    """A large fit holds the caller's array and one device copy: placing the data must not
    pass through a second, transient copy (jnp.asarray of a host array makes two on the
    CPU, which put a million-sample fit over 2.5 times its data)."""
    out = subprocess.run(
        [sys.executable, "-c", PLACE_SCRIPT], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["same"]
    assert res["grew"] < 1.5, res

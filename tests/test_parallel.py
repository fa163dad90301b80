"""Data parallelism on 8 fake CPU devices (in a subprocess, as XLA_FLAGS must be set first)."""
import json
import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = r"""
import json, numpy as np, jax
from sklearn.datasets import load_digits
from dssec_jax import pipeline
from dssec_jax.methods import Config
assert len(jax.devices()) == 8, jax.devices()
d = load_digits(); x = (d.data / 16).astype(np.float32)[:800]
base = dict(method="dssec", hidden_dims=(64, 64, 128), pretrain_epochs=4, batch_size=128,
            update_interval=10, max_iter=40, n_init=3)
one = pipeline.fit(x, Config(**base), 0)
many = pipeline.fit(x, Config(**base, data_parallel=True), 0)
try:
    pipeline.fit(x, Config(**{**base, "batch_size": 100}, data_parallel=True), 0)
    err = ""
except ValueError as e:
    err = str(e)
print(json.dumps({"agree": float(np.mean(one.labels == many.labels)),
                  "emb": float(np.max(np.abs(one.embedding - many.embedding))),
                  "scale": float(np.max(np.abs(one.embedding))),
                  "iters": [one.n_iter, many.n_iter], "err": err}))
"""


def test_eight_devices_match_one_device():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["agree"] > 0.99 and out["iters"][0] == out["iters"][1]
    assert out["emb"] < 0.02 * out["scale"]
    assert "does not divide over 8 devices" in out["err"]

"""XLA's CPU matmul back ends, side by side: the library's steps under each ``XLA_FLAGS``.

    python -m benchmarks.xla_flags [--rounds=2] [--n=70000] [--steps=60]

XLA reads its flags once per process, so every variant runs in a child process of its
own, and the variants alternate round by round. Each child times, in float32 and bf16,
the library's pretraining steps (relu, sparsity on the three hidden layers), its DSSEC
clustering steps and one full-dataset refresh (``benchmarks.throughput``'s timers, the
MNIST shape), and checks that the refresh's Q agrees with the default back end's to
within bf16 rounding. JSON goes to ``--xla_out``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from absl import app, flags

from benchmarks import machine
from benchmarks import throughput as tp

VARIANTS = {
    "default": "",
    "onednn": "--xla_cpu_use_onednn=true",
    "xnn_dot": "--xla_cpu_experimental_xnn_fusion_type=dot",
    "ynn_dot": "--xla_cpu_experimental_ynn_fusion_type=dot",
    "xnn_graph": "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
}

flags.DEFINE_integer("rounds", 2, "alternating rounds over the variants")
flags.DEFINE_list("variants", list(VARIANTS), "which XLA_FLAGS variants to time")
flags.DEFINE_boolean("child", False, "internal: time the current process's XLA_FLAGS")
flags.DEFINE_string("xla_out", "benchmarks/results/xla_flags.json", "JSON output path")
FLAGS = flags.FLAGS


def child() -> dict:
    """Samples/s of pretraining and clustering steps and seconds per refresh, per dtype,
    a fingerprint of the refreshed Q (its column sums) to compare back ends, and the
    network timed."""
    import jax
    import jax.numpy as jnp

    from dssec_jax import sae, train

    x = jax.random.uniform(jax.random.PRNGKey(0), (FLAGS.n, FLAGS.dim))
    out: dict = {"network": list(tp.dims())}
    for name, cd in (("float32", jnp.float32), ("bf16", jnp.bfloat16)):
        step_rate, refresh_s = tp.cluster_rates(x, cd)
        ae = sae.init_params(jax.random.PRNGKey(0), tp.dims())
        params = {"ae": ae, "centers": jax.random.normal(jax.random.PRNGKey(2), (10, tp.EMBED))}
        q = train.refresh_fn(("relu",) * 3, cd)(params, x, 1.0)[0]
        out[name] = {
            "pretrain_samples_s": tp.pretrain_rate(("relu",) * 3, (0, 1, 2), x, cd),
            "cluster_samples_s": step_rate,
            "refresh_s": refresh_s,
            "q_colsum": np.asarray(jnp.sum(q, axis=0), np.float64).tolist(),
        }
    return out


def q_gap(colsum, base) -> float:
    """Largest difference of Q's column means between two back ends."""
    return float(np.max(np.abs(np.subtract(colsum, base))) / FLAGS.n)


def run_variant(flag: str) -> dict:
    argv = [sys.executable, "-m", "benchmarks.xla_flags", "--child"]
    argv += [f"--{k}={getattr(FLAGS, k)}" for k in ("n", "dim", "steps", "repeats", "batch_size")]
    argv.append(f"--hidden={','.join(FLAGS.hidden)}")
    env = {**os.environ, "XLA_FLAGS": flag}
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.child:
        print(json.dumps(child()))
        return
    from dssec_jax.checkpoint import atomic_write_json

    unknown = set(FLAGS.variants) - set(VARIANTS)
    if unknown:
        raise app.UsageError(f"--variants: unknown {sorted(unknown)}; choose from {list(VARIANTS)}")
    rounds = []
    for r in range(FLAGS.rounds):
        row = {v: run_variant(VARIANTS[v]) for v in FLAGS.variants}
        rounds.append(row)
        for v, res in row.items():
            if "error" in res:
                print(f"round {r + 1} {v:10s} failed: {res['error']}", flush=True)
                continue
            for dt in ("float32", "bf16"):
                m, base = res[dt], row[FLAGS.variants[0]].get(dt)
                gap = np.nan if base is None else q_gap(m["q_colsum"], base["q_colsum"])
                print(
                    f"round {r + 1} {v:10s} {dt:7s} pretrain {m['pretrain_samples_s']:8.0f}/s "
                    f"cluster {m['cluster_samples_s']:8.0f}/s refresh {m['refresh_s']:.3f} s "
                    f"Q vs {FLAGS.variants[0]} {gap:.1e}",
                    flush=True,
                )
    atomic_write_json(
        FLAGS.xla_out,
        machine.record({"variants": VARIANTS, "rounds": rounds}, tp.dims(), FLAGS.batch_size),
    )


if __name__ == "__main__":
    app.run(main)

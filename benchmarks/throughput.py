"""Throughput of the compiled training against the matmul bound (and optionally PyTorch).

    python -m benchmarks.throughput [--n=70000] [--dim=784] [--compare_torch] [--precision=bf16]

Measures in one process: (a) GFLOP/s of jnp.dot on the layer shapes (float32, bfloat16);
(b) pretraining samples/s (relu / sigmoid, with / without sparsity); (c) clustering-phase
samples/s amortised over a refresh every --update_interval iterations; (d) seconds of one
full-dataset Q/P refresh; (e) projected wall time of a paper-scale MNIST run (200 epochs +
20,000 iterations). Writes a table to stdout and JSON to --out.
"""

from __future__ import annotations

import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from benchmarks import machine
from dssec_jax import sae, train
from dssec_jax.checkpoint import atomic_write_json

flags.DEFINE_integer("n", 70000, "dataset size (MNIST: 70,000)")
flags.DEFINE_integer("dim", 784, "input dimension (MNIST: 784)")
flags.DEFINE_list(
    "hidden", ["500", "500", "2000"], "the three hidden layers' widths (the paper's network)"
)
flags.register_validator(
    "hidden",
    lambda h: len(h) == 3 and all(w.isdigit() and int(w) > 0 for w in h),
    "--hidden takes three positive widths, e.g. --hidden=500,500,2000",
)
flags.DEFINE_integer("batch_size", 256, "minibatch size")
flags.DEFINE_integer("steps", 60, "train steps per timed call")
flags.DEFINE_integer("repeats", 3, "timed repeats (median reported)")
flags.DEFINE_integer("update_interval", 30, "clustering iterations between refreshes (both sides)")
flags.DEFINE_enum("precision", "float32", ["float32", "bf16"], "matmul precision of the model")
flags.DEFINE_boolean(
    "compare_torch",
    False,
    "time a plain PyTorch loop of the same network, "
    "interleaved with ours (pip install torch==2.13.0)",
)
flags.DEFINE_string("out", "benchmarks/results/throughput.json", "JSON output path")
FLAGS = flags.FLAGS

EMBED = 10


def dims():
    """The network's widths: --dim, the --hidden layers, the embedding."""
    return (FLAGS.dim, *(int(h) for h in FLAGS.hidden), EMBED)


def layer_pairs():
    return machine.layer_pairs(dims())


def flops_per_sample(kind: str) -> float:
    """``machine.flops_per_sample`` for --dim."""
    return machine.flops_per_sample(kind, dims())


def cluster_flops_per_sample(n: int) -> float:
    """Matmul FLOPs per trained sample of the clustering phase: the step's, plus its share
    of the refresh, an encoder pass over n samples every --update_interval steps of
    --batch_size."""
    refresh = n * flops_per_sample("encoder") / (FLAGS.update_interval * FLAGS.batch_size)
    return flops_per_sample("train") + refresh


def median_time(fn, repeats):
    fn()  # compile / warm up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def matmul_gflops(dtype) -> float:
    return machine.matmul_gflops(dtype, FLAGS.batch_size, layer_pairs(), repeats=FLAGS.repeats)


def pretrain_rate(acts, sparse_layers, x, cd) -> float:
    fn = train.autoencoder_steps(
        train.Net(acts, sparse_layers, compute_dtype=cd),
        train.Optimizer("adam", 1e-3),
        steps=FLAGS.steps,
        batch_size=FLAGS.batch_size,
    )
    params = sae.init_params(jax.random.PRNGKey(0), dims())
    state = [train.init_state(params, train.make_optimizer("adam", 1e-3))]
    hp = train.hyper(beta=1.0, rho=0.05)

    def run():
        state[0], aux = fn(state[0], x, jax.random.PRNGKey(1), FLAGS.steps, hp)
        jax.block_until_ready(aux)

    return FLAGS.steps * FLAGS.batch_size / median_time(run, FLAGS.repeats)


def amortised(step_rate: float, refresh_s: float) -> float:
    """Clustering-phase samples/s with one refresh every --update_interval steps:
    T B / (T B / step_rate + refresh_s)."""
    T, B = FLAGS.update_interval, FLAGS.batch_size
    return T * B / (T * B / step_rate + refresh_s)


def cluster_rates(x, cd, sparse_layers=(0, 1, 2)) -> tuple[float, float]:
    """(samples/s of the clustering steps alone, seconds per full refresh); DSSEC's loss,
    or IDEC's with ``sparse_layers=()``."""
    acts = ("relu",) * 3
    fn = train.clustering_steps(
        train.Net(acts, sparse_layers, compute_dtype=cd),
        train.Optimizer("adam", 1e-3),
        use_decoder=True,
        steps=FLAGS.steps,
        batch_size=FLAGS.batch_size,
    )
    ae = sae.init_params(jax.random.PRNGKey(0), dims())
    params = {"ae": ae, "centers": jax.random.normal(jax.random.PRNGKey(2), (10, EMBED))}
    state = [train.init_state(params, train.make_optimizer("adam", 1e-3))]
    refresh = train.refresh_fn(acts, cd)
    hp = train.hyper(gamma=0.1, beta=1.0, rho=0.05)
    p = jnp.full((x.shape[0], 10), 0.1)

    def steps():
        state[0], aux = fn(state[0], (x, p), jax.random.PRNGKey(1), FLAGS.steps, hp)
        jax.block_until_ready(aux)

    def ref():
        jax.block_until_ready(refresh(state[0].params, x, 1.0))

    return FLAGS.steps * FLAGS.batch_size / median_time(steps, FLAGS.repeats), median_time(
        ref, FLAGS.repeats
    )


def torch_rates(x_np) -> dict:
    """A straightforward PyTorch loop of the same network: pretraining steps, IDEC
    clustering steps (L_rec + 0.1 KL(P||Q)) and a no-grad encoder refresh of Q and P.
    With --precision=bf16 every forward pass runs under ``torch.autocast`` (bfloat16 on the
    CPU), PyTorch's own mixed precision and the peer of our bf16 matmuls."""
    import contextlib

    import torch
    from torch import nn

    def amp():
        if FLAGS.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    torch.manual_seed(0)
    d = dims()
    enc, dec = [], []
    for i, (a, b) in enumerate(zip(d[:-1], d[1:])):
        enc += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(d) - 2 else [])
    rd = d[::-1]
    for i, (a, b) in enumerate(zip(rd[:-1], rd[1:])):
        dec += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(rd) - 2 else [])
    enc, dec = nn.Sequential(*enc), nn.Sequential(*dec)
    model = nn.Sequential(enc, dec)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.from_numpy(np.array(x_np))
    B = FLAGS.batch_size

    def run():
        perm = torch.randperm(len(x))
        for s in range(FLAGS.steps):
            xb = x[perm[s * B : (s + 1) * B]]
            with amp():
                loss = ((model(xb).float() - xb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    centers = nn.Parameter(torch.randn(10, EMBED))
    copt = torch.optim.Adam(list(model.parameters()) + [centers], 1e-3)
    p = torch.full((len(x), 10), 0.1)

    def soft_assign(z):
        q = 1.0 / (1.0 + torch.cdist(z, centers) ** 2)
        return q / q.sum(1, keepdim=True)

    def cluster_steps():
        perm = torch.randperm(len(x))
        for s in range(FLAGS.steps):
            b = perm[s * B : (s + 1) * B]
            xb, pb = x[b], p[b]
            with amp():
                z = enc(xb)
                x_hat = dec(z)
            q = soft_assign(z.float())
            kl = (pb * (torch.log(pb) - torch.log(q))).sum(1).mean()
            loss = ((x_hat.float() - xb) ** 2).mean() + 0.1 * kl
            copt.zero_grad()
            loss.backward()
            copt.step()

    def ref():
        nonlocal p
        with torch.no_grad(), amp():
            q = torch.cat(
                [soft_assign(enc(x[i : i + 4096]).float()) for i in range(0, len(x), 4096)]
            )
            w = q**2 / q.sum(0)
            p = w / w.sum(1, keepdim=True)

    step_rate = FLAGS.steps * B / median_time(cluster_steps, FLAGS.repeats)
    refresh_s = median_time(ref, FLAGS.repeats)
    return {
        "pretrain_samples_per_s": FLAGS.steps * B / median_time(run, FLAGS.repeats),
        "cluster_step_samples_per_s": step_rate,
        "refresh_s": refresh_s,
        "cluster_samples_per_s": amortised(step_rate, refresh_s),
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
    }


def main(argv):
    cd = train.dtype_of(FLAGS.precision)
    x = jax.random.uniform(jax.random.PRNGKey(0), (FLAGS.n, FLAGS.dim))
    res = {
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "platform": platform.platform(),
        "precision": FLAGS.precision,
        "n": FLAGS.n,
        "dim": FLAGS.dim,
        "network": list(dims()),
        "batch_size": FLAGS.batch_size,
        "mflop_per_sample": {k: flops_per_sample(k) / 1e6 for k in ("train", "forward", "encoder")},
    }
    res["matmul_gflops"] = {
        "float32": matmul_gflops(jnp.float32),
        "bf16": matmul_gflops(jnp.bfloat16),
    }
    ref = res["matmul_gflops"]["bf16" if cd is not None else "float32"]
    tf = flops_per_sample("train")
    rows = []
    for name, acts, sl in (
        ("relu", ("relu",) * 3, ()),
        ("relu+sparsity", ("relu",) * 3, (0, 1, 2)),
        ("sigmoid", ("sigmoid",) * 3, ()),
        ("sigmoid+sparsity", ("sigmoid",) * 3, (0, 1, 2)),
    ):
        r = pretrain_rate(acts, sl, x, cd)
        rows.append({"what": f"pretrain {name}", "samples_per_s": r, "gflops": r * tf / 1e9})
    step_rate, refresh_s = cluster_rates(x, cd)
    T, B = FLAGS.update_interval, FLAGS.batch_size
    amort = amortised(step_rate, refresh_s)
    rows.append(
        {
            "what": f"clustering (refresh every {T})",
            "samples_per_s": amort,
            "gflops": amort * cluster_flops_per_sample(FLAGS.n) / 1e9,
        }
    )
    for r in rows:
        r["fraction_of_matmul"] = r["gflops"] / ref
    res["rows"] = rows
    res["refresh_seconds"] = refresh_s
    res["refresh_gflops"] = FLAGS.n * flops_per_sample("encoder") / refresh_s / 1e9
    pre = rows[1]["samples_per_s"]
    steps_epoch = -(-FLAGS.n // B)
    res["paper_scale_mnist_minutes"] = (
        200 * steps_epoch * B / pre + 20000 * B / step_rate + (20000 / T) * refresh_s
    ) / 60
    if FLAGS.compare_torch:
        xs = np.asarray(x)
        pairs = []
        for _ in range(2):  # interleaved pairs, same losses on both sides (no sparsity)
            ours = pretrain_rate(("relu",) * 3, (), x, cd)
            ours_cluster = amortised(*cluster_rates(x, cd, sparse_layers=()))
            theirs = torch_rates(xs)
            pairs.append(
                {
                    "ours": ours,
                    "torch": theirs["pretrain_samples_per_s"],
                    "ratio": ours / theirs["pretrain_samples_per_s"],
                    "ours_cluster": ours_cluster,
                    "torch_cluster": theirs["cluster_samples_per_s"],
                    "cluster_ratio": ours_cluster / theirs["cluster_samples_per_s"],
                    "torch_refresh_s": theirs["refresh_s"],
                    "torch_threads": theirs["threads"],
                    "torch_version": theirs["version"],
                }
            )
        res["torch_pairs"] = pairs
    print(
        f"device {res['device']}, precision {FLAGS.precision}, n {FLAGS.n}, d {FLAGS.dim}, "
        f"batch {B}; train step {tf / 1e6:.2f} MFLOP/sample"
    )
    print(
        f"jnp.dot on layer shapes: float32 {res['matmul_gflops']['float32']:.1f} GFLOP/s, "
        f"bf16 {res['matmul_gflops']['bf16']:.1f} GFLOP/s"
    )
    print(f"{'what':36s} {'samples/s':>10s} {'GFLOP/s':>8s} {'of dot':>7s}")
    for r in rows:
        print(
            f"{r['what']:36s} {r['samples_per_s']:10.0f} {r['gflops']:8.1f} "
            f"{r['fraction_of_matmul']:7.0%}"
        )
    print(f"full-dataset Q/P refresh: {refresh_s:.2f} s ({res['refresh_gflops']:.1f} GFLOP/s)")
    print(
        f"projected paper-scale MNIST run: {res['paper_scale_mnist_minutes']:.1f} min "
        f"(at these rates: network {'-'.join(map(str, dims()))}, n {FLAGS.n})"
    )
    for p in res.get("torch_pairs", []):
        print(
            f"pair: pretraining ours {p['ours']:.0f} vs torch {p['torch']:.0f} samples/s -> "
            f"{p['ratio']:.2f}x; clustering ours {p['ours_cluster']:.0f} vs torch "
            f"{p['torch_cluster']:.0f} -> {p['cluster_ratio']:.2f}x"
        )
    atomic_write_json(
        FLAGS.out, machine.record(res, dims(), FLAGS.batch_size, res["matmul_gflops"])
    )


if __name__ == "__main__":
    app.run(main)

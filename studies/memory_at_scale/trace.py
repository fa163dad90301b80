"""Resident memory at each progress event of one fit: see the package docstring."""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from dssec_jax import Config, fit


def rss_gb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in GB, from /proc/self/status."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith("Vm"))
    return tuple(int(fields[k].split()[0]) * 1024 / 1e9 for k in ("VmRSS", "VmHWM"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--method", default="idec")
    ap.add_argument("--pretrain", default="end_to_end")
    ap.add_argument("--max_iter", type=int, default=60)
    args = ap.parse_args()
    x = np.empty((args.n, args.dim), np.float32)
    rng = np.random.default_rng(0)
    for i in range(0, args.n, 100_000):
        x[i : i + 100_000] = rng.random((min(100_000, args.n - i), args.dim), np.float32)
    data = x.nbytes / 1e9
    t0 = time.time()

    def log(record):
        now, peak = rss_gb()
        print(
            f"{time.time() - t0:7.1f}s {record.get('event', '?'):18s} rss {now / data:5.2f}x "
            f"peak {peak / data:5.2f}x the data ({data:.2f} GB)",
            flush=True,
        )
        big = [a.shape for a in jax.live_arrays() if a.nbytes > 0.05 * x.nbytes]
        if big:
            print(f"{'':27s}live device arrays over 5 % of the data: {big}", flush=True)

    log({"event": "data_made"})
    cfg = Config(
        method=args.method,
        n_clusters=10,
        pretrain=args.pretrain,
        pretrain_epochs=2,
        layerwise_epochs=1,
        max_iter=args.max_iter,
        update_interval=30,
        tol=0.0,
        n_init=1,
    )
    fit(x, cfg, seed=0, log=log)
    log({"event": "fit_done"})


if __name__ == "__main__":
    main()

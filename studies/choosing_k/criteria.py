"""Evaluate the choice of k without labels: every criterion of
``dssec_jax.choose_k`` on the pretrained embedding, then (``--fit``) the method's clustering
phase with the chosen k against the true k.

    python -m studies.choosing_k.criteria --dataset=usps --seed_list=0,1,2 \
        --cache_dir=~/.cache/dssec_jax/ae_cache --base='{"pretrain_epochs": 50}' [--fit=silhouette]

Prints one JSON line per (seed, criterion): chosen k, true k, seconds and the scores; with
``--fit``, one line per (seed, k) with ACC/NMI/ARI of the fit at that k.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import time
from collections import defaultdict

import jax
import numpy as np
from absl import flags

from dssec_jax import choose_k, evaluate, pipeline, pretraining, train
from dssec_jax.checkpoint import FileStore
from dssec_jax.cli import common, runner
from dssec_jax.validation import check_config

flags.DEFINE_string("dataset", "digits", "dataset name or path")
flags.DEFINE_list("seed_list", ["0", "1", "2"], "seeds")
flags.DEFINE_string("base", "{}", "JSON Config overrides (method dssec unless given)")
flags.DEFINE_list("criteria", list(choose_k.CRITERIA), "criteria to score")
flags.DEFINE_string("fit", None, "also fit at the k this criterion chooses and at the true k")
flags.DEFINE_list(
    "plot_logs",
    None,
    "instead of running: draw each criterion against k from "
    "these logs (one panel per criterion, one line per dataset and seed)",
)
flags.DEFINE_string("plot_out", "k_selection.png", "where --plot_logs writes the figure")
flags.DEFINE_list(
    "table_logs",
    None,
    "instead of running: print the Markdown tables of these "
    "logs (chosen k per criterion; fits at the chosen and the true k)",
)
FLAGS = flags.FLAGS


def plot_logs(paths, out) -> None:
    """Each criterion against k (scores scaled to [0, 1] per line), true k dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(ln) for p in paths for ln in open(p) if ln.startswith('{"dataset"')]
    rows = [r for r in rows if "scores" in r]
    crits = [c for c in choose_k.CRITERIA if any(r["criterion"] == c for r in rows)]
    fig, axes = plt.subplots(1, len(crits), figsize=(4.2 * len(crits), 3.6), squeeze=False)
    colors = {}
    for ax, crit in zip(axes[0], crits):
        for r in (r for r in rows if r["criterion"] == crit):
            ks = sorted(int(k) for k in r["scores"])
            v = np.array(
                [np.nan if r["scores"][str(k)] is None else r["scores"][str(k)] for k in ks]
            )
            v = (v - np.nanmin(v)) / (np.nanmax(v) - np.nanmin(v) or 1.0)
            c = colors.setdefault(r["dataset"], f"C{len(colors)}")
            ax.plot(ks, v, color=c, alpha=0.7, label=r["dataset"] if r["seed"] == 0 else None)
            ax.plot([r["k"]], [v[ks.index(r["k"])]], "*", color=c, markersize=8)
            ax.axvline(r["true_k"], color=c, linestyle="--", linewidth=0.8)
        ax.set_title(f"{crit} (star: chosen, dashed: true k)", fontsize=9)
        ax.set_xlabel("k")
    axes[0][0].set_ylabel("criterion, scaled per line")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def tables(paths) -> str:
    """Chosen k per dataset and criterion (seeds in order), and ACC / NMI of the fits at the
    chosen k against the true k (mean over seeds)."""
    rows = [json.loads(ln) for p in paths for ln in open(p) if ln.startswith('{"dataset"')]
    choices, fits = defaultdict(dict), defaultdict(lambda: defaultdict(dict))
    for r in rows:  # a seed's choice appears in both logs: keyed by seed, it counts once
        if "criterion" in r and "fit_k" not in r:
            choices[(r["dataset"], r["criterion"], r["true_k"])][r["seed"]] = r["k"]
        elif "fit_k" in r:
            fits[r["dataset"]][r["seed"]]["true" if r["fit_k"] == r["true_k"] else "chosen"] = r
    crits = [c for c in choose_k.CRITERIA if any(k[1] == c for k in choices)]
    names = sorted({k[0] for k in choices} | set(fits))
    lines = ["| dataset (true k) | " + " | ".join(crits) + " |", "|---|" + "---|" * len(crits)]
    for d in names:
        true_k = next((k[2] for k in choices if k[0] == d), None)
        if true_k is None:
            continue
        cells = [
            ", ".join(str(k) for _, k in sorted(choices.get((d, c, true_k), {}).items()))
            for c in crits
        ]
        lines.append(f"| {d} ({true_k}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| dataset | chosen k per seed | ACC chosen / true k | NMI chosen / true k |",
        "|---|---|---|---|",
    ]
    for d in names:
        seeds = sorted(fits[d])
        if not seeds:
            continue
        pick = [fits[d][s].get("chosen", fits[d][s].get("true")) for s in seeds]
        true = [fits[d][s]["true"] for s in seeds]
        mean = lambda rs, m: np.mean([r[m] for r in rs])
        lines.append(
            f"| {d} | {', '.join(str(r['fit_k']) for r in pick)} | "
            f"{mean(pick, 'acc'):.3f} / {mean(true, 'acc'):.3f} | "
            f"{mean(pick, 'nmi'):.3f} / {mean(true, 'nmi'):.3f} |"
        )
    return "\n".join(lines)


def main(argv):
    for name in ("table_logs", "plot_logs"):
        missing = [p for p in FLAGS[name].value or () if not pathlib.Path(p).is_file()]
        if missing:
            raise ValueError(f"--{name}: no such log file {missing[0]}; pass existing logs")
    if FLAGS.table_logs:
        print(tables(FLAGS.table_logs))
        return
    if FLAGS.plot_logs:
        plot_logs(FLAGS.plot_logs, FLAGS.plot_out)
        common.log(f"wrote {FLAGS.plot_out}")
        return
    if FLAGS.fit and FLAGS.fit not in FLAGS.criteria:
        raise ValueError(f"--fit={FLAGS.fit} must be one of --criteria {FLAGS.criteria}")
    ds = common.load(FLAGS.dataset)
    true_k = ds.n_clusters
    cfg = check_config(
        common.config_from({"method": "dssec", "n_clusters": true_k, **json.loads(FLAGS.base)}),
        len(ds.x),
    )
    k_range = tuple(common.flag_value("k_range", FLAGS.k_range)) if FLAGS.k_range else cfg.k_range
    data_id = runner.dataset_id(ds)
    scratch = tempfile.TemporaryDirectory()
    cache = FLAGS.cache_dir or scratch.name
    for seed in (int(s) for s in FLAGS.seed_list):
        store = FileStore(scratch.name, cache, cfg.pretrain_hash(data_id, seed))
        ae, _ = pretraining.pretrain(ds.x, cfg, jax.random.PRNGKey(seed), store=store)
        z = np.asarray(train.embed(ae, ds.x, cfg.hidden_acts()))
        chosen = {}
        for crit in FLAGS.criteria:
            t = time.time()
            k, scores = choose_k.choose_k(z, k_range, seed, crit)
            chosen[crit] = k
            print(
                json.dumps(
                    {
                        "dataset": ds.name,
                        "seed": seed,
                        "criterion": crit,
                        "k": k,
                        "true_k": true_k,
                        "s": round(time.time() - t, 2),
                        "scores": {
                            str(j): None if v is None else round(v, 5) for j, v in scores.items()
                        },
                    }
                ),
                flush=True,
            )
        if FLAGS.fit:
            for k in sorted({chosen[FLAGS.fit], true_k}):
                c = common.config_from({**cfg.to_dict(), "n_clusters": k})
                # its own run folder (the clustering checkpoint), the shared autoencoder cache
                own = FileStore(tempfile.mkdtemp(dir=scratch.name), cache, store.pretrain_key)
                res = pipeline.fit(ds.x, c, seed, store=own)
                print(
                    json.dumps(
                        {
                            "dataset": ds.name,
                            "seed": seed,
                            "fit_k": k,
                            "true_k": true_k,
                            "chosen_by": FLAGS.fit if k == chosen[FLAGS.fit] else None,
                            **evaluate(ds.y, res.labels),
                            "iters": res.n_iter,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    common.run_cli(main)

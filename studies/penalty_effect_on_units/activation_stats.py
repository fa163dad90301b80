"""Per-layer activation statistics of pretrained autoencoders (the diagnosis behind the
sparsity screens): fraction of zero activations, of dead units (zero on every sample), of
activations above 1, each layer's mean batch rate rho_hat (the penalty's own
``activation_rate``) against rho, and the embedding's std.

    python -m studies.penalty_effect_on_units.activation_stats --dataset=mnist --subset=10000 --seed_list=0,1 \
        --pretrain_epochs=50 --cache_dir=$HOME/.cache/dssec_jax/ae_cache \
        --grid='[{"method": "idec"}, {"method": "dssec"}]'

Settings resolve as library defaults < --config < setting flags < --base < each grid point.
Autoencoders are taken from the cache (``--cache_dir``, keyed as runs and screens key them)
or pretrained if missing. Rates use each setting's own rho_hat form for the penalised
layers' units and ``ratio`` for every layer of a plain autoencoder; the embedding's std is
the pretrained one (before any ``embed_std`` rescale). Prints one JSON line per (setting, seed, layer) and a Markdown table
of the means over seeds.
"""

from __future__ import annotations

import json
import tempfile

import jax
import numpy as np
from absl import flags

from dssec_jax import losses, pretraining, sae
from dssec_jax.checkpoint import FileStore
from dssec_jax.cli import common, runner
from dssec_jax.validation import check_config

flags.DEFINE_string("dataset", "digits", "dataset name or path")
flags.DEFINE_list("seed_list", ["0"], "seeds")
flags.DEFINE_string(
    "grid",
    '[{"method": "idec"}, {"method": "dssec"}]',
    "JSON list of Config overrides (autoencoder methods)",
)
flags.DEFINE_string("base", "{}", "JSON Config overrides for all settings")
FLAGS = flags.FLAGS


def layer_stats(h: np.ndarray, rho: float, form: str) -> dict:
    """Statistics of one layer's activations h (n, units)."""
    rate, _ = losses.activation_rate(h, form=form)
    return {
        "zero": float(np.mean(h <= 0)),
        "dead_units": float(np.mean(np.all(h <= 0, axis=0))),
        "above_1": float(np.mean(h > 1)),
        "mean_rate": float(np.mean(rate)),
        "rate_over_rho": float(np.mean(rate) / rho),
    }


def main(argv):
    ds = common.load(FLAGS.dataset)
    base = {**common.build_config(ds.n_clusters).to_dict(), **json.loads(FLAGS.base)}
    data_id = runner.dataset_id(ds)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kw in json.loads(FLAGS.grid):
            cfg = check_config(common.config_from({**base, **kw}), len(ds.x))
            for seed in (int(s) for s in FLAGS.seed_list):
                store = (
                    FileStore(scratch, FLAGS.cache_dir, cfg.pretrain_hash(data_id, seed))
                    if FLAGS.cache_dir
                    else None
                )
                key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)  # as dssec_jax.fit
                ae, _ = pretraining.pretrain(ds.x, cfg, key, store=store)
                z, hidden = sae.encode_with_hidden(ae, ds.x, cfg.hidden_acts())
                form = cfg.rate_form() if cfg.spec.sparse else "ratio"
                for i, h in enumerate(hidden):
                    row = {
                        "kw": kw,
                        "seed": seed,
                        "layer": i,
                        "penalised": i in cfg.penalised_layers(),
                        **layer_stats(np.asarray(h), cfg.rho, form),
                        "embed_std": float(np.std(np.asarray(z))),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print("\n| setting | layer | zero | dead units | above 1 | mean rate (/rho) | embedding std |")
    print("|---|---|---|---|---|---|---|")
    for kw in json.loads(FLAGS.grid):
        for layer in sorted({r["layer"] for r in rows}):
            sel = [r for r in rows if r["kw"] == kw and r["layer"] == layer]
            if not sel:
                continue
            m = {
                k: np.mean([r[k] for r in sel])
                for k in (
                    "zero",
                    "dead_units",
                    "above_1",
                    "mean_rate",
                    "rate_over_rho",
                    "embed_std",
                )
            }
            print(
                f"| {json.dumps(kw)} | {layer}{' (penalised)' if sel[0]['penalised'] else ''} | "
                f"{m['zero']:.3f} | {m['dead_units']:.3f} | {m['above_1']:.3f} | "
                f"{m['mean_rate']:.3f} ({m['rate_over_rho']:.1f}) | {m['embed_std']:.2f} |"
            )


if __name__ == "__main__":
    common.run_cli(main)

"""Why the sparse autoencoder diverges under DEC-keras's pretraining recipe (SGD at learning
rate 1, momentum 0.9, VarianceScaling(1/3) initialisation): per optimizer step, the norm of
each loss term's gradient (reconstruction; beta * KL of each penalised layer), rho_hat's
extremes per layer, the largest activation per layer, and the first non-finite step.

    python -m studies.sparse_autoencoder_divergence.measure --dataset=coil20 --steps=60 [--fix=...]
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dssec_jax import losses, sae, train
from dssec_jax.data import load_dataset
from dssec_jax.methods import Config


def parts_fn(cfg: Config):
    acts = cfg.hidden_acts()
    form = cfg.rate_form()

    floor = getattr(cfg, "sparsity_floor", None)

    def terms(params, x, beta, rho):
        _, x_hat, hidden = sae.forward(params, x, acts)
        out = {"rec": losses.reconstruction_loss(x, x_hat)}
        for i in cfg.penalised_layers():
            out[f"kl{i}"] = beta * losses.sparsity_penalty(
                [hidden[i]], rho=rho, form=form, floor=floor
            )
        return out

    return terms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="coil20")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--config", default="{}", help="Config overrides as JSON")
    args = ap.parse_args()
    cfg = Config(
        **{
            "method": "dssec",
            "init": "variance_scaling",
            "pretrain_optimizer": "sgd",
            "learning_rate": 1.0,
            **json.loads(args.config),
        }
    )
    ds = load_dataset(args.dataset)
    x = jnp.asarray(ds.x, jnp.float32)
    key = jax.random.PRNGKey(args.seed)
    params = sae.init_params(jax.random.fold_in(key, 0), cfg.dims(x.shape[1]), init=cfg.init)
    opt = cfg.pretrain_opt().build()
    ostate = opt.init(params)
    terms = parts_fn(cfg)
    acts = cfg.hidden_acts()
    beta, rho = jnp.float32(cfg.beta), jnp.float32(cfg.rho)
    n = x.shape[0]
    steps_ep = train.steps_per_epoch(n, cfg.batch_size)

    @jax.jit
    def probe(params, xb):
        vals = terms(params, xb, beta, rho)
        grads = {k: jax.grad(lambda p, k=k: terms(p, xb, beta, rho)[k])(params) for k in vals}
        gnorm = {k: optax.global_norm(g) for k, g in grads.items()}
        # per-layer norm of each term's gradient on the first encoder layer (where the KL of
        # layer 0 acts most directly)
        g_l0 = {k: jnp.linalg.norm(g["encoder"][0]["w"]) for k, g in grads.items()}
        _, hidden = sae.encode_with_hidden(params, xb, acts)
        stats = {}
        for i, h in enumerate(hidden):
            rh, rest = losses.activation_rate(h, form=cfg.rate_form())
            stats[f"h{i}_max"] = jnp.max(h)
            stats[f"rho{i}_min"] = jnp.min(rh)
            stats[f"rho{i}_max"] = jnp.max(rh)
            stats[f"dead{i}"] = jnp.mean(rh <= 0)
        total = jax.tree.map(lambda *a: sum(a), *grads.values())
        return vals, gnorm, g_l0, stats, total

    @jax.jit
    def update(params, ostate, total):
        upd, ostate = opt.update(total, ostate, params)
        return optax.apply_updates(params, upd), ostate, optax.global_norm(upd)

    skey = jax.random.fold_in(key, 1)
    for step in range(args.steps):
        ep, s = divmod(step, steps_ep)
        idx = train.batch_indices(jax.random.fold_in(skey, ep), n, steps_ep, cfg.batch_size)[s]
        xb = x[idx]
        vals, gnorm, g_l0, stats, total = probe(params, xb)
        params, ostate, unorm = update(params, ostate, total)
        row = {"step": step + 1, "epoch": ep + 1}
        row |= {k: float(v) for k, v in vals.items()}
        row |= {f"|g_{k}|": float(v) for k, v in gnorm.items()}
        row |= {f"|g_{k}|_W0": float(v) for k, v in g_l0.items()}
        row |= {k: float(v) for k, v in stats.items()}
        row["|update|"] = float(unorm)
        print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}))
        if not all(np.isfinite(v) for v in row.values() if isinstance(v, float)):
            print(json.dumps({"first_nonfinite_step": step + 1}))
            break


if __name__ == "__main__":
    main()

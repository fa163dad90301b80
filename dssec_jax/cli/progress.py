"""One line of text per progress record: the library (``dssec_jax.fit``, ``sweep``) and the
runner emit records (dicts with an "event"); the drivers print them through
:func:`dssec_jax.cli.common.log`."""

from __future__ import annotations

import json

CLUSTER_PARTS = ("loss", "reconstruction", "sparsity", "clustering", "acc", "nmi", "ari")


def _eta(seconds) -> str:
    return "?" if seconds is None else f"{seconds:.0f}s"


def _pretrain_epoch(r: dict) -> str:
    return (
        f"pretrain {r['stage']} epoch {r['epoch']}/{r['epochs']} loss {r['loss']:.5f} "
        f"(rec {r['reconstruction']:.5f}, sparsity {r['sparsity']:.4f}) "
        f"elapsed {r['elapsed_s']:.0f}s eta {_eta(r['eta_s'])}"
    )


def _cluster_refresh(r: dict) -> str:
    parts = " ".join(f"{k} {r[k]:.4f}" for k in CLUSTER_PARTS if k in r)
    return (
        f"cluster iter {r['iteration']}/{r['max_iter']} delta_label {r['delta_label']:.4f} "
        f"{parts} empty {r['n_empty_clusters']} elapsed {r['elapsed_s']:.0f}s "
        f"eta<= {_eta(r['eta_s'])}"
    )


def _k_chosen(r: dict) -> str:
    tried = ", ".join(
        f"{k}: {v:.4g}" if v is not None else f"{k}: -" for k, v in r["scores"].items()
    )
    return f"n_clusters=auto: {r['criterion']} chooses k={r['k']} (tried {tried})"


def _brief(result: dict) -> str:
    return json.dumps({k: result.get(k) for k in ("acc", "nmi", "ari", "n_iter", "stop_reason")})


FORMATS = {
    "pretrain_cached": lambda r: f"pretrain: reusing cached autoencoder {r['key']}",
    "pretrain_resumed": lambda r: f"pretrain: resuming at stage {r['stage']}, epoch {r['epoch']}",
    "pretrain_epoch": _pretrain_epoch,
    "k_chosen": _k_chosen,
    "kmeans": lambda r: (
        "K-means on the embedding: " + json.dumps({k: v for k, v in r.items() if k != "event"})
    ),
    "cluster_resumed": lambda r: f"cluster: resuming at iteration {r['iteration']}",
    "cluster_refresh": _cluster_refresh,
    "batched_pretrain_epoch": lambda r: (
        f"batched pretrain {r['stage']} epoch {r['epoch']}/{r['epochs']} loss "
        + " ".join(f"{v:.5f}" for v in r["loss"])
    ),
    "batched_refresh": lambda r: (
        f"batched cluster iter {r['iteration']}: {r['active']}/{r['runs']} runs active"
    ),
    "seed_skipped": lambda r: f"seed {r['seed']}: already finished, skipped",
    "seed_done": lambda r: (
        f"{r['run'] + ' ' if r.get('run') else ''}seed {r['seed']} done: {_brief(r['result'])}"
    ),
}


def describe(record: dict) -> str:
    """The line shown for ``record`` (JSON for an event without a format of its own)."""
    fmt = FORMATS.get(record.get("event"))
    return fmt(record) if fmt else json.dumps(record, default=float)

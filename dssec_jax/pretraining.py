"""Pretraining of the (sparse) autoencoder: end-to-end, or greedy layer by layer and then
fine-tuned. The stages are data (:class:`Stage`); the single-run driver :func:`pretrain`
dispatches one compiled epoch at a time, emits a record per epoch and checkpoints through
a store. ``sweep`` runs the same stages vmapped over runs."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoint, parallel, sae, train
from .labels import digest, label_data
from .methods import LATER_PRETRAIN_FIELDS, Config, json_value
from .validation import check_config, check_data, check_finite, check_known

Log = Optional[Callable[[dict], None]]

# The public API; the other functions are the rules shared with ``sweep``.
__all__ = ["Stage", "pretrain", "stages"]


class Stage(NamedTuple):
    """One pretraining stage: greedy training of hidden layer ``layer`` alone (name
    "layer<i>"), or fine-tuning of the whole autoencoder (``layer`` None, "finetune")."""

    name: str
    layer: Optional[int]
    epochs: int


def stages(cfg: Config) -> list[Stage]:
    """Greedy stages layer 0..L then fine-tuning (``pretrain="stacked"``), or fine-tuning only."""
    out = []
    if cfg.pretrain == "stacked":
        lw = cfg.layerwise_epochs or cfg.pretrain_epochs
        out += [Stage(f"layer{i}", i, lw) for i in range(len(cfg.hidden_dims) + 1)]
    return out + [Stage("finetune", None, cfg.pretrain_epochs)]


def stage_params(ae: dict, stage: Stage) -> dict:
    """The parameters a stage trains: all, or layer i of the encoder and its mirror."""
    if stage.layer is None:
        return ae
    i = stage.layer
    return {"encoder": [ae["encoder"][i]], "decoder": [ae["decoder"][-1 - i]]}


def merge_stage(ae: dict, stage: Stage, params: dict) -> dict:
    """``ae`` with the parameters trained by ``stage`` put back."""
    if stage.layer is None:
        return params
    i = stage.layer
    enc, dec = list(ae["encoder"]), list(ae["decoder"])
    enc[i], dec[-1 - i] = params["encoder"][0], params["decoder"][0]
    return {**ae, "encoder": enc, "decoder": dec}


def hyper(cfg: Config, labelled: bool = False) -> dict:
    """Traced hyper-parameters of pretraining (the sparsity penalty's beta, rho, floor; the
    label term's weight when labels are known)."""
    return train.hyper(
        beta=cfg.beta,
        rho=cfg.rho,
        kl_floor=cfg.sparsity_floor,
        label_weight=cfg.label_weight if labelled else None,
    )


def phase(cfg: Config) -> train.Phase:
    """Pretraining's settings, resolved once: the network, the optimizer, the batch size
    and the mesh of data parallelism."""
    return train.Phase(
        net=cfg.net(),
        optimizer=cfg.pretrain_opt(),
        batch_size=cfg.batch_size,
        mesh=parallel.mesh_for(cfg.data_parallel),
    )


def stage_steps(
    ph: train.Phase, stage: Stage, n: int, *, batched: bool = False, labelled: bool = False
) -> Callable:
    """Compiled steps of one epoch of ``stage`` on ``n`` samples (batched: vmapped over
    runs; the data of the first layer and of fine-tuning is shared, deeper layers' codes
    are per run; ``labelled``: fine-tuning with the label term). Consumes (donates) the
    state."""
    shared = stage.layer in (None, 0)
    common = dict(
        steps=train.steps_per_epoch(n, ph.batch_size),
        batch_size=ph.batch_size,
        data_axes=(None if shared else 0) if batched else train.UNBATCHED,
        mesh=ph.mesh,
    )
    if stage.layer is None:
        return train.autoencoder_steps(ph.net, ph.optimizer, labelled=labelled, **common)
    return train.layer_steps(ph.net, ph.optimizer, layer=stage.layer, **common)


def stage_input(
    x: jax.Array, ae: dict, ph: train.Phase, stage: Stage, *, batched: bool = False, labels=None
):
    """Training data of a stage: x, or the codes of the layers below layer i; fine-tuning
    with ``labels`` (``labels.label_data``) takes (x, rows, one-hot)."""
    if stage.layer is None and labels is not None:
        return (x, *labels)
    if stage.layer in (None, 0):
        return x
    i = stage.layer
    embed = train.stack_fn(ph.net.acts[:i], ph.net.compute_dtype, batched=batched)
    return embed(ae["encoder"][:i], x)


def _eta(elapsed: float, done: float, total: float) -> Optional[float]:
    """Seconds left at the pace so far (None before any progress)."""
    return None if done <= 0 else elapsed / done * max(total - done, 0)


def pretrain(
    x: np.ndarray,
    cfg: Config,
    key: jax.Array,
    *,
    known: Optional[np.ndarray] = None,
    store=None,
    log: Log = None,
) -> tuple[dict, list]:
    """Pretrain the autoencoder of ``cfg`` on ``x``: the stages of :func:`stages`, one
    compiled epoch per dispatch.

    With ``known`` labels (n,), int, -1 where unknown, the fine-tuning stage minimises
    L_r + label_weight * L_lab (``losses.label_loss``): a linear map M, c from the code to
    the one-hot labels is trained with the autoencoder on the rows whose label is known
    and returned with it as ``"label_map"`` (greedy layer-wise stages stay unsupervised).
    ``key`` draws the initialisation and the minibatches. With a ``store``
    (``checkpoint.FileStore``) a finished autoencoder found there is returned at once and
    a partial one resumes; progress is saved at most every ``store.min_interval_s``
    seconds and at each stage's end. ``log`` is given one record (dict) per event:
    "pretrain_cached", "pretrain_resumed", and "pretrain_epoch" after every epoch.

    Returns:
      (autoencoder parameters, one history dict per epoch).
    """
    x = check_data(x, cfg.n_clusters)
    cfg = check_config(cfg, x.shape[0])  # a batch never exceeds the data
    known = check_known(known, x.shape[0], cfg)
    inputs = None if store is None else checkpoint.inputs_digest(x, key)
    if (cached := _cached(store, x.shape[1], cfg, key, known, inputs, log)) is not None:
        return cached
    ph = phase(cfg)
    ae, labels = _initial(x, known, cfg, key, ph.mesh)
    plan = stages(cfg)
    start, first, state, history, ae = _resume(store, ae, plan, ph, cfg, known, inputs, log)
    x_dev = parallel.place(x, ph.mesh, rows=True)
    run = _Run(ph, plan, hyper(cfg, labelled=labels is not None), store, log, history)
    run.data, run.labels, run.key = x_dev, labels, key
    run.known = None if known is None else digest(known)
    run.settings, run.inputs = _stored_settings(cfg, known), inputs
    run.done_before = sum(st.epochs for st in plan[:start]) + first
    ae = run_stages(run, start, first, ae, state)
    if store is not None:
        meta = {"history": history, "settings": _stored_settings(cfg, known), "known": run.known}
        store.put("pretrained", ae, {**meta, "inputs": inputs})
        store.drop("pretrain_progress")
    return ae, history


def run_stages(io, start: int, first: int, ae: dict, state) -> dict:
    """The pretraining loop, one shape for one run and for S runs: the stages of
    ``io.plan`` from stage ``start``, epoch ``first`` (from ``state``, or afresh when None),
    one compiled call per epoch, a checkpoint at each stage's end and at most every
    ``store.min_interval_s`` seconds; returns the autoencoder. ``io`` holds the path's
    pieces: ``plan``, ``store``, ``fresh(si, ae)`` (the stage's starting state),
    ``compiled(si, ae) -> (fn, data)``, ``epoch(fn, state, data, si, epoch) -> state`` (the
    call, its record and its rule for a non-finite loss) and ``save(si, epoch, ae, state)``."""
    last_save = time.time()
    for si in range(start, len(io.plan)):
        stage = io.plan[si]
        state = io.fresh(si, ae) if state is None else state
        fn, data = io.compiled(si, ae)
        for epoch in range(first if si == start else 0, stage.epochs):
            state = io.epoch(fn, state, data, si, epoch)
            due = io.store is not None and time.time() - last_save >= io.store.min_interval_s
            if io.store is not None and (epoch + 1 == stage.epochs or due):
                ae = merge_stage(ae, stage, state.params)
                io.save(si, epoch, ae, state)
                last_save = time.time()
        ae = merge_stage(ae, stage, state.params)
        state = None
    return ae


class _Run:
    """The pieces of one run's pretraining loop (:func:`run_stages`): its settings,
    stages, hyper-parameters, data, store, log and history."""

    def __init__(self, ph: train.Phase, plan: list, hp: dict, store, log: Log, history: list):
        self.ph, self.plan, self.hp, self.store, self.log = ph, plan, hp, store, log
        self.history, self.done_before, self.t0 = history, 0, time.time()
        self.data: Any = None  # the data on the device, its known labels and the key
        self.labels: Optional[tuple] = None
        self.key: Any = None
        self.known: Optional[str] = None  # the known labels' digest, saved with progress
        self.settings: dict = {}  # the pretraining settings, saved with progress
        self.inputs: Optional[str] = None  # the digest of the data and key, saved with it

    def fresh(self, si: int, ae: dict) -> train.TrainState:
        return train.init_state(stage_params(ae, self.plan[si]), self.ph.optimizer.build())

    def compiled(self, si: int, ae: dict) -> tuple:
        stage, labelled = self.plan[si], self.labels is not None
        fn = stage_steps(self.ph, stage, self.data.shape[0], labelled=labelled)
        return fn, stage_input(self.data, ae, self.ph, stage, labels=self.labels)

    def epoch(self, fn, state, data, si: int, epoch: int) -> train.TrainState:
        key = jax.random.fold_in(jax.random.fold_in(self.key, si + 1), epoch)
        steps = train.steps_per_epoch(self.data.shape[0], self.ph.batch_size)
        state, parts = fn(state, data, key, steps, self.hp)
        self.record(si, epoch, parts)
        return state

    def record(self, si: int, epoch: int, parts: dict) -> None:
        """The epoch's history entry (one host sync), its finiteness check and its record."""
        stage = self.plan[si]
        parts = {k: float(v) for k, v in jax.device_get(parts).items()}
        finite = parts.pop("finite")  # the loss and the weights after the epoch
        where = f"stage {stage.name} epoch {epoch + 1}"
        check_finite(parts["loss"] if finite else float("nan"), "pretraining", where)
        self.history.append({"stage": stage.name, "epoch": epoch + 1, **parts})
        if self.log:
            done = sum(st.epochs for st in self.plan[:si]) + epoch + 1 - self.done_before
            total = sum(st.epochs for st in self.plan) - self.done_before
            el = time.time() - self.t0
            self.log(
                {"event": "pretrain_epoch", **self.history[-1], "epochs": stage.epochs}
                | {"elapsed_s": el, "eta_s": _eta(el, done, total)}
            )

    def save(self, si: int, epoch: int, ae: dict, state) -> None:
        """Checkpoint after ``epoch`` of stage ``si`` (nothing after the last one: the
        finished autoencoder is stored as "pretrained"); at a stage's end the next stage
        starts afresh."""
        stage_end = epoch + 1 == self.plan[si].epochs
        if stage_end and si + 1 == len(self.plan):
            return
        nxt, saved = (
            ((si + 1, 0), self.fresh(si + 1, ae)) if stage_end else ((si, epoch + 1), state)
        )
        meta = {"stage": nxt[0], "epoch": nxt[1], "history": self.history, "known": self.known}
        meta["settings"], meta["inputs"] = self.settings, self.inputs
        self.store.put("pretrain_progress", saved._replace(params=ae), meta)


def _cached(store, n_features: int, cfg: Config, key, known, inputs, log: Log) -> Optional[tuple]:
    """(autoencoder, history) of a finished pretraining in ``store``, else None."""
    if store is None or (hit := store.get("pretrained")) is None:
        return None
    meta, raw = hit
    _check_labels_match(meta, raw, known, store.path("pretrained"))
    _check_settings_match(meta, cfg, known, store.path("pretrained"))
    _check_inputs_match(meta, inputs, store.path("pretrained"))
    if log:
        log({"event": "pretrain_cached", "key": store.pretrain_key})
    template = sae.init_params(key, cfg.dims(n_features))
    if known is not None:
        template["label_map"] = sae.init_layer(key, cfg.embed_dim, cfg.k)
    return checkpoint.restore(template, raw), meta.get("history", [])


def _stored_settings(cfg: Config, known) -> dict:
    """The settings a finished autoencoder is stored with: ``Config.pretrain_settings``
    and, when labels are known, the label term's weight."""
    settings = cfg.pretrain_settings()
    if known is not None:
        settings["label_weight"] = float(cfg.label_weight)
    return settings


def _check_inputs_match(meta: dict, inputs: Optional[str], path) -> None:
    """CheckpointError when a stored autoencoder was pretrained on other data or from
    another key (seed) than this run's (``checkpoint.inputs_digest``); a record from before
    the digest was stored is not checked. The drivers' store keys name the data and the
    seed, so only a key made by hand and reused can meet this."""
    if meta.get("inputs", inputs) != inputs:
        raise checkpoint.CheckpointError(
            f"{path} holds an autoencoder pretrained on other data or from another seed; "
            "give each (data, seed) a store key of its own"
        )


def _check_settings_match(meta: dict, cfg: Config, known, path) -> None:
    """CheckpointError when a stored autoencoder was pretrained with other settings than
    this run's: those both records name, a setting of ``LATER_PRETRAIN_FIELDS`` a record
    leaves out read as its default (``Config.pretrain_settings``); a record without
    settings is not checked. The drivers' store keys
    hash the settings, so only a key made by hand can meet this."""
    if "settings" not in meta:
        return  # a record from before they were stored: restoring checks that shapes fit
    later = {k: json_value(k, v) for k, v in LATER_PRETRAIN_FIELDS.items()}  # left out at these
    stored = {**later, **meta["settings"]}
    want = {**later, **json.loads(json.dumps(_stored_settings(cfg, known)))}  # as read back
    differ = sorted(k for k in stored.keys() & want.keys() if stored[k] != want[k])
    if differ:
        changes = ", ".join(f"{k} {stored[k]!r} there, {want[k]!r} here" for k in differ)
        raise checkpoint.CheckpointError(
            f"{path} holds an autoencoder pretrained with other settings ({changes}); give "
            "this run a store key of its own (the drivers' key hashes the settings: "
            "Config.pretrain_hash)"
        )


def _check_labels_match(meta: dict, raw_ae: dict, known, path) -> None:
    """CheckpointError when a stored autoencoder learnt from other known labels than this
    run's (``known``, or None): by the digest its record names (``labels.digest``), or, in
    a record from before it named one, by its label map (only training with labels makes
    one). Restoring it would reuse a network trained on another label set, or drop its map."""
    want = None if known is None else digest(known)
    if "known" in meta:
        stored = meta["known"]
    elif "label_map" in raw_ae:
        stored = want if want is not None else "unnamed"
    else:
        return  # an old record without labels: restoring checks that its shapes fit
    if stored == want:
        return
    if want is None:
        what = "with known labels and this run knows none"
    elif stored is None:
        what = "without known labels and this run knows some"
    else:
        what = f"with other known labels (digest {stored}) than this run's ({want})"
    raise checkpoint.CheckpointError(
        f"{path} holds an autoencoder pretrained {what}; give this run a store key of its "
        "own (the drivers name the known labels in it: Config.pretrain_hash(..., "
        "known=labels.digest(known)))"
    )


def _initial(x: np.ndarray, known, cfg: Config, key: jax.Array, mesh) -> tuple:
    """(the initial autoencoder, with the label map when labels are known, placed on the
    mesh; ``labels.label_data`` on the device, or None)."""
    ae = sae.init_params(jax.random.fold_in(key, 0), cfg.dims(x.shape[1]), init=cfg.init)
    labels = None
    if known is not None:
        k = cfg.k
        label_key = jax.random.fold_in(jax.random.fold_in(key, 0), 1)  # drawn for nothing else
        ae["label_map"] = sae.init_layer(label_key, cfg.embed_dim, k, init=cfg.init)
        labels = tuple(parallel.place(a, mesh, rows=True) for a in label_data(known, k))
    return parallel.place(ae, mesh), labels


def _resume(
    store, ae: dict, plan: list, ph: train.Phase, cfg: Config, known, inputs, log: Log
) -> tuple:
    """(stage, epoch, state, history, ae) to start from: the store's "pretrain_progress"
    when it holds one that fits (made with this ``cfg``, these ``known`` labels, and this
    data and key, ``inputs``: else an error), else the start (state None: made at the
    stage's start)."""
    hit = None if store is None else store.get("pretrain_progress")
    saved = None
    if hit is not None:
        meta, raw = hit
        path = store.path("pretrain_progress")
        _check_labels_match(meta, raw.get("params", {}), known, path)
        _check_settings_match(meta, cfg, known, path)
        _check_inputs_match(meta, inputs, path)
        if not 0 <= meta["stage"] < len(plan):
            raise checkpoint.CheckpointError(
                f"{path} is at stage {meta['stage']} of a pretraining with other stages than "
                f"this run's {[st.name for st in plan]}; give this run a store key of its own"
            )
        opt_state = ph.optimizer.build().init(stage_params(ae, plan[meta["stage"]]))
        template = train.TrainState(ae, opt_state, jnp.zeros((), jnp.int32))
        saved = checkpoint.restore_or_drop(store, "pretrain_progress", template, raw)
    if saved is None:
        return 0, 0, None, [], ae
    stage, epoch = meta["stage"], meta["epoch"]
    saved = parallel.place(saved, ph.mesh)
    state = train.TrainState(stage_params(saved.params, plan[stage]), saved.opt_state, saved.step)
    if log:
        log({"event": "pretrain_resumed", "stage": plan[stage].name, "epoch": epoch})
    return stage, epoch, state, meta["history"], saved.params

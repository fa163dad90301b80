"""Compiled training pieces: optimizers, the training state, minibatch indices, scanned
train steps and chunked full-dataset passes. Each builder is cached on its static
arguments, so a training loop compiles once and then dispatches many steps per call.

Every compiled step is ``run(state, data, key, n_valid, hp)`` on a :class:`TrainState`:
``data`` is the whole dataset on the device (an array or a tuple of arrays indexed along
axis 0), ``key`` draws the minibatch indices inside the program, steps from ``n_valid`` on
are masked, and ``hp`` is a dict of scalar hyper-parameters (traced, so they can be
vmapped). It returns ``(state, mean loss parts)``, the parts with "finite": whether the
loss and the new parameters are finite. Vmapped over runs, it also takes
``active`` (one bool per run, or None): inactive runs come back unchanged.

The builders' functions CONSUME ``state``: it is donated, so its buffers hold the result
and the arrays passed in are deleted. Pass a copy to keep it. The drivers above
(``pretrain``, ``cluster``, ``sweep``, the estimator) never hand the caller's arrays to them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax
from jax import lax

from . import losses, parallel, sae


def make_optimizer(
    name: str, learning_rate: float, momentum: float = 0.0, clip_norm: Optional[float] = None
) -> optax.GradientTransformation:
    """``"adam"`` (optax.adam) or ``"sgd"`` (optax.sgd with momentum); with ``clip_norm``
    the gradient g is first scaled to g * min(1, clip_norm / ||g||) (global norm)."""
    if name == "adam":
        opt = optax.adam(learning_rate)
    elif name == "sgd":
        opt = optax.sgd(learning_rate, momentum=momentum or None)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose 'adam' or 'sgd'")
    return opt if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), opt)


class Optimizer(NamedTuple):
    """An optimizer's settings, hashable so the step builders cache on them;
    :meth:`build` gives the optax transformation (:func:`make_optimizer`)."""

    name: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    clip_norm: Optional[float] = None

    def build(self) -> optax.GradientTransformation:
        return make_optimizer(self.name, self.learning_rate, self.momentum, self.clip_norm)


class Net(NamedTuple):
    """The static settings of the losses: the hidden layers' activations, the penalised
    hidden layers, the penalty's reduction and rho_hat form, and the matmul input dtype
    (None: float32). ``net._asdict()`` are the losses' keyword arguments."""

    acts: tuple
    sparse_layers: tuple = ()
    reduction: str = "mean"
    form: str = "ratio"
    compute_dtype: Any = None


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase's settings, resolved once from the run's ``Config`` and passed down (see
    ``pretraining.phase`` and ``clustering.phase``): the network's static settings, the
    optimizer, the minibatch size, the device mesh of data parallelism (None: one
    device), and for the clustering phase the refresh's matmul dtype and whether the
    decoder is trained."""

    net: Net
    optimizer: Optimizer
    batch_size: int
    mesh: Any = None
    refresh_dtype: Any = None
    use_decoder: bool = True


class TrainState(NamedTuple):
    """What an optimizer loop carries: the parameters, the optimizer's state and the number
    of optimizer steps taken (an int32 scalar; one per run when vmapped)."""

    params: Any
    opt_state: Any
    step: jax.Array


def init_state(params, optimizer: optax.GradientTransformation) -> TrainState:
    """A fresh :class:`TrainState` of ``params`` (step 0). Vmap it for a run axis. The
    state holds ``params`` themselves, and the compiled steps donate the state: pass a
    copy (``jax.tree.map(jnp.copy, params)``) of parameters you keep using."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def batch_indices(key: jax.Array, n: int, steps: int, batch_size: int) -> jax.Array:
    """(steps, batch_size) indices: consecutive slices of fresh permutations of range(n).

    Read in order, the batches run through one permutation after another, so each sample
    is drawn once per n draws. An epoch of ceil(n / batch_size) steps holds one whole
    permutation; its last batch is completed from the next one, so up to
    batch_size - n % batch_size samples are drawn twice in that epoch (and may meet
    themselves in that batch). Each call (a pretraining epoch, or a clustering chunk of
    ``update_interval`` steps) draws anew: when a chunk holds fewer than n draws it sees a
    random part of the data, and a sample may go unvisited for several chunks."""
    reps = math.ceil(steps * batch_size / n)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(key, reps))
    return perms.reshape(-1)[: steps * batch_size].reshape(steps, batch_size).astype(jnp.int32)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """ceil(n / batch_size): enough steps for one whole permutation (``batch_indices``)."""
    return math.ceil(n / batch_size)


def dtype_of(precision: str):
    """Matmul input dtype for a precision name: None for float32, bfloat16 for 'bf16'."""
    if precision == "float32":
        return None
    if precision == "bf16":
        return jnp.bfloat16
    raise ValueError(f"unknown precision {precision!r}; choose 'float32' or 'bf16'")


# ---------------------------------------------------------------- loss functions


def autoencoder_loss(
    params, batch, hp, *, acts, sparse_layers, reduction, form, compute_dtype, labelled=False
):
    """L_r = L_rec + beta * Omega over the penalised hidden layers; ``labelled``: the batch
    is (x, x_known, one-hot labels of x_known), a minibatch of every sample and one of the
    samples whose label is known, and L_r + label_weight * L_lab(x_known) is minimised
    (``losses.label_loss``, with the map params["label_map"])."""
    x, x_known, onehot = batch if labelled else (batch, None, None)
    z, x_hat, hidden = sae.forward(params, x, acts, compute_dtype=compute_dtype)
    rec = losses.reconstruction_loss(x, x_hat)
    sparsity = losses.sparsity_penalty(
        [hidden[i] for i in sparse_layers],
        rho=hp["rho"],
        reduction=reduction,
        form=form,
        floor=hp.get("kl_floor"),
    )
    total = rec + hp["beta"] * sparsity
    parts = {"reconstruction": rec, "sparsity": sparsity}
    if labelled:
        z_known = sae.encode(params, x_known, acts, compute_dtype=compute_dtype)
        parts["labels"] = losses.label_loss(z_known, params["label_map"], onehot)
        total = total + hp["label_weight"] * parts["labels"]
    return total, {"loss": total, **parts}


def layer_loss(params, x, hp, *, act, out_act, sparse, reduction, form, compute_dtype):
    """One-layer autoencoder of greedy pretraining: h = act(W x + b), x_hat = out_act(W' h + b')."""
    h = sae.dense(params["encoder"][0], x, act, compute_dtype=compute_dtype)
    x_hat = sae.dense(params["decoder"][0], h, out_act, compute_dtype=compute_dtype)
    rec = losses.reconstruction_loss(x, x_hat)
    sparsity = losses.sparsity_penalty(
        [h] if sparse else [],
        rho=hp["rho"],
        reduction=reduction,
        form=form,
        floor=hp.get("kl_floor"),
    )
    total = rec + hp["beta"] * sparsity
    return total, {"loss": total, "reconstruction": rec, "sparsity": sparsity}


def clustering_loss(
    params,
    batch,
    hp,
    *,
    acts,
    sparse_layers,
    reduction,
    form,
    use_decoder,
    compute_dtype,
    labelled=False,
):
    """L = [L_rec + beta * Omega] + gamma * KL(P || Q) on a minibatch (x, p).

    Without the decoder (DEC) only gamma * L_c remains. ``labelled``: the batch is
    (x, p, x_known, one-hot labels) and label_weight * L_lab(x_known) is added, with the
    map params["label_map"] (``losses.label_loss``).
    """
    if labelled:
        total, parts = clustering_loss(
            params,
            batch[:2],
            hp,
            acts=acts,
            sparse_layers=sparse_layers,
            reduction=reduction,
            form=form,
            use_decoder=use_decoder,
            compute_dtype=compute_dtype,
        )
        z_known = sae.encode(params["ae"], batch[2], acts, compute_dtype=compute_dtype)
        lab = losses.label_loss(z_known, params["label_map"], batch[3])
        total = total + hp["label_weight"] * lab
        return total, {**parts, "loss": total, "labels": lab}
    x, p = batch
    if use_decoder:
        z, x_hat, hidden = sae.forward(params["ae"], x, acts, compute_dtype=compute_dtype)
        hidden = [hidden[i] for i in sparse_layers]
        rec_weight = 1.0
    else:
        z = sae.encode(params["ae"], x, acts, compute_dtype=compute_dtype)
        x_hat, hidden, rec_weight = x, [], 0.0
    return losses.dssec_loss(
        x,
        x_hat,
        hidden,
        z,
        params["centers"],
        p,
        gamma=hp["gamma"],
        beta=hp["beta"],
        rho=hp["rho"],
        alpha=hp["alpha"],
        rec_weight=rec_weight,
        reduction=reduction,
        form=form,
        floor=hp.get("kl_floor"),
    )


# ---------------------------------------------------------------- compiled loops


def make_train_step(
    loss_fn: Callable, optimizer: optax.GradientTransformation, hp: Optional[dict] = None
) -> Callable:
    """A pure ``train_step(state, batch) -> (state, loss parts)`` for a loop of your own: one
    optimizer step on ``batch`` of ``loss_fn(params, batch, hp) -> (loss, parts)`` (the
    losses above, with their keyword arguments bound), with the traced hyper-parameters
    ``hp`` (:func:`hyper`) bound in; ``train_step(state, batch, hp)`` passes others, as the
    compiled scans do. Not jitted and nothing donated: ``jax.jit`` it, or vmap it, as you
    need.

    >>> step = make_train_step(functools.partial(autoencoder_loss, **Net(("relu",) * 3,
    ...     (0, 1))._asdict()), optax.adam(1e-3), hyper(beta=1.0))    # doctest: +SKIP
    >>> state, parts = step(init_state(params, optax.adam(1e-3)), x_batch)  # doctest: +SKIP
    """
    bound = hp

    def train_step(state: TrainState, batch, hp: Optional[dict] = None) -> tuple[TrainState, dict]:
        hp = bound if hp is None else hp
        if hp is None:
            raise ValueError("no hyper-parameters: make_train_step(..., hp=train.hyper(...))")
        grads, parts = jax.grad(loss_fn, has_aux=True)(state.params, batch, hp)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(
            optax.apply_updates(state.params, updates), opt_state, state.step + 1
        ), parts

    return train_step


def take_rows(data, bidx: jax.Array):
    """The minibatch ``bidx`` of every array of ``data`` (rows)."""
    return jax.tree.map(lambda a: a[bidx], data)


def labelled_batch(data: tuple, bidx: jax.Array) -> tuple:
    """The minibatch ``bidx`` of data (x, ..., rows, one-hot) with known labels
    (``labels.label_data``): (x[b], ..., x[rows[b]], one-hot[b]), the known samples
    gathered from x itself."""
    *plain, rows, onehot = data
    return (*take_rows(tuple(plain), bidx), plain[0][rows[bidx]], onehot[bidx])


def scan_steps(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    steps: int,
    batch_size: int,
    batch_sharding=None,
    gather: Callable = take_rows,
) -> Callable:
    """Uncompiled ``run(state, data, key, n_valid, hp)``: ``lax.scan`` over ``steps``
    optimizer steps whose minibatch indices ``batch_indices(key, n, steps, batch_size)``
    are drawn inside the program. Steps ``i >= n_valid`` leave the state as it is, so a
    shorter last chunk reuses the same compiled program. Returns the new state (its step
    advanced by ``n_valid``) and the mean of each loss part over the valid steps.
    With ``batch_sharding`` each minibatch is constrained to it (data parallelism);
    ``gather(data, bidx)`` takes a minibatch (:func:`take_rows`, :func:`labelled_batch`)."""

    train_step = make_train_step(loss_fn, optimizer)

    def run(state, data, key, n_valid, hp):
        n = jax.tree.leaves(data)[0].shape[0]
        idx = batch_indices(key, n, steps, batch_size)

        def update(carry, bidx):
            params, opt_state = carry
            batch = gather(data, bidx)
            if batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            new, aux = train_step(TrainState(params, opt_state, state.step), batch, hp)
            return (new.params, new.opt_state), aux

        carry = (state.params, state.opt_state)
        aux_shape = jax.eval_shape(update, carry, idx[0])[1]

        def skip(carry, bidx):
            return carry, jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), aux_shape)

        def step(carry, xs):
            i, bidx = xs
            return lax.cond(i < n_valid, update, skip, carry, bidx)

        (params, opt_state), aux = lax.scan(step, carry, (jnp.arange(steps), idx))
        valid = jnp.minimum(jnp.asarray(n_valid, jnp.int32), steps)
        count = jnp.maximum(valid.astype(jnp.float32), 1.0)
        new = TrainState(params, opt_state, state.step + valid)
        return new, {k: jnp.sum(v) / count for k, v in aux.items()}

    return run


def all_finite(tree) -> jax.Array:
    """(S,): whether every entry of run s in every leaf (leading run axis) is finite."""
    leaves = [jnp.isfinite(a).reshape(a.shape[0], -1).all(1) for a in jax.tree.leaves(tree)]
    return jnp.stack(leaves).all(0)


def keep_active(new, old, active: jax.Array):
    """Leaf by leaf, ``new`` for the runs where ``active`` (S,) holds, else ``old``."""

    def pick(a, b):
        return jnp.where(active.reshape(active.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(pick, new, old)


UNBATCHED = "unbatched"
# Compiled programs each builder keeps (least recently used dropped): a fit needs a few per
# builder (one per layer for stacked pretraining); a long-lived process that tries many
# batch sizes or data sizes must not keep every executable it ever built.
COMPILED_CACHE = 32


def _compile(
    loss: Callable,
    optimizer: Optimizer,
    steps: int,
    batch_size: int,
    data_axes,
    mesh,
    gather: Callable = take_rows,
) -> Callable:
    """jit (with the state donated) of ``steps`` scanned steps on minibatches of
    ``batch_size``. Unless ``data_axes`` is UNBATCHED, the steps are vmapped over a leading
    run axis of the state, key and hp, and over the data as ``data_axes`` says (None:
    shared by all runs); ``n_valid`` is shared, and the optional argument ``active`` (S,)
    freezes the runs where it is False (None: every run trains). A run whose loss or
    parameters turn non-finite in the call is frozen at its state before it (the select
    happens inside the program, since the state is donated); its part "finite" (S,) says
    which runs came through. UNBATCHED, the part "finite" says whether the loss and the
    new parameters are finite (the state is returned as it is). With a ``mesh``,
    minibatches are sharded over its data axis."""
    sharding = None if mesh is None else parallel.batch_sharding(mesh)
    run = scan_steps(loss, optimizer.build(), steps, batch_size, sharding, gather)
    if data_axes == UNBATCHED:

        def single(state, data, key, n_valid, hp):
            new, parts = run(state, data, key, n_valid, hp)
            params_ok = all_finite(jax.tree.map(lambda a: a[None], new.params))[0]
            return new, {**parts, "finite": jnp.isfinite(parts["loss"]) & params_ok}

        return jax.jit(single, donate_argnums=0)
    runs = jax.vmap(run, in_axes=(0, data_axes, 0, None, 0))

    def batched(state, data, key, n_valid, hp, active=None):
        new, parts = runs(state, data, key, n_valid, hp)
        finite = jnp.isfinite(parts["loss"]) & all_finite(new.params)
        keep = finite if active is None else active & finite
        return keep_active(new, state, keep), {**parts, "finite": finite}

    return jax.jit(batched, donate_argnums=0)


@functools.lru_cache(maxsize=COMPILED_CACHE)
def autoencoder_steps(
    net: Net,
    optimizer: Optimizer,
    *,
    steps: int,
    batch_size: int,
    data_axes=UNBATCHED,
    mesh=None,
    labelled: bool = False,
) -> Callable:
    """Compiled end-to-end pretraining: ``steps`` optimizer steps per call on minibatches
    of ``batch_size``; ``labelled``: with the label term, on data (x, rows, one-hot) of
    ``labels.label_data`` whose batches are (x, x_known, one-hot). Consumes (donates) the
    state."""
    loss = functools.partial(autoencoder_loss, **net._asdict(), labelled=labelled)
    gather = labelled_batch if labelled else take_rows
    return _compile(loss, optimizer, steps, batch_size, data_axes, mesh, gather)


@functools.lru_cache(maxsize=COMPILED_CACHE)
def layer_steps(
    net: Net,
    optimizer: Optimizer,
    *,
    layer: int,
    steps: int,
    batch_size: int,
    data_axes=UNBATCHED,
    mesh=None,
) -> Callable:
    """Compiled greedy layer-wise pretraining of encoder layer ``layer`` of ``net`` (the
    embedding layer is the last, linear) with its mirror: input activation "linear" for
    layer 0, else the activation of the layer below. Consumes (donates) the state."""
    acts = net.acts + ("linear",)
    loss = functools.partial(
        layer_loss,
        act=acts[layer],
        out_act="linear" if layer == 0 else acts[layer - 1],
        sparse=layer in net.sparse_layers,
        reduction=net.reduction,
        form=net.form,
        compute_dtype=net.compute_dtype,
    )
    return _compile(loss, optimizer, steps, batch_size, data_axes, mesh)


@functools.lru_cache(maxsize=COMPILED_CACHE)
def clustering_steps(
    net: Net,
    optimizer: Optimizer,
    *,
    use_decoder: bool,
    steps: int,
    batch_size: int,
    data_axes=UNBATCHED,
    mesh=None,
    labelled: bool = False,
) -> Callable:
    """Compiled clustering-phase steps on (x, p) between two target refreshes. Without the
    decoder (DEC) params are {"ae": {"encoder"}, "centers"}: the decoder is not updated.
    ``labelled``: with the label term, on data (x, p, rows, one-hot) whose batches are
    (x, p, x_known, one-hot), and params with "label_map". Consumes (donates) the state."""
    loss = functools.partial(
        clustering_loss, **net._asdict(), use_decoder=use_decoder, labelled=labelled
    )
    gather = labelled_batch if labelled else take_rows
    return _compile(loss, optimizer, steps, batch_size, data_axes, mesh, gather)


def chunked_map(fn: Callable, x: jax.Array, chunk: int = 4096) -> jax.Array:
    """Apply a row-wise ``fn`` to ``x`` (n, d) in blocks of ``chunk`` rows, read in place
    with ``lax.dynamic_slice`` (no padded copy of ``x``); the last block starts at
    n - chunk, so it overlaps the one before and recomputes those rows."""
    n = x.shape[0]
    chunk = min(chunk, n)
    blocks = math.ceil(n / chunk)
    block_out = jax.eval_shape(fn, jax.ShapeDtypeStruct((chunk, *x.shape[1:]), x.dtype))

    def body(i, out):
        start = jnp.minimum(i * chunk, n - chunk)
        rows = fn(lax.dynamic_slice_in_dim(x, start, chunk))
        return lax.dynamic_update_slice_in_dim(out, rows, start, 0)

    return lax.fori_loop(0, blocks, body, jnp.zeros((n, *block_out.shape[1:]), block_out.dtype))


@functools.lru_cache(maxsize=COMPILED_CACHE)
def stack_fn(acts: tuple, compute_dtype, chunk: int = 4096, batched: bool = False) -> Callable:
    """Compiled ``f(layers, x)``: the given dense layers applied to the whole dataset
    (batched: layers carry a leading run axis, x is shared)."""

    def run(layers, x):
        return chunked_map(
            lambda b: sae.apply_stack(layers, b, acts, compute_dtype=compute_dtype)[0], x, chunk
        )

    return jax.jit(jax.vmap(run, in_axes=(0, None)) if batched else run)


@functools.lru_cache(maxsize=COMPILED_CACHE)
def refresh_fn(acts: tuple, compute_dtype, chunk: int = 4096, batched: bool = False) -> Callable:
    """Compiled ``f(params, x, alpha) -> (q, p, labels)`` on the whole dataset
    (batched: params and alpha carry a leading run axis, x is shared)."""

    def run(params, x, alpha):
        q = chunked_map(
            lambda b: losses.soft_assignment(
                sae.encode(params["ae"], b, acts, compute_dtype=compute_dtype),
                params["centers"],
                alpha=alpha,
            ),
            x,
            chunk,
        )
        return q, losses.target_distribution(q), jnp.argmax(q, axis=1).astype(jnp.int32)

    return jax.jit(jax.vmap(run, in_axes=(0, None, 0)) if batched else run)


def embed(ae_params: dict, x: jax.Array, acts: tuple, compute_dtype=None) -> jax.Array:
    """Embedding of the whole dataset, (n, e), in one compiled chunked pass."""
    return stack_fn(acts + ("linear",), compute_dtype)(ae_params["encoder"], x)


def hyper(
    gamma: float = 0.0,
    beta: float = 0.0,
    rho: float = 0.05,
    alpha: float = 1.0,
    kl_floor: Optional[float] = None,
    label_weight: Optional[float] = None,
    dtype=jnp.float32,
) -> dict:
    """Traced hyper-parameters for the compiled steps, as float32 scalars. ``kl_floor`` and
    ``label_weight`` are present only when set, so a run without them compiles exactly the
    program it compiled before they existed."""
    hp = dict(gamma=gamma, beta=beta, rho=rho, alpha=alpha)
    if kl_floor is not None:
        hp["kl_floor"] = kl_floor
    if label_weight is not None:
        hp["label_weight"] = label_weight
    return {k: jnp.asarray(v, dtype) for k, v in hp.items()}

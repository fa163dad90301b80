"""DSSEC losses as pure functions (usable under jit, vmap and grad).

Notation: x (n, d) inputs, z (n, e) embeddings, centers mu (K, e), q and p (n, K).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_TINY = float(jnp.finfo(jnp.float32).tiny)


def reconstruction_loss(x: ArrayLike, x_hat: ArrayLike) -> jax.Array:
    """L_rec = mean_i ||x_i - x_hat_i||^2 / d (mean squared error, as Keras IDEC).

    Args:
      x: inputs, (n, d).
      x_hat: reconstructions, (n, d).

    Returns:
      The scalar loss.
    """
    if jnp.shape(x) != jnp.shape(x_hat):
        raise ValueError(f"x {jnp.shape(x)} and x_hat {jnp.shape(x_hat)} must have one shape")
    return jnp.mean(jnp.square(jnp.asarray(x) - jnp.asarray(x_hat)))


def label_loss(z: ArrayLike, label_map: dict, onehot: ArrayLike) -> jax.Array:
    """Label-consistency term of LCAE: L_lab = mean_i ||y_i - (z_i M + c)||^2.

    Args:
      z: embeddings of samples whose label is known, (b, e).
      label_map: the linear map {"w": M (e, K), "b": c (K,)} from the code to the labels.
      onehot: their one-hot labels y_i, (b, K).

    Returns:
      The scalar term.
    """
    pred = jnp.asarray(z, jnp.float32) @ label_map["w"] + label_map["b"]
    if jnp.shape(onehot) != pred.shape:
        raise ValueError(
            f"onehot must be one-hot rows {pred.shape} (one per embedding, one column per "
            f"class), got {jnp.shape(onehot)}; labels.label_data makes them"
        )
    return jnp.mean(jnp.sum(jnp.square(jnp.asarray(onehot, jnp.float32) - pred), axis=-1))


def sparsity_kl(
    rho: ArrayLike,
    rho_hat: ArrayLike,
    *,
    eps: float = 1e-6,
    rest: ArrayLike | None = None,
    floor: ArrayLike | None = None,
) -> jax.Array:
    """Omega = sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))].

    ``rho_hat`` (..., units) is clipped to [eps, 1 - eps]; the sum runs over the last axis,
    and a unit whose rate is below eps gets no gradient from the penalty, with or without a
    floor (left to the reconstruction; BUILD_NOTES, "The KL's floor below the clip").
    ``rest``, if given, is 1 - rho_hat computed without cancellation, clipped to the same
    range, so both terms stop together at the clip (no gradient there, as without ``rest``).

    dOmega/drho_hat = -rho / rho_hat + (1 - rho) / (1 - rho_hat) grows without bound as a unit
    falls silent (rho_hat -> 0). With ``floor`` f (0 < f < rho), below rho_hat = f each term
    continues along its tangent at f, so the derivative is bounded by rho / f - (1 - rho) /
    (1 - f) there, down to eps; at and above f nothing changes. None keeps the unbounded
    form. ValueError for a concrete floor outside (0, rho).

    Args:
      rho: target activation rate, in (0, 1).
      rho_hat: each unit's mean activation, (..., units).
      eps: clip of rho_hat away from 0 and 1.
      rest: optional 1 - rho_hat computed without cancellation.
      floor: optional rate below which the KL is linear in rho_hat.

    Returns:
      Omega summed over the last axis, shape (...).
    """
    _check_floor(rho, floor)
    rho = jnp.asarray(rho, jnp.float32)
    rho_hat = jnp.clip(jnp.asarray(rho_hat, jnp.float32), eps, 1.0 - eps)
    rest = None if rest is None else jnp.clip(jnp.asarray(rest, jnp.float32), eps, 1.0 - eps)
    if floor is None:
        return jnp.sum(_kl_terms(rho, rho_hat, rest), axis=-1)
    f = jnp.asarray(floor, jnp.float32)
    above = _kl_terms(
        rho, jnp.maximum(rho_hat, f), None if rest is None else jnp.minimum(rest, 1 - f)
    )
    slope = -rho / f + (1.0 - rho) / (1.0 - f)
    return jnp.sum(above + slope * jnp.minimum(rho_hat - f, 0.0), axis=-1)


def _check_floor(rho, floor) -> None:
    """ValueError for a rho known now (not traced) outside (0, 1), where the KL is not
    defined, and for a floor outside (0, rho): above rho the penalty would reward silent
    units. Traced values are checked by ``Config``."""
    if not isinstance(rho, jax.core.Tracer) and not np.all(
        (np.asarray(rho, np.float64) > 0) & (np.asarray(rho, np.float64) < 1)
    ):
        raise ValueError(f"rho must lie in (0, 1), got {np.asarray(rho).tolist()}")
    if floor is None or any(isinstance(v, jax.core.Tracer) for v in (rho, floor)):
        return
    f, r = np.asarray(floor, np.float64), np.asarray(rho, np.float64)
    if not np.all((f > 0) & (f < r)):
        raise ValueError(
            f"floor must lie in (0, rho={r.tolist()}), got {f.tolist()}; above rho the "
            "penalty would reward silent units (the strong recipe uses 0.005 with rho 0.05)"
        )


def _kl_terms(rho: jax.Array, rho_hat: jax.Array, rest: jax.Array | None) -> jax.Array:
    """Each unit's KL(rho || rho_hat); ``rest`` (1 - rho_hat without cancellation) or None."""
    log_rest = jnp.log1p(-rho_hat) if rest is None else jnp.log(rest)
    return rho * (jnp.log(rho) - jnp.log(rho_hat)) + (1.0 - rho) * (jnp.log1p(-rho) - log_rest)


# rho_hat forms for non-negative, unbounded (ReLU) units: the squashing s(h) in [0, 1) and
# its complement 1 - s(h), computed without the cancellation of 1 - s.
RATE_FORMS = ("ratio", "exp", "tanh", "clip")


def _squash(h: jax.Array, form: str) -> tuple[jax.Array, jax.Array]:
    h = jnp.maximum(h, 0.0)
    if form == "ratio":
        return h / (1.0 + h), 1.0 / (1.0 + h)
    if form == "exp":
        return -jnp.expm1(-h), jnp.exp(-h)
    if form == "tanh":
        return jnp.tanh(h), 2.0 * jax.nn.sigmoid(-2.0 * h)
    if form == "clip":
        c = jnp.minimum(h, 1.0)
        return c, 1.0 - c
    raise ValueError(f"unknown rho_hat form {form!r}; choose from {', '.join(RATE_FORMS)}")


def activation_rate(h: ArrayLike, *, form: str = "ratio") -> tuple[jax.Array, jax.Array]:
    """Batch-mean activation of each unit, rho_hat_j = mean_i s(h_ij), and 1 - rho_hat_j.

    ``form`` picks s for non-negative units: "ratio" h/(1+h) (gradient 1/(1+h)^2, non-zero
    for every finite h), "exp" 1-exp(-h), "tanh" tanh(h) (under the KL's 1e-6 clip both
    lose their gradient once 1 - rho_hat < 1e-6, about h > 14 and h > 7 on every row),
    "clip" min(h, 1) (the former form: no gradient above 1). For units already in [0, 1]
    (sigmoid) pass "mean": s(h) = h, the classic sparse autoencoder.

    Args:
      h: activations of one layer, (batch, units).
      form: "ratio", "exp", "tanh", "clip" or "mean".

    Returns:
      (rho_hat, 1 - rho_hat), each (units,).
    """
    h = jnp.asarray(h)
    if form == "mean":
        s, c = h, 1.0 - h
    else:
        s, c = _squash(h, form)
    return jnp.mean(s, axis=0), jnp.mean(c, axis=0)


def sparsity_penalty(
    hidden: Sequence[ArrayLike],
    *,
    rho: ArrayLike,
    reduction: str = "mean",
    form: str = "ratio",
    floor: ArrayLike | None = None,
) -> jax.Array:
    """Omega = sum over the given layers of sum_j KL(rho || rho_hat_j), rho_hat from
    ``activation_rate(h, form=form)``.

    With ``reduction="mean"`` each layer's KL is divided by its number of units, so the
    penalty does not grow with layer width (beta_mean = beta_sum * units); ``"sum"`` is the
    classic (unnormalised) form.

    Args:
      hidden: the penalised layers' activations, each (batch, units).
      rho: target activation rate, in (0, 1).
      reduction: "mean" (per unit) or "sum".
      form: rho_hat form of :func:`activation_rate`.
      floor: rate below which each KL is linear (:func:`sparsity_kl`); None: unbounded.

    Returns:
      The scalar penalty (0 for no layers).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    total = jnp.zeros((), jnp.float32)
    for h in hidden:
        rho_hat, rest = activation_rate(h, form=form)
        kl = sparsity_kl(rho, rho_hat, rest=None if form == "clip" else rest, floor=floor)
        total = total + (kl / rho_hat.shape[-1] if reduction == "mean" else kl)
    return total


def soft_assignment(z: ArrayLike, centers: ArrayLike, *, alpha: float = 1.0) -> jax.Array:
    """Student's t assignment q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha+1)/2), rows normalised.

    Computed as a softmax of log-kernels, so far-away points never give 0/0.

    Args:
      z: embeddings, (n, e).
      centers: cluster centres, (K, e).
      alpha: degrees of freedom of the Student's t kernel.

    Returns:
      q, (n, K), rows summing to 1.
    """
    z = jnp.asarray(z)
    centers = jnp.asarray(centers)
    d2 = jnp.sum(jnp.square(z[:, None, :] - centers[None, :, :]), axis=-1)
    logits = -0.5 * (alpha + 1.0) * jnp.log1p(d2 / alpha)
    return jax.nn.softmax(logits, axis=-1)


def target_distribution(q: ArrayLike) -> jax.Array:
    """p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with f_j = sum_i q_ij over all rows of q.

    Pass q of the whole dataset. An empty cluster (f_j = 0) gets p_ij = 0.

    Args:
      q: soft assignments of the whole dataset, (n, K).

    Returns:
      p, (n, K), rows summing to 1.
    """
    q = jnp.asarray(q)
    f = jnp.maximum(jnp.sum(q, axis=0), _TINY)
    weight = jnp.square(q) / f
    return weight / jnp.maximum(jnp.sum(weight, axis=1, keepdims=True), _TINY)


def clustering_kl(p: ArrayLike, q: ArrayLike) -> jax.Array:
    """L_c = KL(P || Q) = mean_i sum_j p_ij log(p_ij / q_ij) (as Keras ``kld``); 0 log 0 = 0.

    P is a fixed target (DEC holds it between refreshes): no gradient flows through it, even
    when the caller computes it from Q inside the differentiated function. Q is clipped to
    [float32's smallest normal, 1] before the log, so a q_ij that underflows gives its term
    no gradient; a target computed from the same Q is 0 there (p_ij scales as q_ij^2), so
    only a target older than Q meets the clip.

    Args:
      p: targets, (n, K).
      q: soft assignments, (n, K).

    Returns:
      The scalar loss.
    """
    p = jax.lax.stop_gradient(jnp.asarray(p))
    q = jnp.clip(jnp.asarray(q), _TINY, 1.0)
    terms = jax.scipy.special.xlogy(p, p) - jax.scipy.special.xlogy(p, q)
    return jnp.mean(jnp.sum(terms, axis=-1))


def dssec_loss(
    x: ArrayLike,
    x_hat: ArrayLike,
    hidden: Sequence[ArrayLike],
    z: ArrayLike,
    centers: ArrayLike,
    p: ArrayLike,
    *,
    gamma: ArrayLike = 0.1,
    beta: ArrayLike = 1.0,
    rho: ArrayLike = 0.05,
    alpha: float = 1.0,
    rec_weight: ArrayLike = 1.0,
    reduction: str = "mean",
    form: str = "ratio",
    floor: ArrayLike | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total L = rec_weight * (L_rec + beta * Omega) + gamma * L_c, and its parts.

    ``hidden`` holds the penalised layers' activations (empty for no sparsity); ``reduction``
    ``form`` and ``floor`` are those of ``sparsity_penalty``.
    DSSEC: rec_weight 1, beta > 0 (the defaults are the library's DSSEC, ``Config``'s);
    IDEC: beta 0; DEC: rec_weight 0 (decoder unused).

    Args:
      x: inputs, (n, d).
      x_hat: reconstructions, (n, d).
      hidden: penalised hidden activations, each (n, units).
      z: embeddings, (n, e).
      centers: cluster centres, (K, e).
      p: targets of the rows, (n, K).
      gamma: weight of L_c.
      beta: weight of Omega.
      rho: the sparsity target.
      alpha: Student's t degrees of freedom.
      rec_weight: weight of L_rec + beta * Omega (0 for DEC).
      reduction: as in ``sparsity_penalty``.
      form: as in ``sparsity_penalty``.
      floor: as in ``sparsity_penalty``.

    Returns:
      (L, {"loss", "reconstruction", "sparsity", "clustering"}).
    """
    rec = reconstruction_loss(x, x_hat)
    sparsity = sparsity_penalty(hidden, rho=rho, reduction=reduction, form=form, floor=floor)
    clus = clustering_kl(p, soft_assignment(z, centers, alpha=alpha))
    total = jnp.asarray(rec_weight * (rec + beta * sparsity) + gamma * clus)
    return total, {"loss": total, "reconstruction": rec, "sparsity": sparsity, "clustering": clus}

"""Choosing one answer among R restarts without labels.

Every rule reads only what a user has: each run's labels, its final losses, and the data.
``RULES`` names them; :func:`choose` applies one and returns the index of the chosen run
(or, for "consensus", labels that no single run holds).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import jax
import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

if TYPE_CHECKING:  # (imported inside the functions that need them: pipeline imports this)
    from .methods import Config
    from .pipeline import FitResult

RULES = (
    "consensus",
    "vote",
    "loss",
    "agreement_nmi",
    "agreement_ari",
    "calinski_harabasz",
    "davies_bouldin",
)


TIE_RULES = ("vote", "agreement_nmi", "agreement_ari")  # symmetric: two runs always tie


def agreement(labelings: Sequence[np.ndarray], metric: str = "nmi") -> np.ndarray:
    """a_r = mean over s != r of score(labels_r, labels_s), score NMI or ARI; (R,)."""
    score = {"nmi": skm.normalized_mutual_info_score, "ari": skm.adjusted_rand_score}[metric]
    r = len(labelings)
    if r < 2:
        return np.zeros(r)
    m = np.zeros((r, r))
    for i in range(r):
        for j in range(i + 1, r):
            m[i, j] = m[j, i] = score(labelings[i], labelings[j])
    return m.sum(1) / (r - 1)


def align(labels: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """``labels`` renamed by the one-to-one map that best matches ``reference`` (Hungarian
    algorithm on their k x k contingency table)."""
    counts = np.zeros((k, k), np.int64)
    np.add.at(counts, (labels, reference), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    rename = np.arange(k)
    rename[rows] = cols
    return rename[labels]


def vote(labelings: Sequence[np.ndarray], k: int, reference: int) -> np.ndarray:
    """Majority vote of the labelings after aligning each to ``labelings[reference]``; a
    sample without a majority keeps the reference's label."""
    ref = np.asarray(labelings[reference])
    votes = np.zeros((ref.size, k), np.int32)
    for lab in labelings:
        votes[np.arange(ref.size), align(np.asarray(lab), ref, k)] += 1
    top = votes.max(1)
    out = votes.argmax(1).astype(np.int32)
    tie = (votes == top[:, None]).sum(1) > 1
    out[tie] = ref[tie]
    return out


def consensus(labelings: Sequence[np.ndarray], k: int, seed: int = 0) -> np.ndarray:
    """The cluster ensemble's answer: K-means (k clusters, 10 restarts, ``seed``) on the
    concatenated one-hot labelings, (n, R k). Squared distances there count the runs that
    put two samples apart, so it clusters the co-association of the runs without the
    (n, n) matrix."""
    onehot = np.concatenate([np.eye(k, dtype=np.float32)[np.asarray(lab)] for lab in labelings], 1)
    return KMeans(k, n_init=10, random_state=seed).fit_predict(onehot).astype(np.int32)


def common_space(x: np.ndarray, dim: int = 50, seed: int = 0) -> np.ndarray:
    """The space every run is judged in: the data's first ``dim`` principal components
    (each run's own embedding has its own scale)."""
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    dim = min(dim, x.shape[0], x.shape[1])
    return PCA(dim, random_state=seed).fit_transform(x)


def internal_index(space: np.ndarray, labels: np.ndarray, index: str) -> float:
    """Calinski-Harabasz (higher is better) or Davies-Bouldin (lower) of ``labels`` in
    ``space``, signed so that higher is better; -inf for a single cluster."""
    if len(np.unique(labels)) < 2:
        return -np.inf
    if index == "calinski_harabasz":
        return float(skm.calinski_harabasz_score(space, labels))
    if index == "davies_bouldin":
        return -float(skm.davies_bouldin_score(space, labels))
    raise ValueError(f"unknown index {index!r}")


def check_rule(rule: str) -> None:
    """ValueError naming the rules when ``rule`` is not one of ``RULES``."""
    if rule not in RULES:
        raise ValueError(f"unknown restart rule {rule!r}; choose one of {', '.join(RULES)}")


def scores(
    rule: str,
    labelings: Sequence[np.ndarray],
    losses: Optional[Sequence[Optional[float]]] = None,
    space: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Each run's criterion under ``rule``, higher is better; (R,). "vote" scores by NMI
    agreement (its reference run); "consensus" scores against its own answer, so
    :func:`choose` gives its scores. "loss" is
    minus each run's last logged loss, taken against that run's own target P at its own
    stopping iteration; KL(P || Q) falls as Q sharpens, so the rule leans towards
    over-confident runs (the weakest rule on the results tables' runs, not on every spread
    measured: docs/guide.md, restarts)."""
    check_rule(rule)
    if rule == "consensus":
        raise ValueError(
            "the 'consensus' rule scores the runs against its own answer: "
            "choose('consensus', labelings, k) gives both"
        )
    if rule == "loss":
        if losses is None:
            raise ValueError("the 'loss' rule needs each run's final loss")
        lost = np.asarray(losses, np.float64)
        if np.isnan(lost).all():
            raise ValueError(
                "the 'loss' rule needs a final loss, and no run has one (max_iter=0 or every "
                "loss non-finite); choose another restart_rule"
            )
        return -lost  # NaN for a run without a loss: never chosen (choose)
    if rule in ("agreement_nmi", "vote"):
        return agreement(labelings, "nmi")
    if rule == "agreement_ari":
        return agreement(labelings, "ari")
    if space is None:
        raise ValueError(f"the {rule!r} rule needs the common space (common_space(x))")
    return np.array([internal_index(space, lab, rule) for lab in labelings])


def choose(
    rule: str,
    labelings: Sequence[np.ndarray],
    k: int,
    losses: Optional[Sequence[Optional[float]]] = None,
    space: Optional[np.ndarray] = None,
    seed: int = 0,
) -> tuple[int, np.ndarray, np.ndarray]:
    """(index of the chosen run, the answer's labels, every run's score). The first best
    run wins ties, so the choice is deterministic. "vote": the vote aligned to the most
    agreeing run; "consensus": :func:`consensus` (``seed``), and the chosen run is the one
    nearest it (NMI)."""
    if rule == "consensus":
        labels = consensus(labelings, k, seed)
        s = np.array([skm.normalized_mutual_info_score(labels, lab) for lab in labelings])
        return int(np.argmax(s)), labels, s
    s = scores(rule, labelings, losses, space)
    best = int(np.argmax(np.where(np.isnan(s), -np.inf, s)))  # a NaN score never wins
    labels = vote(labelings, k, best) if rule == "vote" else labelings[best]
    return best, np.asarray(labels), s


def _centres(embedding: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean of each of the ``k`` clusters in ``embedding``; a cluster the answer left empty
    gets a centre at infinity (q = 0 there), so ``predict`` never answers a cluster that
    ``labels`` does not use."""
    out = np.full((k, embedding.shape[1]), np.inf, np.float32)
    for j in np.unique(labels):
        out[j] = embedding[labels == j].mean(0)
    return out


def _fits(x, cfg, seeds, y, log, known=None) -> list:
    """One fit per seed: one vmapped program on an accelerator; one after another on the
    CPU, where the batched program is slower than the runs in turn (COIL-20, DSSEC, 5
    runs: 64.8 s against 43.4 s; BUILD_NOTES, "Restarts chosen without labels") and each
    run equals ``fit`` of its seed bit for bit. With ``known`` labels (which the batched
    program does not take) the runs go in turn everywhere."""
    from . import pipeline, sweep

    if cfg.spec.features == "autoencoder" and jax.default_backend() != "cpu":
        if not cfg.data_parallel and known is None:
            return sweep.fit_batched(x, [cfg] * len(seeds), seeds, y=y, log=log)
    return [_fit_or_diverge(pipeline.fit, x, cfg, s, y, log, known) for s in seeds]


def _fit_or_diverge(fit, x, cfg, seed, y, log, known=None):
    """``fit`` of one seed; a run that turns non-finite comes back as a result with stop
    reason "nonfinite" and labels -1, not as an error that would end the other restarts
    (a batch's frozen run keeps its last labels; neither takes part in the choice)."""
    from .pipeline import FitResult
    from .validation import NonFiniteLossError

    try:
        return fit(x, cfg, seed, y, known=known, log=log)
    except NonFiniteLossError:
        n = len(x)
        return FitResult(
            labels=np.full(n, -1, np.int32),
            embedding=np.zeros((n, 0), np.float32),
            centers=np.zeros((0, 0), np.float32),
            stop_reason="nonfinite",
        )


def _final_loss(run) -> Optional[float]:
    """The final total loss of a run's clustering phase (None without one, or non-finite)."""
    loss = run.history[-1].get("loss") if run.history else None
    return float(loss) if loss is not None and np.isfinite(loss) else None


def check_restarts(cfg: Config, n_restarts: int, rule: str) -> None:
    """ValueError, before any fit, for restarts that cannot be chosen as asked: k left to
    each run ("auto"), an unknown rule, the loss rule without a clustering loss, a rule
    that ties on 2 runs."""
    if cfg.n_clusters == "auto":
        raise ValueError(
            "n_restarts > 1 needs a fixed n_clusters (each run would choose its own k); "
            "choose k first (n_clusters='auto' with one run), then restart at that k"
        )
    check_rule(rule)
    if rule == "loss" and (cfg.spec.clustering is None or cfg.max_iter == 0):
        raise ValueError(
            f"restart_rule='loss' needs a clustering phase with a loss; {cfg.method} at "
            f"max_iter={cfg.max_iter} has none: choose another restart_rule"
        )
    if n_restarts == 2 and rule in TIE_RULES:
        raise ValueError(
            f"with 2 runs restart_rule={rule!r} ties (each agrees with the other as much) and "
            "would return the first; use n_restarts >= 3, or rule 'consensus' or an index"
        )


def fit_restarts(
    x: np.ndarray,
    cfg: Config,
    seed: int,
    n_restarts: int,
    rule: str,
    y: Optional[ArrayLike] = None,
    log: Optional[Callable[[dict], None]] = None,
    known: Optional[ArrayLike] = None,
) -> tuple[FitResult, list[dict]]:
    """R = ``n_restarts`` independent runs of ``cfg`` (seeds seed, seed + 1, ...: pretraining
    and clustering, with the ``known`` labels if any; :func:`_fits`), and the answer chosen
    by ``rule`` without the evaluation labels ``y``.

    Returns (the chosen run's FitResult, a record per run). For "consensus" and "vote" the
    result's labels are the ensemble's and its centres the means of those clusters in the
    chosen run's embedding, so ``predict`` follows them where the runs agree (nearest mean
    in one run's embedding: a sample the runs disagree on may be predicted elsewhere); the
    rest of the result (history, K-means start, iterations, network) is the chosen run's. A run that turned non-finite
    (stop reason "nonfinite") takes no part in the choice (score NaN). The batched runs
    equal single fits of their seeds up to float rounding, not bit for bit (on the CPU,
    where they run in turn, bit for bit).
    """
    from .validation import NonFiniteLossError

    check_restarts(cfg, n_restarts, rule)
    seeds = [seed + r for r in range(n_restarts)]
    runs = _fits(x, cfg, seeds, y, log, known)
    ok = [i for i, r in enumerate(runs) if r.stop_reason != "nonfinite"]  # diverged: no vote
    if not ok:
        raise NonFiniteLossError(f"every one of the {n_restarts} restarts turned non-finite")
    if len(ok) == 2 and rule in TIE_RULES:
        warnings.warn(
            f"only 2 of the {n_restarts} restarts stayed finite, and restart_rule={rule!r} "
            "ties on 2 runs: the first is answered"
        )
    losses = [_final_loss(runs[i]) for i in ok]
    losses = [np.nan if v is None else v for v in losses]
    space = common_space(x, seed=seed) if rule in ("calinski_harabasz", "davies_bouldin") else None
    k = runs[ok[0]].n_clusters  # a diverged run has none
    best, labels, part = choose(rule, [runs[i].labels for i in ok], k, losses, space, seed)
    best, score = ok[best], np.full(len(runs), np.nan)
    score[ok] = part
    chosen = runs[best]
    if rule in ("consensus", "vote"):
        centres = _centres(chosen.embedding, labels, k)
        chosen = dataclasses.replace(chosen, labels=labels, centers=centres)
    records = [
        {
            "seed": s,
            "score": float(score[i]),
            "loss": _final_loss(r),
            "n_iter": r.n_iter,
            "stop_reason": r.stop_reason,
            "chosen": i == best,
            "labels": r.labels,
        }
        for i, (s, r) in enumerate(zip(seeds, runs))
    ]
    return chosen, records

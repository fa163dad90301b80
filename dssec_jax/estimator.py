"""scikit-learn style estimator over the functional pipeline."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from . import compile_cache, losses, model_file, pipeline, progress, restarts, sae, train
from ._version import __version__
from .methods import Config
from .presets import apply_recipe
from .validation import check_config, check_data, check_known


def _pca_arrays(pca: PCA) -> dict:
    """The fitted PCA's array attributes (components_, mean_, explained_variance_, ...)."""
    return {k: v for k, v in vars(pca).items() if k.endswith("_") and isinstance(v, np.ndarray)}


def _pca_scalars(pca: PCA) -> dict:
    """The fitted PCA's other fitted attributes (n_components_, noise_variance_, ...), as JSON."""
    return {
        k: v.item() if isinstance(v, np.generic) else v
        for k, v in vars(pca).items()
        if k.endswith("_") and not isinstance(v, np.ndarray)
    }


def _rebuild_pca(meta: dict, arrays: dict) -> PCA:
    """A fitted scikit-learn PCA from what :meth:`DSSEC.save` wrote: the constructor's
    parameters through ``set_params``, then every fitted attribute the saving version had
    (a version that saved fewer, or other, attributes is caught by the round-trip test)."""
    pca = PCA().set_params(**meta["pca"]["params"])
    for k, v in meta["pca"]["fitted"].items():
        setattr(pca, k, v)
    for k, v in arrays.items():
        setattr(pca, k, np.asarray(v, order=meta["pca_order"] if k == "components_" else "C"))
    return pca


def _config_of(settings: dict) -> Config:
    """The Config of a dict of settings (the estimator's parameters, or ``settings_``)."""
    fields = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in settings.items() if k in fields})


def _print_record(record: dict) -> None:
    """``verbose=2``: each progress record as one JSON line on stdout."""
    print(json.dumps(record, default=float), flush=True)


class DSSEC(ClusterMixin, TransformerMixin, BaseEstimator):
    """Deep Stacked Sparse Embedded Clustering and its family (``method``).

    Parameters mirror :class:`dssec_jax.methods.Config`; ``random_state`` (int or None)
    seeds everything. After ``fit``: ``labels_`` (n,), ``cluster_centers_`` (K, e) in the
    embedding space (input space for ``kmeans``), ``history_`` (one dict per target
    refresh), ``pretrain_history_``, ``n_iter_``, ``stop_reason_``, ``params_``,
    ``n_clusters_`` (the number of clusters used) and ``k_scores_`` ({k: criterion} when
    ``n_clusters="auto"`` chose it within ``k_range`` by ``k_criterion``, else None),
    ``settings_`` (the Config the fit ran with, as a dict: after the recipe, and after the
    recipe's settings for known labels when some were given; None in a model file saved
    before it was recorded). ``verbose=1`` shows progress
    (:class:`dssec_jax.progress.Progress`: a bar per phase in a terminal, else a line every
    5 % of a phase); ``verbose=2`` prints every progress record
    of :func:`dssec_jax.fit` (one per pretraining epoch and per target refresh) as a JSON
    line on stdout. ``recipe`` names a protocol
    (:mod:`dssec_jax.presets`: "paper", the defaults below; "strong", DEC-keras's
    pretraining): it sets each of its settings that is left at the default shown here (a
    value passed equal to that default counts as left: pass ``recipe="paper"`` to keep them).
    ``n_restarts`` R > 1 runs R independent fits (seeds random_state, random_state + 1,
    ...; one vmapped program on an accelerator, one after another on the CPU) and answers by
    ``restart_rule`` without labels (:mod:`dssec_jax.restarts`; "consensus", K-means on the
    runs' one-hot labels, by default); ``restarts_`` holds each run's seed, score, final
    loss and labels, and the chosen run's network is the one ``predict`` and ``save`` use
    (its centres moved to the answer's clusters; a cluster the answer leaves empty has its
    centre at infinity, so no sample is assigned to it).
    Known labels (semi-supervised) go to ``fit(X, known_labels=...)``, -1 where unknown:
    the autoencoder then learns with the label term of weight ``label_weight``
    (``lcae_kmeans`` needs them; :func:`dssec_jax.labels.reveal` draws a stratified share).
    ``label_fraction`` is how many the command-line drivers reveal; the estimator takes
    only labels given to it.
    """

    def __init__(
        self,
        n_clusters: int | str = 10,
        method: str = "dssec",
        gamma: float = 0.1,
        alpha: float = 1.0,
        rho: float = 0.05,
        beta: float = 1.0,
        activation: str = "relu",
        sparse_layers: tuple = (0, 1),
        sparse_activation: str = "relu",
        sparsity_reduction: str = "mean",
        sparsity_form: str = "ratio",
        sparsity_floor: Optional[float] = None,
        embed_dim: int = 10,
        hidden_dims: tuple = (500, 500, 2000),
        pretrain: str = "end_to_end",
        pretrain_epochs: int = 200,
        layerwise_epochs: Optional[int] = None,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        init: str = "glorot_uniform",
        pretrain_optimizer: str = "adam",
        pretrain_momentum: float = 0.9,
        pretrain_clip_norm: Optional[float] = None,
        cluster_optimizer: str = "adam",
        cluster_learning_rate: float = 1e-3,
        momentum: float = 0.0,
        update_interval: int = 30,
        tol: float = 1e-3,
        max_iter: int = 20000,
        n_init: int = 20,
        precision: str = "float32",
        refresh_precision: Optional[str] = None,
        data_parallel: bool = False,
        cluster_sparsity: bool = True,
        embed_std: Optional[Union[float, str]] = 1.5,
        k_range: tuple = (2, 30),
        k_criterion: str = "davies_bouldin",
        label_weight: float = 0.1,
        label_fraction: float = 0.0,
        recipe: str = "paper",
        n_restarts: int = 1,
        restart_rule: str = "consensus",
        random_state: Optional[int] = None,
        verbose: int = 0,
    ) -> None:
        # scikit-learn's convention: every argument kept as given, under its own name
        self.__dict__.update({k: v for k, v in locals().items() if k != "self"})

    @classmethod
    def from_result(
        cls, cfg: Config, seed: int, res: pipeline.FitResult, n_features: int
    ) -> "DSSEC":
        """The fitted estimator of a :func:`dssec_jax.fit` run (``res``) of ``cfg``."""
        est = cls(
            **{f.name: getattr(cfg, f.name) for f in dataclasses.fields(Config)}, random_state=seed
        )
        est._set_fitted(res, n_features)
        est.seed_, est.restarts_, est.settings_ = int(seed), None, cfg.to_dict()
        return est

    def config(self) -> Config:
        """The :class:`Config` these parameters describe."""
        return check_config(apply_recipe(self.recipe, _config_of(self.get_params())))

    def fitted_config(self) -> Config:
        """The :class:`Config` the fit ran with (``settings_``: parameters changed since
        by ``set_params`` do not change what ``transform`` and ``predict`` compute); for a
        model file saved before it was recorded, the one the parameters describe."""
        self._check_fitted()
        return self.config() if self.settings_ is None else _config_of(self.settings_)

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(rs, (int, np.integer)):
            return int(rs)
        raise ValueError(f"random_state must be an int or None, got {type(rs).__name__}")

    def fit(
        self, X: ArrayLike, y: ArrayLike | None = None, known_labels: ArrayLike | None = None
    ) -> "DSSEC":
        """Cluster ``X``.

        Args:
          X: data, (n, d).
          y: optional true labels; they only add ACC/NMI/ARI to ``history_``.
          known_labels: optional labels the method may learn from, (n,), -1 where unknown
            (scikit-learn's semi-supervised convention); kept apart from ``y``.

        Returns:
          self, fitted (``labels_``, ``cluster_centers_``, ``history_``, ...).
        """
        cfg = self.config()
        if cfg.label_fraction and known_labels is None:
            raise ValueError(
                f"label_fraction={cfg.label_fraction} reveals labels in the command-line "
                "drivers only; pass known_labels= to fit (dssec_jax.labels.reveal(y, "
                "fraction, seed) draws a stratified share) or set label_fraction=0"
            )
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        log = (None, progress.Progress(), _print_record)[int(self.verbose)]
        x = check_data(X, cfg.n_clusters)
        known_labels = check_known(known_labels, x.shape[0], cfg)  # before any dispatch
        if known_labels is not None:  # the recipe's settings for runs given labels
            cfg = apply_recipe(self.recipe, cfg, labelled=True)
        compile_cache.enable()
        seed = self._seed()
        if not (isinstance(self.n_restarts, (int, np.integer)) and self.n_restarts >= 1):
            raise ValueError(f"n_restarts must be an integer >= 1, got {self.n_restarts!r}")
        restarts.check_rule(self.restart_rule)
        records = None  # a fit that raises leaves the previous fit's attributes as they were
        try:
            if self.n_restarts == 1:
                res = pipeline.fit(x, cfg, seed, y, known=known_labels, log=log)
            else:
                res, records = restarts.fit_restarts(
                    x, cfg, seed, int(self.n_restarts), self.restart_rule, y, log, known_labels
                )
        finally:
            if isinstance(log, progress.Progress):
                log.close()
        self._set_fitted(res, x.shape[1])
        self.seed_, self.settings_, self.restarts_ = seed, cfg.to_dict(), records
        return self

    def _set_fitted(self, res: pipeline.FitResult, n_features: int) -> "DSSEC":
        """Take the fitted attributes from a :class:`FitResult` of ``self.config()``."""
        self.labels_ = res.labels
        self.cluster_centers_ = res.centers
        self.history_ = res.history
        self.pretrain_history_ = res.pretrain_history
        self.n_iter_ = res.n_iter
        self.stop_reason_ = res.stop_reason
        self.params_ = res.ae_params
        self.embedding_ = res.embedding
        self.kmeans_labels_ = res.kmeans_labels
        self.seconds_ = res.seconds
        self.n_features_in_ = int(n_features)
        self.n_clusters_ = res.n_clusters
        self.k_scores_ = res.k_scores
        self._pca = res.pca
        return self

    params_: Optional[dict]  # None for K-means and PCA+K-means
    settings_: Optional[dict]  # None in a model file saved before it was recorded
    embedding_: Optional[np.ndarray]  # None after load: transform recomputes it
    _pca: Optional[PCA]

    _JSON_FITTED = (
        "seed_",
        "settings_",
        "n_features_in_",
        "n_iter_",
        "stop_reason_",
        "history_",
        "pretrain_history_",
        "seconds_",
        "n_clusters_",
        "k_scores_",
    )
    _ARRAY_FITTED = {
        "labels": "labels_",
        "kmeans_labels": "kmeans_labels_",
        "centers": "cluster_centers_",
    }

    def save(self, path: os.PathLike) -> None:
        """Write the fitted model to ``path`` (one file: settings, library version, arrays
        with a checksum; no pickle). ``DSSEC.load(path)`` restores it in any process. The
        training data's embedding (``embedding_``) is not saved: ``transform`` recomputes it."""
        self._check_fitted()
        arrays: dict[str, Any] = {
            k: np.asarray(getattr(self, a)) for k, a in self._ARRAY_FITTED.items()
        }
        if self.params_ is not None:
            arrays["params"] = self.params_
        if self.restarts_ is not None:
            arrays["restart_labels"] = np.stack([r["labels"] for r in self.restarts_])
        if self._pca is not None:
            arrays["pca"] = {k: np.asarray(v) for k, v in _pca_arrays(self._pca).items()}
        meta = {
            "library": __version__,
            "params": self.get_params(),
            "fitted": {a: getattr(self, a) for a in self._JSON_FITTED},
            "restarts": None
            if self.restarts_ is None
            else [{k: v for k, v in r.items() if k != "labels"} for r in self.restarts_],
        }
        if self._pca is not None:  # its memory order decides the BLAS path, so keep it
            meta["pca_order"] = "F" if self._pca.components_.flags.f_contiguous else "C"
            meta["pca"] = {"params": self._pca.get_params(), "fitted": _pca_scalars(self._pca)}
        model_file.write(path, meta, arrays)

    @classmethod
    def load(cls, path: os.PathLike) -> "DSSEC":
        """The fitted model saved by :meth:`save` by this or an earlier version
        (``model_file``: every earlier file format loads); ValueError for a file that is not
        one, is damaged or truncated, or has a later format."""
        meta, raw = model_file.read(path, __version__)
        params: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()
        }
        if unknown := sorted(set(params) - set(cls._get_param_names())):
            raise ValueError(
                f"{path} sets {', '.join(unknown)}, which dssec_jax {__version__} does not "
                f"know (saved by {meta.get('library')}); upgrade dssec_jax to load it"
            )
        est = cls(**params)
        for k, a in cls._ARRAY_FITTED.items():
            setattr(est, a, raw[k])
        est.settings_ = None  # files written before it was recorded
        for a, v in meta["fitted"].items():
            setattr(est, a, v)
        est.restarts_ = meta.get("restarts")
        if est.restarts_ is not None:
            for r, labels in zip(est.restarts_, raw["restart_labels"]):
                r["labels"] = labels
        if est.k_scores_ is not None:  # JSON keys are strings
            est.k_scores_ = {int(k): v for k, v in est.k_scores_.items()}
        est.params_, est.embedding_ = None, None
        cfg = est.fitted_config()
        if "params" in raw:
            template = sae.init_params(
                jax.random.key(0), cfg.dims(est.n_features_in_), init=cfg.init
            )
            est.params_ = serialization.from_state_dict(template, raw["params"])
        est._pca = None
        if "pca" in raw:
            est._pca = _rebuild_pca(meta, raw["pca"])
        return est

    def fit_predict(
        self, X: ArrayLike, y: ArrayLike | None = None, known_labels: ArrayLike | None = None
    ) -> np.ndarray:
        """``fit(X, y, known_labels)``, then the cluster of every row of ``X`` (``labels_``);
        ``y``, as in ``fit``, only adds ACC/NMI/ARI to ``history_``."""
        return self.fit(X, y, known_labels=known_labels).labels_

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Embedding of ``X``.

        Args:
          X: data, (n, d), with the fitted number of features.

        Returns:
          (n, embed_dim) (X itself for ``kmeans``).
        """
        self._check_fitted()
        x = check_data(X, need_variation=False)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {x.shape[1]} features, but DSSEC is expecting "
                f"{self.n_features_in_} features as input (the number it was "
                "fitted on); pass data with that many columns"
            )
        cfg = self.fitted_config()
        if cfg.spec.features == "raw":
            return x.copy()  # check_data may hand back the caller's own array
        if cfg.spec.features == "pca":
            assert self._pca is not None  # fitted (check_is_fitted above)
            return self._pca.transform(x).astype(np.float32)
        assert self.params_ is not None  # an autoencoder method's fitted network
        return np.asarray(
            train.embed(self.params_, jnp.asarray(x), cfg.hidden_acts(), cfg.compute_dtype())
        )

    def soft_assign(self, X: ArrayLike) -> np.ndarray:
        """Soft assignment of ``X`` to the learned centres (Student's t, ``alpha``).

        Args:
          X: data, (n, d).

        Returns:
          q, (n, K), rows summing to 1.
        """
        z, alpha = self.transform(X), self.fitted_config().alpha
        return np.asarray(losses.soft_assignment(z, self.cluster_centers_, alpha=alpha))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Cluster of each row of ``X``: argmax_j q_ij (nearest centre for the K-means methods).

        Args:
          X: data, (n, d).

        Returns:
          Labels, (n,), in ``range(n_clusters_)``.
        """
        return np.argmax(self.soft_assign(X), axis=1).astype(np.int32)

    def _check_fitted(self):
        if not hasattr(self, "labels_"):
            raise NotFittedError("this DSSEC instance is not fitted yet; call fit(X) first")

"""Run one configuration over several seeds in a resumable run directory.

Layout of a run directory::

    config.json            the Config, dataset and seeds
    results.json           per seed ACC/NMI/ARI, iterations, stop reason, seconds; mean and std
    seed_<k>/result.json   written when seed k is finished (finished seeds are skipped)
    seed_<k>/outputs.npz   embedding z, predicted labels, K-means labels, true labels
    seed_<k>/history.json  per-refresh and per-epoch history
    seed_<k>/model.dssec   the fitted model (with --save_model; ``DSSEC.load``)
    seed_<k>/cluster.ckpt  clustering-phase checkpoint (resumes an interrupted run)

Pretrained autoencoders live in a shared cache folder, keyed by
``Config.pretrain_hash`` so that every method and gamma with equal pretraining
settings reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import platform
import time
import warnings
from typing import Any, Callable, Optional, Sequence

import numpy as np

from dssec_jax import (
    DSSEC,
    __version__,
    checkpoint,
    clustering,
    labels,
    metrics,
    pipeline,
    processor,
)
from dssec_jax.data import Dataset
from dssec_jax.data.corrupt import number_text
from dssec_jax.methods import Config
from dssec_jax.sweep import fit_batched
from dssec_jax.validation import NonFiniteLossError

STOP_ENV = "DSSEC_STOP_AFTER"  # test hook: exit right after this checkpoint name is written


class HookedStore(checkpoint.FileStore):
    """FileStore that exits the process after writing the checkpoint named in $DSSEC_STOP_AFTER
    (used by the resume tests to simulate a kill at a known point)."""

    def put(self, name, state, meta):
        super().put(name, state, meta)
        if os.environ.get(STOP_ENV) == name:
            os._exit(17)


def id_samples(dataset_id: str) -> int:
    """The number of samples a :func:`dataset_id` names."""
    return int(dataset_id.rsplit("-", 2)[1].partition("x")[0])


def dataset_id(ds: Dataset) -> str:
    """Name plus a digest of the data, so caches never mix different arrays."""
    h = hashlib.sha256(np.ascontiguousarray(ds.x).tobytes())
    if ds.y is not None:
        h.update(ds.y.tobytes())
    return f"{ds.name}-{ds.x.shape[0]}x{ds.x.shape[1]}-{h.hexdigest()[:12]}"


def _device_kind() -> str:
    """The kind of device the fit ran on ("cpu", or the accelerator's model)."""
    import jax

    return str(jax.devices()[0].device_kind)


def versions() -> dict:
    import flax
    import jax
    import optax
    import sklearn

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "dssec_jax": __version__,
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
    }


def summarize(per_seed: Sequence[dict]) -> dict:
    """Mean and sample std (ddof 1; None for one seed) over seeds of each metric, and how
    many seeds stopped at max_iter. A seed of a batch that turned non-finite (stop reason
    "nonfinite") is left out of the means and counted ("stopped_nonfinite"); seeds whose
    clustering collapsed (fewer than half the clusters non-empty) are counted ("collapsed",
    from the records' cluster sizes)."""
    out: dict[str, Any] = {}
    kept = [r for r in per_seed if r.get("stop_reason") != "nonfinite"]
    for k in ("acc", "nmi", "ari", "kmeans_acc", "n_iter", *labels.UNKNOWN_METRICS):
        vals = [r[k] for r in kept if r.get(k) is not None]
        if vals:
            std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
            out[k] = {"mean": float(np.mean(vals)), "std": std, "n": len(vals)}
    out["stopped_at_max_iter"] = sum(r.get("stop_reason") == "max_iter" for r in per_seed)
    if len(kept) < len(per_seed):
        out["stopped_nonfinite"] = len(per_seed) - len(kept)
    sizes = [r["cluster_sizes"] for r in kept if r.get("cluster_sizes")]
    if n_collapsed := sum(clustering.sizes_collapsed(np.asarray(s)) for s in sizes):
        out["collapsed"] = int(n_collapsed)
    return out


def settings_match(old: dict, new: dict) -> bool:
    """Whether a config saved earlier (``old``) describes the same run as ``new``: equal on
    the fields it holds; fields added to Config since then must be at their defaults; the
    choice-of-k settings count only when ``n_clusters="auto"``."""
    defaults = Config().to_dict()
    unused = () if new.get("n_clusters") == "auto" else ("k_range", "k_criterion")
    return all(old.get(k, defaults[k]) == v for k, v in new.items() if k not in unused)


def same_settings(a: dict, b: dict) -> bool:
    """Whether two saved configs describe the same run, each read against the other."""
    return settings_match(a, b) and settings_match(b, a)


def check_same_run(old: dict, meta: dict, where: pathlib.Path) -> None:
    """Refuse ``where``, whose saved config.json (``old``) describes another run than
    ``meta`` (dataset, its digest, settings, see :func:`settings_match`, and the digest
    of the known labels a run was given as a file)."""
    defaults, then = Config().to_dict(), old.get("config", {})
    fields = [
        k
        for k, v in meta["config"].items()
        if not settings_match({k: then.get(k, defaults[k])}, {k: v})
    ]
    why = [f"settings {', '.join(fields)}"] if fields else []
    if (old.get("dataset"), old.get("dataset_id")) != (meta["dataset"], meta["dataset_id"]):
        why.append(f"data {old.get('dataset_id')} (this run's: {meta['dataset_id']})")
    if old.get("known_labels") != meta.get("known_labels"):
        why.append("known labels")
    if why:
        raise ValueError(
            f"{where} holds a run with other settings or data ({'; '.join(why)}); choose "
            "another folder or delete that one"
        )


def run_meta(
    ds: Dataset, cfg: Config, known: Optional[np.ndarray] = None, data_id: Optional[str] = None
) -> dict:
    """What a run folder's config.json says the run is: the dataset, its digest
    (``data_id`` when already computed), the settings and the digest of the ``known``
    labels given as a file."""
    meta = {"dataset": ds.name, "dataset_id": data_id or dataset_id(ds), "config": cfg.to_dict()}
    return meta if known is None else {**meta, "known_labels": labels.digest(known)}


def prepare_run_dir(
    ds: Dataset,
    cfg: Config,
    seeds: Sequence[int],
    run_dir: pathlib.Path,
    known: Optional[np.ndarray] = None,
) -> dict:
    """Create ``run_dir`` with config.json; refuse a folder that holds other settings (or
    other ``known`` labels, the same for every seed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = run_meta(ds, cfg, known)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        check_same_run(
            _read_json(cfg_path, "delete the folder to start the run afresh"), meta, run_dir
        )
    checkpoint.atomic_write_json(cfg_path, {**meta, "seeds": list(seeds)})
    return meta


def seed_done(run_dir: pathlib.Path, seed: int) -> Optional[dict]:
    """The finished result of ``seed`` in ``run_dir``, or None."""
    done = run_dir / f"seed_{seed}" / "result.json"
    return (
        _read_json(done, f"delete {done.parent} to run the seed again") if done.exists() else None
    )


def _read_json(path: pathlib.Path, fix: str) -> dict:
    """The JSON object in ``path``; ValueError naming the file and ``fix`` when damaged."""
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path} is damaged ({e}); {fix}") from None


def run_name(dataset: str, method: str, gamma, embed_dim) -> str:
    """A sweep's folder of one grid point: ``<dataset>__<method>__g<gamma>__e<embed_dim>``
    (``na`` for a setting the method does not use; numbers by ``number_text``)."""
    g = "na" if gamma is None else number_text(gamma)
    e = "na" if embed_dim is None else str(embed_dim)
    return f"{dataset}__{method}__g{g}__e{e}"


def known_for(
    ds: Dataset, cfg: Config, seed: int, given: Optional[np.ndarray] = None
) -> Optional[np.ndarray]:
    """The labels a run of ``seed`` knows: those ``given`` (the same for every seed), or
    ``cfg.label_fraction`` of ``ds.y``, stratified, drawn from the seed (the same rows for
    every run of a seed), or None."""
    if given is not None:
        return given
    if not cfg.label_fraction:
        return None
    if ds.y is None:
        raise ValueError(f"label_fraction needs labels, and {ds.name} has none")
    return labels.reveal(ds.y, cfg.label_fraction, seed)


def write_seed(
    run_dir: pathlib.Path,
    ds: Dataset,
    cfg: Config,
    seed: int,
    res: pipeline.FitResult,
    wall: float,
    known: Optional[np.ndarray] = None,
) -> dict:
    """Write outputs.npz, history.json and (last, marking the seed done) result.json; with
    ``known`` labels, also the metrics on the samples whose label was not given
    (``acc_unknown``, ...)."""
    sdir = run_dir / f"seed_{seed}"
    rec = {
        "seed": seed,
        "n_iter": res.n_iter,
        "stop_reason": res.stop_reason,
        "seconds": {k: round(v, 2) for k, v in res.seconds.items()},
        "wall_seconds": round(wall, 2),
        **processor.describe(),  # a seed's bits depend on the processor's vector unit
        "device": _device_kind(),
        "library": __version__,  # a folder resumed after an upgrade says which seeds are which
        "n_clusters": res.n_clusters,
        "cluster_sizes": np.bincount(res.labels, minlength=res.n_clusters).tolist(),
    }
    if res.k_scores is not None:
        rec["k_scores"] = {str(k): v for k, v in res.k_scores.items()}
    rec["n_empty_clusters"] = int(sum(c == 0 for c in rec["cluster_sizes"]))
    rec["collapsed"] = clustering.collapsed(res.labels, res.n_clusters)
    if ds.y is not None:  # with known labels also on the samples not given
        rec.update(metrics.evaluate(ds.y, res.labels, known))
        if res.kmeans_labels is not None:
            rec["kmeans_acc"] = metrics.cluster_acc(ds.y, res.kmeans_labels)
    if known is not None and (known == labels.UNKNOWN).any():  # with true labels or not
        rec["n_known"] = int((known != labels.UNKNOWN).sum())
    checkpoint.atomic_save_npz(
        sdir / "outputs.npz",
        embedding=res.embedding,
        labels=res.labels,
        kmeans_labels=res.kmeans_labels,
        y=ds.y if ds.y is not None else np.zeros(0, np.int32),
        known=known if known is not None else np.zeros(0, np.int32),  # -1: not given
    )
    checkpoint.atomic_write_json(
        sdir / "history.json", {"cluster": res.history, "pretrain": res.pretrain_history}
    )
    checkpoint.atomic_write_json(sdir / "result.json", rec)
    return rec


def write_diverged(run_dir: pathlib.Path, seed: int, error: str, wall: float) -> dict:
    """result.json of a seed whose loss or weights turned non-finite (stop reason
    "nonfinite", the error, no labels): it counts as done, so a rerun does not repeat it;
    the means leave it out and count it (:func:`summarize`). Delete its folder to retry."""
    rec = {
        "seed": seed,
        "stop_reason": "nonfinite",
        "error": error,
        "wall_seconds": round(wall, 2),
        **processor.describe(),
    }
    checkpoint.atomic_write_json(run_dir / f"seed_{seed}" / "result.json", rec)
    return rec


def finish_run(run_dir: pathlib.Path, ds: Dataset, cfg: Config, per_seed: list) -> dict:
    """Write results.json (per seed, mean and std, versions) and return it."""
    results = {
        "dataset": ds.name,
        "method": cfg.method,
        "config": cfg.to_dict(),
        "per_seed": per_seed,
        "summary": summarize(per_seed),
        "versions": versions(),
    }
    checkpoint.atomic_write_json(run_dir / "results.json", results)
    return results


def run_config(
    ds: Dataset,
    cfg: Config,
    seeds: Sequence[int],
    run_dir: os.PathLike,
    cache_dir: os.PathLike,
    log: Optional[Callable[[dict], None]] = None,
    checkpoint_interval_s: float = 60.0,
    save_model: bool = False,
    known: Optional[np.ndarray] = None,
) -> dict:
    """Run ``cfg`` on ``ds`` for each seed, skipping finished seeds; returns results.json's dict.
    ``save_model`` also writes each seed's fitted model to ``seed_<k>/model.dssec``
    (``DSSEC.load``); ``known``: labels every seed knows (-1 where unknown), instead of
    ``cfg.label_fraction``'s draw."""
    run_dir = pathlib.Path(run_dir)
    if known is not None and cfg.label_fraction:
        raise ValueError(
            "known labels were given and label_fraction would draw others; pass one of them"
        )
    meta = prepare_run_dir(ds, cfg, seeds, run_dir, known)
    per_seed = []
    for seed in seeds:
        if (rec := seed_done(run_dir, seed)) is not None:
            per_seed.append(rec)
            if log:
                log({"event": "seed_skipped", "seed": seed})
            model = run_dir / f"seed_{seed}" / "model.dssec"
            if save_model and rec.get("stop_reason") != "nonfinite" and not model.exists():
                warnings.warn(
                    f"seed {seed} finished before --save_model was given, so {model} is not "
                    f"written; delete {model.parent} to fit it again with its model"
                )
            continue
        if log:
            log({"event": "seed_start", "run": run_dir.name, "seed": seed})
        known_now = known_for(ds, cfg, seed, known)
        store = HookedStore(
            run_dir / f"seed_{seed}",
            cache_dir,
            cfg.pretrain_hash(
                meta["dataset_id"], seed, None if known_now is None else labels.digest(known_now)
            ),
            checkpoint_interval_s,
        )
        t = time.time()
        try:
            res = pipeline.fit(ds.x, cfg, seed, ds.y, known=known_now, store=store, log=log)
        except NonFiniteLossError as e:  # recorded; the other seeds go on
            per_seed.append(write_diverged(run_dir, seed, str(e), time.time() - t))
            if log:
                folder = str(run_dir / f"seed_{seed}")
                log({"event": "seed_diverged", "seed": seed, "error": str(e), "folder": folder})
            continue
        if save_model:
            DSSEC.from_result(cfg, seed, res, ds.x.shape[1]).save(
                run_dir / f"seed_{seed}" / "model.dssec"
            )
        rec = write_seed(run_dir, ds, cfg, seed, res, time.time() - t, known_now)
        store.drop("cluster")
        per_seed.append(rec)
        if log:
            log({"event": "seed_done", "seed": seed, "result": rec})
    return finish_run(run_dir, ds, cfg, per_seed)


def run_batched(
    ds: Dataset,
    runs: Sequence[tuple[pathlib.Path, Config]],
    seeds: Sequence[int],
    log: Optional[Callable[[dict], None]] = None,
    shard_runs: bool = False,
    checkpoint_interval_s: float = 60.0,
) -> list[dict]:
    """Run several configurations that differ only in traced settings (gamma, beta, rho,
    alpha, tol), every seed of each, as one vmapped program (``dssec_jax.sweep``).

    Finished seeds are skipped; the unfinished ones train together, checkpointed as one
    batch in ``<first run_dir>/batch_<id>`` (its id names the runs, seeds and settings),
    so an interrupted batch resumes where it was. ``shard_runs`` splits the runs over
    the local devices.
    """
    todo = []
    for run_dir, cfg in runs:
        prepare_run_dir(ds, cfg, seeds, run_dir)
        todo += [(run_dir, cfg, s) for s in seeds if seed_done(run_dir, s) is None]
    if todo:
        ident = json.dumps(
            [[str(r), s, clustering.run_id(c, ds.x.shape)] for r, c, s in todo], sort_keys=True
        )
        batch_dir = todo[0][0] / f"batch_{hashlib.sha256(ident.encode()).hexdigest()[:12]}"
        store = HookedStore(batch_dir, batch_dir, "batch", checkpoint_interval_s)
        t = time.time()
        results = fit_batched(
            ds.x,
            [c for _, c, _ in todo],
            [s for _, _, s in todo],
            y=ds.y,
            log=log,
            shard_runs=shard_runs,
            store=store,
        )
        wall = (time.time() - t) / len(todo)
        for (run_dir, cfg, seed), res in zip(todo, results):
            rec = write_seed(run_dir, ds, cfg, seed, res, wall)
            if log:
                log({"event": "seed_done", "run": run_dir.name, "seed": seed, "result": rec})
        for name in ("batched_cluster", "batched_pretrained"):
            store.drop(name)
    return [
        finish_run(run_dir, ds, cfg, [seed_done(run_dir, s) for s in seeds])
        for run_dir, cfg in runs
    ]

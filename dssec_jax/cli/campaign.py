"""The paper's table as a resumable campaign whose small result files are committed.

    python -m experiments.campaign --plan=paper [--datasets=mnist] [--seeds=3] [--commit]
    # a second process beside the first, on seeds of its own
    python -m experiments.campaign --plan=figures --only_seeds=3 --only_seeds=4 --commit
    # harsh conditions: the harsh plan, or any plan under one corruption (into
    # results/<plan>_<kind><level>, compared with results/<plan>)
    python -m experiments.campaign --plan=harsh --datasets=usps --commit
    python -m experiments.campaign --plan=strong --datasets=usps --corrupt=gaussian:0.2

Points (dataset, method, seed) run seed by seed (every method and dataset of seed 0,
then seed 1, ...), so that a complete row set comes soonest. Each point trains through
``dssec_jax.cli.runner`` in a working folder outside the work tree (``--cache_dir``,
default ``~/.cache/dssec_jax/campaign``: checkpoints, embeddings and the shared
pretrained-autoencoder cache), so an interruption loses at most the unfinished phase.
A finished point is exported to ``<results>/<dataset>_<method>/``::

    config.json             settings, dataset digest, exported seeds
    results.json            per seed metrics, mean and sample std (ddof 1), versions
    seed_<k>/result.json    ACC/NMI/ARI, iterations, stop reason, seconds
    seed_<k>/history.json.gz  per-epoch and per-refresh history
    seed_<k>/labels.npz     predicted and K-means labels (uint8, compressed)

and skipped from then on; ``<results>/results.md`` (and, with ``--update_readme``, the
document's block, e.g. docs/results.md) is written again after each point. ``--commit`` commits each exported
point with its table; exports that an interrupted run left uncommitted are committed at
the next start.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import pathlib
import subprocess
import time
from typing import Callable, Optional, Sequence

import numpy as np
from absl import flags

from dssec_jax import checkpoint
from dssec_jax.data import Dataset, load_dataset
from dssec_jax.data.corrupt import corrupt_dataset, corrupted_name
from dssec_jax.methods import Config, get_method
from dssec_jax.presets import labelled_settings, recipe_settings
from dssec_jax.validation import check_config

# harsh_report too, now, though only report imports it (lazily): a campaign runs for hours on
# the code it started with, and a module edited meanwhile and imported later would not match.
from . import common, harsh_report  # noqa: F401
from .plan_comparison import against_part, write_against
from .report import (
    METHOD_ORDER,
    SUMMARY,
    SWEEPS,
    TABLE_LABELS,
    clean_runs_for,
    collect,
    readme_block,
    readme_blocks,
    update_readme,
    write_table_files,
)
from .runner import (
    check_same_run,
    dataset_id,
    finish_run,
    id_samples,
    run_config,
    run_meta,
    same_settings,
    seed_done,
)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Datasets x methods x seeds at one set of Config overrides over a named ``recipe``
    (``dssec_jax.presets``: its settings for each method, then ``overrides``), plus
    ``sweeps``: runs that depart from it in one setting, ((field, values), ...), each for
    the methods it affects (gamma: IDEC and DSSEC; embed_dim: all but K-means on the
    pixels).

    ``corruptions`` {dataset: (spec, ...)} runs those datasets under each harsh condition
    (``dssec_jax.data.corrupt``; the spec ``"clean"``: as they are, so that the plan holds
    clean results made by the same code on the same processor) instead of clean, compared
    with its own clean runs, else with the clean results in the folder ``clean``; ``max_seeds`` {dataset: n} runs fewer seeds of a costly dataset, and
    ``only_runs`` {dataset: (run name, ...)} only those of its runs. ``shares_cache`` names
    the plan whose pretrained-autoencoder cache this one uses: its key names the data, the
    seed, every pretraining setting and the known labels, so only an identical pretraining
    is reused. ``readme``: the document whose block of this plan's tables is rewritten after
    each point when the results go to the plan's own folder (as ``--update_readme``).
    ``against``: a folder of results this plan's are compared with, paired by seed
    (``against_<its name>.md`` beside ``results.md``, and the block ``<folder> against
    <against>`` of ``readme``), when the results go to the plan's own folder."""

    datasets: tuple
    methods: tuple
    seeds: int
    overrides: dict
    sweeps: tuple = ()
    recipe: str = "paper"
    corruptions: dict = dataclasses.field(default_factory=dict)
    clean: Optional[str] = None
    max_seeds: dict = dataclasses.field(default_factory=dict)
    only_runs: dict = dataclasses.field(default_factory=dict)
    shares_cache: Optional[str] = None
    readme: Optional[str] = None
    against: Optional[str] = None


CLEAN = "clean"  # a plan's corruption spec for the data as it is


def data_keys(plan: Plan, dataset: str) -> list[str]:
    """The data of ``dataset`` the plan runs: ``dataset`` itself, or ``dataset@spec`` for
    each of its corruptions (``dataset`` for the spec CLEAN)."""
    specs = plan.corruptions.get(dataset, ())
    keys = [dataset if spec == CLEAN else f"{dataset}@{spec}" for spec in specs]
    return keys or [dataset]


def data_name(key: str) -> str:
    """The dataset name of a data key (``usps@gaussian:0.1`` -> ``usps_gaussian0.1``)."""
    name, _, spec = key.partition("@")
    return corrupted_name(name, spec) if spec else name


def load_data(key: str, data_dir=None) -> Dataset:
    """The dataset of a data key, under its corruption (noise seed 0, the same in every run)."""
    name, _, spec = key.partition("@")
    ds = load_dataset(name, data_dir=data_dir)
    return corrupt_dataset(ds, spec) if spec else ds


def uses(method: str, field: str) -> bool:
    """Whether ``field`` changes ``method``'s result (the sweeps that apply to it)."""
    spec = get_method(method)
    if field == "gamma":
        return spec.clustering == "idec"
    if field == "embed_dim":
        return spec.features != "raw"
    if field == "label_fraction":
        return spec.features == "autoencoder"
    return True


def plan_runs(plan: Plan, methods) -> list[tuple[str, str, dict]]:
    """(run name, method, overrides): each method at the plan's settings (named as the
    method; a semi-supervised one knows the table's share of labels, ``TABLE_LABELS``),
    then at each sweep value it uses (named ``<method>_<field><value>``). A run given known
    labels takes the recipe's settings for those (``presets.labelled_settings``)."""
    runs = []
    for m in methods:
        labels = {"label_fraction": TABLE_LABELS[m]} if m in TABLE_LABELS else {}
        at = {**recipe_settings(plan.recipe, m), **labels, **plan.overrides}
        runs.append((m, m, at))
        for field, values in plan.sweeps:
            base = at.get(field, getattr(Config(), field))
            runs += [
                (f"{m}_{field}{v:g}", m, {**at, field: v})
                for v in values
                if v != base and uses(m, field)
            ]
    given = labelled_settings(plan.recipe)
    return [(r, m, {**given, **kw} if kw.get("label_fraction") else kw) for r, m, kw in runs]


# Every corruption at two or three levels: noise of 10-30 % of the value range, 10 % and 30 %
# of the pixels set to an extreme, a block of 20 % and 40 % of the image set to the low end,
# and half or as many again inputs of pure noise appended. On USPS and COIL-20, whose
# background is the low end, the pixels changed are fewer than the levels say (salt and
# pepper 7-25 %, occlusion 10-33 %: studies/harsh_condition_strength/measure.log).
HARSH_CONDITIONS = (
    "gaussian:0.1",
    "gaussian:0.2",
    "gaussian:0.3",
    "salt_pepper:0.1",
    "salt_pepper:0.3",
    "occlusion:0.2",
    "occlusion:0.4",
    "noise_features:0.5",
    "noise_features:1",
)

PLANS = {
    # The paper's budget is the library default (200 pretraining epochs, up to 20,000
    # iterations, target refresh every 30, tol 0.1 %); cheap datasets first in each seed.
    "paper": Plan(("coil20", "usps", "mnist", "fashion_mnist"), tuple(METHOD_ORDER), 5, {}),
    # The gamma and embedding-size figures: one setting away from the table's point.
    "figures": Plan(
        ("coil20", "usps"),
        ("ae_kmeans", "sae_kmeans", "idec", "dssec"),
        5,
        {},
        (("gamma", (0.01, 0.03, 0.3, 1.0)), ("embed_dim", (5, 20, 40))),
    ),
    # The same table at the strong recipe (dssec_jax.presets: DEC-keras's pretraining; the
    # sparse autoencoder with the KL's floor and the kernel rule's scale).
    "strong": Plan(
        ("coil20", "usps", "mnist", "fashion_mnist"),
        tuple(METHOD_ORDER),
        5,
        {},
        recipe="strong",
        max_seeds={"mnist": 3, "fashion_mnist": 3},  # about an hour a point and seed there
        readme="README.md",  # its block "results/strong against results/paper"
        against="results/paper",
    ),
    # The paper's claim where it is made: each harsh condition at every level on USPS and
    # COIL-20, two on MNIST (3 seeds), at the strong recipe, each against the plan's own
    # clean runs: a seed's result depends on the processor's rounding, so the clean side of
    # a pair is run by the same code, seed by seed beside its corrupted ones.
    "harsh": Plan(
        ("usps", "coil20", "mnist"),
        ("kmeans", "ae_kmeans", "sae_kmeans", "dec", "idec", "dssec"),
        5,
        {},
        recipe="strong",
        corruptions={
            "usps": (CLEAN, *HARSH_CONDITIONS),
            "coil20": (CLEAN, *HARSH_CONDITIONS),
            "mnist": (CLEAN, "noise_features:1", "gaussian:0.2"),
        },
        max_seeds={"mnist": 3},
        readme="README.md",  # its block "results/harsh summary"
    ),
    # A few known labels: LCAE+K-means and DSSEC with the label term at 1, 5 and 10 % on
    # USPS and COIL-20; DSSEC with 10 % and without on MNIST and Fashion-MNIST (3 seeds).
    # Pretrainings identical to the strong table's come from its cache.
    "labels": Plan(
        ("usps", "coil20", "mnist", "fashion_mnist"),
        ("lcae_kmeans", "dssec"),
        5,
        {},
        (("label_fraction", (0.01, 0.05, 0.1)),),
        recipe="strong",
        max_seeds={"mnist": 3, "fashion_mnist": 3},
        only_runs={d: ("dssec", "dssec_label_fraction0.1") for d in ("mnist", "fashion_mnist")},
        shares_cache="strong",
        readme="README.md",  # its block "results/labels sweeps"
    ),
    # A minute on digits: for the tests and for trying the machinery.
    "smoke": Plan(
        ("digits",),
        tuple(METHOD_ORDER),
        2,
        {
            "pretrain_epochs": 2,
            "max_iter": 60,
            "update_interval": 20,
            "n_init": 2,
            "hidden_dims": (64, 64, 128),
        },
    ),
}

flags.DEFINE_enum("plan", "paper", sorted(PLANS), "which grid to run")
flags.DEFINE_list("datasets", None, "only these datasets of the plan")
flags.DEFINE_list("methods", None, "only these methods of the plan")
flags.DEFINE_string("results", None, "folder of the exported results (default results/<plan>)")
flags.DEFINE_multi_integer("only_seeds", None, "only these of seeds 0 .. seeds-1")
flags.DEFINE_boolean("commit", False, "git-commit each exported point (paths under --results only)")
flags.DEFINE_boolean("dry_run", False, "list the points still to run and stop")
flags.DEFINE_string(
    "update_readme",
    None,
    "also rewrite this document's block of the results table (e.g. docs/results.md) "
    "after each point (do not edit that document meanwhile)",
)
FLAGS = flags.FLAGS


def plan_points(
    plan: Plan, datasets=None, methods=None, n_seeds=None, only_seeds=None
) -> list[tuple]:
    """(seed, data key, run name, method, overrides) in run order: seed-major, then the
    plan's dataset order (each dataset's conditions in turn, :func:`data_keys`), then its
    runs. ``only_seeds`` keeps those of seeds 0 .. n-1 (two processes on disjoint seeds
    never run the same point); a dataset of ``plan.max_seeds`` stops at its count unless
    ``n_seeds`` is given, and one of ``plan.only_runs`` runs only those runs."""
    seeds = range(n_seeds or plan.seeds)
    for name, chosen, allowed in (
        ("datasets", datasets, plan.datasets),
        ("methods", methods, plan.methods),
        ("only_seeds", only_seeds, seeds),
    ):
        unknown = set(chosen or ()) - set(allowed)
        if unknown:
            raise ValueError(
                f"--{name} {sorted(unknown)} are not in this plan; choose from {list(allowed)}"
            )
    named = {r for r, *_ in plan_runs(plan, plan.methods)}
    if stray := {r for rs in plan.only_runs.values() for r in rs} - named:
        raise ValueError(f"only_runs names {sorted(stray)}, which the plan does not run")
    if stray := set(plan.only_runs) - set(plan.datasets):
        raise ValueError(f"only_runs names datasets {sorted(stray)} the plan does not hold")
    ds = [d for d in plan.datasets if not datasets or d in datasets]
    runs = plan_runs(plan, [m for m in plan.methods if not methods or m in methods])
    chosen = [s for s in seeds if only_seeds is None or s in only_seeds]
    return [
        (s, key, *run)
        for s in chosen
        for d in ds
        if n_seeds or s < plan.max_seeds.get(d, s + 1)
        for key in data_keys(plan, d)
        for run in runs
        if run[0] in plan.only_runs.get(d, (run[0],))
    ]


def ae_cache_dir(root: pathlib.Path, name: str, plan: Plan) -> pathlib.Path:
    """The pretrained-autoencoder cache of plan ``name`` under the campaigns' folder
    ``root``: that of the plan it shares one with, else its own."""
    return root / (plan.shares_cache or name) / "ae_cache"


def point_dir(results: pathlib.Path, key: str, run: str) -> pathlib.Path:
    return results / f"{data_name(key)}_{run}"


def check_clean_settings(clean: pathlib.Path, key: str, run: str, cfg: Config) -> None:
    """A point on corrupted data (``key`` = ``dataset@spec``) must share its settings with
    its clean result under ``clean``, where there is one: the report pairs the two."""
    path = point_dir(clean, key.partition("@")[0], run) / "results.json"
    if not path.exists():
        return
    old, new = json.loads(path.read_text())["config"], cfg.to_dict()
    if not same_settings(old, new):
        raise ValueError(
            f"{data_name(key)} / {run} would run with other settings than its clean result "
            f"{path.parent}; run the clean plan at these settings first, or pass --clean"
        )


def exported(results: pathlib.Path, dataset: str, method: str, seed: int) -> Optional[dict]:
    """The committed result of a point, or None when it has not been exported."""
    return seed_done(point_dir(results, dataset, method), seed)


def check_exported_settings(out: pathlib.Path, ds: Dataset, cfg: Config, data_id: str) -> None:
    """Refuse to add seeds to an exported point run with other settings or data (its
    :func:`runner.dataset_id` ``data_id``): a column must not mix defaults."""
    path = out / "config.json"
    if path.exists():
        check_same_run(json.loads(path.read_text()), run_meta(ds, cfg, data_id=data_id), out)


def check_finished_settings(out: pathlib.Path, method: str, overrides: dict) -> None:
    """Refuse a finished point (its data is not loaded) whose settings differ from the
    plan's now: its table would show old numbers beside new ones as one plan."""
    old = json.loads((out / "config.json").read_text())
    n = id_samples(old["dataset_id"])
    cfg = check_config(
        Config(method=method, n_clusters=old["config"]["n_clusters"], **overrides), n
    )
    check_same_run(old, {**old, "config": cfg.to_dict()}, out)  # the data as it was


def _round(obj, digits: int = 6):
    """Floats rounded to ``digits`` significant digits, recursively (smaller history files)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v, digits) for v in obj]
    return obj


def export_seed(
    run_dir: pathlib.Path, out: pathlib.Path, ds: Dataset, cfg: Config, seed: int
) -> dict:
    """Copy a finished seed's small files from the working ``run_dir`` to ``out`` and
    rewrite ``out``'s config.json and results.json over every exported seed. When another
    process exported a seed of the same point meanwhile (``--only_seeds``), the summary is
    written again until it holds every seed marked exported."""
    src, dst = run_dir / f"seed_{seed}", out / f"seed_{seed}"
    rec = json.loads((src / "result.json").read_text())
    if rec["stop_reason"] != "nonfinite":  # a diverged seed has its record alone
        _export_outputs(src, dst)
    while True:
        per_seed = [seed_done(out, s) for s in exported_seeds(out) if s != seed] + [rec]
        per_seed.sort(key=lambda r: r["seed"])
        checkpoint.atomic_write_json(
            out / "config.json",
            {
                **json.loads((run_dir / "config.json").read_text()),
                "seeds": [r["seed"] for r in per_seed],
            },
        )
        finish_run(out, ds, cfg, per_seed)  # results.json first: a crash now leaves the
        checkpoint.atomic_write_json(dst / "result.json", rec)  # seed unexported
        if exported_seeds(out) == [r["seed"] for r in per_seed]:
            return rec


def _export_outputs(src: pathlib.Path, dst: pathlib.Path) -> None:
    """A seed's labels (uint8) and rounded, gzipped history from ``src`` into ``dst``."""
    with np.load(src / "outputs.npz") as f:
        labels, kmeans_labels = f["labels"], f["kmeans_labels"]
    if max(labels.max(), kmeans_labels.max()) > 255:
        raise ValueError("more than 256 clusters do not fit the uint8 label files")
    history = json.loads((src / "history.json").read_text())
    checkpoint.atomic_write_bytes(
        dst / "history.json.gz", gzip.compress(json.dumps(_round(history)).encode(), mtime=0)
    )
    checkpoint.atomic_save_npz(
        dst / "labels.npz",
        labels=labels.astype(np.uint8),
        kmeans_labels=kmeans_labels.astype(np.uint8),
    )


def exported_seeds(out: pathlib.Path) -> list[int]:
    """Seeds whose result.json marks them exported under ``out``."""
    return sorted(int(p.parent.name[5:]) for p in out.glob("seed_*/result.json"))


def git_commit(
    repo: pathlib.Path, paths: Sequence[pathlib.Path], message: str, tries: int = 5
) -> None:
    """Commit exactly ``paths`` (other staged changes stay staged) in the repository that
    holds the folder ``repo``; nothing to commit is fine, a held index lock is waited for."""
    if not paths:  # (git commit with no paths would take everything staged)
        return
    git = ["git", "-C", str(repo)]
    resolved = [str(pathlib.Path(p).resolve()) for p in paths]
    for i in range(tries):
        r = subprocess.run([*git, "add", "--", *resolved], capture_output=True, text=True)
        if r.returncode == 0:
            staged = subprocess.run([*git, "diff", "--cached", "--quiet", "--", *resolved])
            if staged.returncode == 0:
                return  # nothing to commit
            r = subprocess.run(
                [*git, "commit", "-q", "-m", message, "--", *resolved],
                capture_output=True,
                text=True,
            )
            if r.returncode == 0:
                return
        if "index.lock" not in r.stderr:
            break
        time.sleep(2 * (i + 1))
    raise RuntimeError(f"git commit of {resolved} failed: {r.stderr.strip()}; commit them by hand")


def write_tables(
    results: pathlib.Path,
    readme: Optional[pathlib.Path],
    clean: Optional[str] = None,
    against: Optional[str] = None,
    figures: bool = True,
) -> list[pathlib.Path]:
    """results.csv and results.md of ``results`` again (against the clean results in
    ``clean`` where the data was corrupted, with the figures of ACC against severity when
    ``figures`` asks for them), its table against the folder ``against`` (paired by seed)
    when given, and its blocks in ``readme`` when given."""
    runs = collect(results)
    clean_runs = clean_runs_for(runs, clean)
    written, table = write_table_files(results, runs, clean_runs, figures)
    key = results_key(results, readme) if readme is not None else results.as_posix()
    blocks = readme_blocks(runs, table, clean_runs, results, readme)
    if against is not None:
        written.append(write_against(results, pathlib.Path(against)))
        base = results_key(pathlib.Path(against), readme) if readme is not None else against
        blocks[against_part(base)] = written[-1].read_text()
    if readme is not None:
        update_readme(readme, key, blocks)
        written.append(readme)
    return written


def results_key(results: pathlib.Path, readme: pathlib.Path) -> str:
    """The document's block name of ``results``: its path as given when relative (from the
    repository root, e.g. ``results/paper`` in ``docs/results.md``), else relative to the
    document's folder (as it is when outside that folder)."""
    if not results.is_absolute():
        return results.as_posix()
    here = readme.resolve().parent
    inside = results.resolve().is_relative_to(here)
    return (results.resolve().relative_to(here) if inside else results.resolve()).as_posix()


def eta(done_walls: dict, todo: Sequence[tuple]) -> str:
    """Remaining time from the mean wall time of finished points of the same
    (dataset, run); points without such a measurement are counted apart."""
    known = [np.mean(done_walls[(d, r)]) for _, d, r, *_ in todo if done_walls.get((d, r))]
    missing = len(todo) - len(known)
    text = f"{sum(known) / 60:.0f} min"
    return text + (f" + {missing} points not yet timed" if missing else "")


def _load_points(
    plan: Plan, points: Sequence[tuple], results: pathlib.Path, data_dir=None
) -> tuple[list, dict, dict]:
    """The points of ``points`` still to run (not exported under ``results``), their
    datasets and each (data, run)'s checked Config. Refuses, before any training, a point
    exported with other settings than the plan's now, finished ones too (a table must not
    show old numbers beside new ones as one plan); with other data too where its data has
    points to run (the data of finished data is not loaded); and a point on corrupted data
    whose settings differ from its clean result's (the plan's ``clean`` folder, else its
    own: the harsh plan holds its clean runs)."""
    todo = [p for p in points if exported(results, p[1], p[2], p[0]) is None]
    need = {(d, r) for _, d, r, *_ in todo}
    clean = pathlib.Path(plan.clean) if plan.clean else results
    runs: dict[str, dict] = {}  # data key -> {run name: (method, overrides)}
    for _, d, r, m, kw in points:
        runs.setdefault(d, {})[r] = (m, kw)
    datasets, configs = {}, {}
    for d, of_d in runs.items():
        done = [r for r in of_d if (point_dir(results, d, r) / "config.json").exists()]
        if not any((d, r) in need for r in of_d):
            for r in done:
                check_finished_settings(point_dir(results, d, r), *of_d[r])
            continue
        ds = datasets[d] = load_data(d, data_dir=data_dir)
        data_id = dataset_id(ds)
        for r in of_d:
            m, kw = of_d[r]
            cfg = check_config(Config(method=m, n_clusters=ds.n_clusters, **kw), len(ds.x))
            check_exported_settings(point_dir(results, d, r), ds, cfg, data_id)
            if (d, r) in need and "@" in d:  # found now, not when the first table is written
                check_clean_settings(clean, d, r, cfg)
            configs[(d, r)] = cfg
    return todo, datasets, configs


def ends_group(todo: Sequence[tuple], i: int) -> bool:
    """Whether point ``i`` of ``todo`` is the last of its seed and dataset (its clean and
    corrupted data together): the figures are drawn (and committed) then, not after every
    point of a harsh plan (hundreds of images in the history)."""
    group = [(p[0], p[1].partition("@")[0]) for p in todo[i : i + 2]]  # (seed, dataset)
    return len(group) == 1 or group[0] != group[1]


def _commit_earlier_exports(results: pathlib.Path, tables: Callable[[], list]) -> None:
    """Commit the exports of an earlier run that ended before its commit, and the tables
    (``tables()`` writes them) they change."""
    for out in sorted(p for p in results.glob("*_*") if p.is_dir()):
        git_commit(results, [out], f"results: {results.name} {out.name} (earlier exports)")
    if any(results.glob("*_*")):
        git_commit(results, tables(), "results: tables")


def _check_git(results: pathlib.Path) -> None:
    """Refuse ``--commit`` for a results folder outside a git work tree, before training."""
    where = next(p for p in (results, *results.parents) if p.exists())
    r = subprocess.run(
        ["git", "-C", str(where), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or r.stdout.strip() != "true":
        raise ValueError(
            f"--commit commits each point's results, but {results} is not inside a git "
            "repository; run from the repository root, or leave --commit out"
        )
    ignored = subprocess.run(
        ["git", "-C", str(where), "check-ignore", "-q", str(results.resolve())]
    )
    if ignored.returncode == 0:
        raise ValueError(
            f"--commit commits each point's results, but git ignores {results} "
            "(.gitignore); choose another --results folder, or leave --commit out"
        )


def run_plan(
    plan: Plan,
    points: Sequence[tuple],
    results: pathlib.Path,
    work: pathlib.Path,
    ae_cache: pathlib.Path,
    data_dir=None,
    commit: bool = False,
    log: Callable = common.log,
    checkpoint_interval_s: float = 60.0,
    readme: Optional[pathlib.Path] = None,
    against: Optional[str] = None,
) -> int:
    """Run every point not yet exported under ``results``, in the working folder ``work``
    with the pretrained-autoencoder cache ``ae_cache``; after each, results.md (the table
    against the folder ``against``, and the ``readme`` blocks) again and, with ``commit``, a
    commit; the figures of a harsh plan after the last point of each seed and dataset.
    Returns how many points ran."""
    t0 = time.time()
    if commit:
        _check_git(results)
    todo, datasets, configs = _load_points(plan, points, results, data_dir)

    def tables(figures: bool = True) -> list:
        return write_tables(results, readme, plan.clean, against, figures)

    if commit:
        _commit_earlier_exports(results, tables)
    elif any(results.glob("*_*")):  # a run may have ended between an export and its tables
        tables()
    walls: dict[tuple, list] = {}
    for s, d, r, *_ in points:
        if (rec := exported(results, d, r, s)) is not None:
            walls.setdefault((d, r), []).append(rec["wall_seconds"])
    log(f"plan: {len(points)} points, {len(points) - len(todo)} already exported under {results}")
    for i, (seed, name, run, *_) in enumerate(todo):
        ds, cfg = datasets[name], configs[(name, run)]
        log(
            f"[{i + 1}/{len(todo)}] {name} {run} seed {seed} (elapsed "
            f"{(time.time() - t0) / 60:.0f} min, plan ETA {eta(walls, todo[i:])})"
        )
        run_dir = work / "runs" / point_dir(results, name, run).name
        run_config(ds, cfg, [seed], run_dir, ae_cache, log, checkpoint_interval_s)
        out = point_dir(results, name, run)
        rec = export_seed(run_dir, out, ds, cfg, seed)
        walls.setdefault((name, run), []).append(rec["wall_seconds"])
        log(
            f"exported {out}/seed_{seed}: ACC {rec.get('acc', float('nan')):.4f}, "
            f"{rec.get('n_iter', 0)} iterations ({rec['stop_reason']}), "
            f"{rec['wall_seconds']:.0f} s"
        )
        written = tables(figures=ends_group(todo, i))
        if commit:
            git_commit(
                results, [out, *written], f"results: {results.name} {name} {run} seed {seed}"
            )
    log(f"plan done: {len(todo)} points ran in {(time.time() - t0) / 60:.1f} min")
    return len(todo)


# The drivers' flags a plan fixes itself (its settings, its data and its folders): given to
# the campaign they are refused, not ignored.
PLAN_FIXES = (
    *common.SETTING_FLAGS,
    *("recipe", "config", "workdir", "n_clusters", "subset", "per_class", "x_key", "y_key"),
)


def _plan_from_flags() -> tuple[Plan, pathlib.Path]:
    """The plan the flags ask for (under ``--corrupt``, against ``--clean``) and its
    results folder; refuses a clean folder that is not there, and any flag of
    ``PLAN_FIXES``, and ``--download``."""
    if FLAGS["download"].present:
        raise ValueError(
            "dssec-campaign reads the datasets from --data_dir (else $DSSEC_DATA_DIR) and "
            "downloads nothing; fetch one first with dssec-run --dataset=NAME --download"
        )
    if given := [f"--{name}" for name in PLAN_FIXES if FLAGS[name].present]:
        raise ValueError(
            f"dssec-campaign runs the settings its plan fixes and does not read {', '.join(given)}; "
            "choose the plan (--plan=strong is the strong recipe), or run other settings with "
            "dssec-run or dssec-sweep"
        )
    plan = PLANS[FLAGS.plan]
    results = pathlib.Path(FLAGS.results or f"results/{FLAGS.plan}")
    if FLAGS.corrupt is not None:  # the plan under one harsh condition, against itself clean
        if plan.corruptions:
            raise ValueError(
                f"--plan={FLAGS.plan} already runs its own harsh conditions; --corrupt takes a "
                "clean plan (paper, strong, ...)"
            )
        plan = dataclasses.replace(
            plan, corruptions={d: (FLAGS.corrupt,) for d in plan.datasets}, clean=str(results)
        )
        results = results.with_name(corrupted_name(results.name, FLAGS.corrupt))
    if FLAGS.clean:  # the clean results to compare with, in place of the plan's own
        plan = dataclasses.replace(plan, clean=FLAGS.clean)
    if plan.clean and not pathlib.Path(plan.clean).is_dir():
        raise ValueError(
            f"this plan is reported against the clean results in {plan.clean}, which is not "
            "a folder here; run from the repository root, after the clean plan"
        )
    return plan, results


def _check_readme(
    readme: pathlib.Path, results: pathlib.Path, against: Optional[str], harsh: bool
) -> None:
    """Refuse, before hours of training, a document without a block of the results (their
    table, their sweeps, their table against ``against``, or with ``harsh`` the harsh
    conditions' summary)."""
    results.mkdir(parents=True, exist_ok=True)
    key = results_key(results, readme) if readme.exists() else None
    text = readme.read_text() if key else ""
    parts = ["", SWEEPS, *([SUMMARY] if harsh else [])]
    if against is not None:
        parts.append(against_part(results_key(pathlib.Path(against), readme)))
    if not any(readme_block(key or "", p).search(text) for p in parts):
        who = f"--update_readme={readme}" if FLAGS.update_readme else f"this plan's {readme}"
        names = " or ".join(f"'<!-- begin {key or results}{p} -->'" for p in parts)
        raise ValueError(
            f"{who} needs an existing file with a block {names} ... '<!-- end ... -->'; run "
            "from the repository root"
        )


def main(argv):
    plan, results = _plan_from_flags()
    points = plan_points(
        plan,
        FLAGS.datasets,
        FLAGS.methods,
        FLAGS.seeds if FLAGS["seeds"].present else None,
        FLAGS.only_seeds,
    )
    root = pathlib.Path(FLAGS.cache_dir or pathlib.Path.home() / ".cache/dssec_jax/campaign")
    work, ae_cache = root / FLAGS.plan, ae_cache_dir(root, FLAGS.plan, plan)
    own_folder = FLAGS.results is None and FLAGS.corrupt is None
    readme_name = FLAGS.update_readme or (plan.readme if own_folder else None)
    readme = pathlib.Path(readme_name) if readme_name else None
    against = plan.against if own_folder else None
    if against is not None and not pathlib.Path(against).is_dir():
        common.log(
            f"no folder {against} here, so no table against it (run from the repository root)"
        )
        against = None
    if readme is not None and FLAGS.update_readme is None:  # the plan's own document
        try:
            _check_readme(readme, results, against, bool(plan.corruptions or FLAGS.corrupt))
        except ValueError as e:  # another project's README, say: the tables stay in results
            common.log(f"{e}; so the tables go to {results} only")
            readme = None
    elif readme is not None:
        _check_readme(readme, results, against, bool(plan.corruptions or FLAGS.corrupt))
    if FLAGS.dry_run:
        also = f"; tables also in {readme}" if readme else ""
        print(f"working folder: {work}; pretrained autoencoders: {ae_cache}{also}")
        for s, d, r, *_ in points:
            if exported(results, d, r, s) is None:
                print(f"todo: {d} {r} seed {s}")
        return
    run_plan(
        plan,
        points,
        results,
        work,
        ae_cache,
        FLAGS.data_dir,
        FLAGS.commit,
        common.log,
        FLAGS.checkpoint_interval,
        readme,
        against,
    )


def entry() -> None:
    """The command line (``dssec-campaign``, or ``python -m experiments.campaign`` in a checkout)."""
    own = ("plan", "datasets", "methods", "results", "only_seeds", "commit", "dry_run")
    run = ("seeds", "cache_dir", "checkpoint_interval", "data_dir", "corrupt", "clean")
    # the flags a plan fixes are "read" to be refused with the reason (_plan_from_flags)
    metrics = ("metrics_csv", "metrics_tensorboard")
    reads = (*common.ALL_READ, *own, "update_readme", *run, *metrics, *PLAN_FIXES, "download")
    common.run_cli(main, doc=__doc__, reads=reads)


if __name__ == "__main__":
    entry()

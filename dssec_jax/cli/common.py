"""Flags shared by run and sweep, config assembly and the one-line CLI error wrapper."""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import sys
from collections.abc import Collection
from typing import Any, Callable, Optional, Union

import numpy as np
from absl import app, flags
from absl import logging as absl_logging

from dssec_jax import checkpoint, compile_cache, parallel, progress
from dssec_jax.data import Dataset, load_dataset
from dssec_jax.data.corrupt import corrupt_dataset
from dssec_jax.methods import Config
from dssec_jax.presets import RECIPES, recipe_settings
from dssec_jax.validation import NonFiniteLossError, check_labels

FLAGS = flags.FLAGS

# Config fields settable from the command line (None = keep the library default).
_OVERRIDES: dict[str, tuple[Callable[..., Any], str]] = {
    "rho": (flags.DEFINE_float, "sparsity target rho in (0, 1)"),
    "beta": (flags.DEFINE_float, "weight beta of the sparsity penalty"),
    "alpha": (flags.DEFINE_float, "Student's t degrees of freedom of the soft assignment"),
    "embed_std": (
        flags.DEFINE_string,
        "rescale the embedding to this standard deviation before "
        "the clustering phase (the decoder compensates); kernel: median squared "
        "distance to the own centre = alpha; none keeps the pretrained scale",
    ),
    "activation": (
        flags.DEFINE_string,
        "hidden activation of the autoencoder (relu, sigmoid, ...)",
    ),
    "sparse_activation": (flags.DEFINE_string, "activation of the penalised (sparse) layers"),
    "sparse_layers": (
        flags.DEFINE_list,
        "indices of the penalised hidden encoder layers, e.g. 0,2",
    ),
    "sparsity_reduction": (flags.DEFINE_string, "'mean' (KL / units) or 'sum' over units"),
    "sparsity_floor": (
        flags.DEFINE_string,
        "rate below which the sparsity KL is linear (its derivative bounded); none: unbounded",
    ),
    "sparsity_form": (
        flags.DEFINE_string,
        "rho_hat of ReLU units: ratio h/(1+h), exp, tanh or clip (the former min(h, 1))",
    ),
    "pretrain": (flags.DEFINE_string, "pretraining schedule: end_to_end or stacked"),
    "pretrain_epochs": (flags.DEFINE_integer, "epochs of end-to-end pretraining / fine-tuning"),
    "layerwise_epochs": (
        flags.DEFINE_string,
        "epochs per layer of greedy (stacked) pretraining; none: as many as pretrain_epochs",
    ),
    "batch_size": (flags.DEFINE_integer, "minibatch size"),
    "learning_rate": (flags.DEFINE_float, "learning rate of pretraining"),
    "init": (
        flags.DEFINE_string,
        "weight initialiser: glorot_uniform or variance_scaling (DEC-keras: 1/3, fan_in, uniform)",
    ),
    "pretrain_optimizer": (flags.DEFINE_string, "optimizer of pretraining: adam or sgd"),
    "pretrain_momentum": (flags.DEFINE_float, "SGD momentum of pretraining"),
    "pretrain_clip_norm": (
        flags.DEFINE_string,
        "clip pretraining gradients to this global norm; none: no clip",
    ),
    "cluster_optimizer": (flags.DEFINE_string, "optimizer of the clustering phase: adam or sgd"),
    "cluster_learning_rate": (flags.DEFINE_float, "learning rate of the clustering phase"),
    "momentum": (flags.DEFINE_float, "SGD momentum of the clustering phase"),
    "update_interval": (flags.DEFINE_integer, "iterations between target-distribution refreshes"),
    "tol": (flags.DEFINE_float, "stop when fewer than this fraction of labels change"),
    "max_iter": (flags.DEFINE_integer, "maximum clustering iterations"),
    "n_init": (flags.DEFINE_integer, "K-means restarts"),
    "precision": (flags.DEFINE_string, "float32 or bf16 (bfloat16 matmul inputs)"),
    "refresh_precision": (
        flags.DEFINE_string,
        "float32 or bf16 matmul inputs of the clustering phase's target refreshes; none: "
        "as --precision (when they differ, the reported labels come from a last pass at "
        "--precision)",
    ),
    "cluster_sparsity": (flags.DEFINE_boolean, "keep the sparsity penalty in the clustering phase"),
    "k_range": (flags.DEFINE_list, "k_min,k_max tried by --n_clusters=auto"),
    "k_criterion": (
        flags.DEFINE_string,
        "how --n_clusters=auto chooses k: silhouette, calinski_harabasz, davies_bouldin, "
        "bic, gap or eigengap",
    ),
    "data_parallel": (flags.DEFINE_boolean, "shard the data over all devices (of all processes)"),
    "label_weight": (flags.DEFINE_float, "weight lambda of the label term on known labels"),
    "label_fraction": (
        flags.DEFINE_float,
        "share of the labels the method knows (stratified, drawn from the seed): needed by "
        "lcae_kmeans, the label term for the other autoencoder methods; 0: unsupervised",
    ),
}
# Settings whose value may be None, given on the command line as a number or "none".
_NONEABLE = {
    "embed_std": float,
    "layerwise_epochs": int,
    "refresh_precision": str,
    "pretrain_clip_norm": float,
    "sparsity_floor": float,
}


def _default_text(name: str) -> str:
    value = getattr(Config(), name)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


SETTING_FLAGS = tuple(_OVERRIDES)  # the flags that set a Config field, one each

for _name, (_define, _help) in _OVERRIDES.items():
    _define(_name, None, f"{_help} (library default: {_default_text(_name)})")

flags.DEFINE_string(
    "known_labels",
    None,
    "a file of the labels the methods may learn from, the same for every seed: .npy, or "
    "text of one integer per sample of the dataset, -1 where unknown (instead of "
    "--label_fraction)",
)
flags.DEFINE_string(
    "data_dir", None, "folder holding the dataset files (else $DSSEC_DATA_DIR, ~/.cache/dssec_jax)"
)
flags.DEFINE_boolean(
    "download", False, "download missing MNIST/Fashion-MNIST/USPS files (checksums pinned)"
)
flags.DEFINE_string("config", None, "JSON file of Config overrides (applied before flags)")
flags.DEFINE_enum(
    "recipe",
    "paper",
    sorted(RECIPES),
    "named protocol: paper (the library defaults) or strong (DEC-keras's pretraining); "
    "applied before --config and the flags",
)
flags.DEFINE_integer("seeds", 1, "number of seeds (0 .. seeds-1)", lower_bound=1)
flags.DEFINE_string("workdir", None, "output folder; rerunning on it resumes")
flags.DEFINE_string(
    "cache_dir",
    None,
    "pretrained-autoencoder cache (default: <workdir>/../ae_cache; dssec-sweep: "
    "<workdir>/runs/ae_cache); for dssec-campaign the folder of its runs and caches "
    "(default: ~/.cache/dssec_jax/campaign)",
)
flags.DEFINE_float(
    "checkpoint_interval",
    60.0,
    "least seconds between two checkpoints of a phase (phase ends are always saved)",
)
flags.DEFINE_string("x_key", None, "array name of the data in your own .npz/.mat/.h5 file")
flags.DEFINE_string("y_key", None, "array name of the labels in your own file")
flags.DEFINE_string(
    "n_clusters",
    None,
    "number of clusters, or auto to choose it without "
    "labels within --k_range (default: number of label values)",
)
flags.DEFINE_integer(
    "subset",
    None,
    "use a fixed random subset of this many samples (drawn with "
    "seed 0, the same for every run; the dataset is then named <name>_n<subset>)",
    lower_bound=1,
)
flags.DEFINE_integer(
    "per_class",
    None,
    "use a fixed subset of this many samples of each class "
    "(drawn with seed 0; named <name>_c<per_class>); needs labels",
    lower_bound=1,
)
flags.DEFINE_string(
    "corrupt",
    None,
    "a harsh condition applied to the data (seed 0, the same for every run; "
    "dssec_jax.data.corrupt): gaussian:s, salt_pepper:p, occlusion:a or noise_features:r, "
    "e.g. gaussian:0.3; the dataset is then named <name>_<kind><level>",
)
flags.DEFINE_string(
    "metrics_csv",
    None,
    "also append every pretraining epoch and target refresh (loss parts, metrics) as a row "
    "of this CSV file, for following a long run",
)
flags.DEFINE_string(
    "metrics_tensorboard",
    None,
    "also write every pretraining epoch and target refresh as TensorBoard scalars in this "
    "folder, one run per seed (needs tensorboardX: pip install 'dssec_jax[tensorboard]'); "
    "like --metrics_csv, for single runs, not the records of a batched sweep",
)
flags.DEFINE_string(
    "coordinator",
    None,
    "host:port of process 0 for a multi-process run (with "
    "--num_processes, --process_id and --data_parallel; else $DSSEC_COORDINATOR)",
)
flags.DEFINE_integer("num_processes", None, "processes in a multi-process run")
flags.DEFINE_integer("process_id", None, "this process's index in a multi-process run")


# Every driver reads these (``cli`` starts the processes).
ALL_READ = ("coordinator", "num_processes", "process_id")
# The flags the training drivers (dssec-run, dssec-sweep, dssec-campaign: the metric logs
# of ``log``) read through ``load``, ``build_config`` and ``runner``.
TRAINING_FLAGS = (
    *ALL_READ,
    *("metrics_csv", "metrics_tensorboard"),
    *SETTING_FLAGS,
    *("config", "recipe", "n_clusters", "seeds", "workdir", "cache_dir", "checkpoint_interval"),
    *("data_dir", "download", "subset", "per_class", "x_key", "y_key", "corrupt"),
)


def check_read(reads: Collection[str]) -> None:
    """ValueError naming each flag given on the command line that this driver does not
    ``reads``: absl defines every imported driver's flags in one namespace, so another
    driver's flag would parse and be ignored."""
    ours = {  # absl's own (--helpfull, --flagfile, logging) are never refused
        f.name
        for module, defined in FLAGS.flags_by_module_dict().items()
        if module.split(".")[0] != "absl"
        for f in defined
    }
    if given := sorted(f"--{n}" for n in ours - set(reads) if FLAGS[n].present):
        raise ValueError(
            f"this command does not read {', '.join(given)} (another dssec command's "
            "flags); see its --help for the ones it takes"
        )


_PROGRESS: list = []  # the drivers' progress display (and metric logs), made at the first record


def log(item: Union[str, dict]) -> None:
    """A progress line, or a progress record, through absl logging (stdout, with a
    wall-clock stamp, once :func:`cli` has set it up): a bar per phase in a terminal, else
    a line every 5 % of a phase (``dssec_jax.progress.Progress``)."""
    if not _PROGRESS:
        _PROGRESS.append(progress.Progress(write=absl_logging.info))
        if FLAGS.metrics_csv:
            _PROGRESS.append(progress.CsvLog(FLAGS.metrics_csv))
        if FLAGS.metrics_tensorboard:
            _PROGRESS.append(progress.TensorBoardLog(FLAGS.metrics_tensorboard))
    if isinstance(item, str):
        _PROGRESS[0].close()
        absl_logging.info(item)
    else:
        for show in _PROGRESS:
            show(item)


def _log_to_stdout() -> None:
    """absl logging's handler writes "[HH:MM:SS] message" lines to stdout; JAX's own
    start-up notes stay below the warning level."""
    handler = absl_logging.get_absl_handler()
    handler.python_handler.stream = sys.stdout
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
    logging.getLogger("jax").setLevel(logging.WARNING)


def load(name: str):
    """The dataset named by ``name`` (or a path), honouring the data flags."""
    file_kw = {k: getattr(FLAGS, k) for k in ("x_key", "y_key") if getattr(FLAGS, k) is not None}
    if FLAGS.n_clusters is not None:
        file_kw["n_clusters"] = n_clusters_flag()
    ds = load_dataset(name, data_dir=FLAGS.data_dir, download=FLAGS.download, **file_kw)
    if FLAGS.subset is not None and FLAGS.per_class is not None:
        raise ValueError("--subset and --per_class exclude each other; pass one of them")
    if FLAGS.per_class is not None:
        ds = per_class_subset(ds, FLAGS.per_class)
    elif FLAGS.subset is not None:
        ds = subsample(ds, FLAGS.subset)
    return ds if FLAGS.corrupt is None else corrupt_dataset(ds, FLAGS.corrupt)


def read_known_flag(ds: Dataset) -> Optional[np.ndarray]:
    """The labels ``--known_labels`` names for the samples of ``ds`` (-1 where unknown), or
    None without the flag; ValueError naming the file and the fix."""
    if FLAGS.known_labels is None:
        return None
    if FLAGS.subset is not None or FLAGS.per_class is not None:
        raise ValueError(
            "--known_labels gives a label per sample of the whole dataset; it does not "
            "combine with --subset or --per_class"
        )
    return read_known(FLAGS.known_labels, len(ds.x))


def read_known(path: str, n: int) -> np.ndarray:
    """Known labels from ``path`` (.npy, or text of integers separated by spaces, commas or
    lines), -1 where unknown; ValueError naming the file and the fix."""
    fix = "give a .npy file or a text file of one integer per sample, -1 where unknown"
    p = pathlib.Path(path)
    try:
        raw = np.load(p, allow_pickle=False) if p.suffix == ".npy" else p.read_text()
        arr = np.asarray(raw.replace(",", " ").split(), float) if isinstance(raw, str) else raw
    except (OSError, ValueError) as e:
        raise ValueError(f"--known_labels {path} cannot be read ({e}); {fix}") from None
    known = check_labels(np.ravel(arr), n, f"known labels in {path}")
    if not (known >= 0).any() or (known >= 0).all():
        which = "no label (every one is -1)" if (known < 0).all() else "every label (none is -1)"
        raise ValueError(f"--known_labels {path} knows {which}; {fix}")
    return known


def subsample(ds: Dataset, n: int) -> Dataset:
    """A fixed random subset of ``n`` rows (NumPy seed 0), named ``<name>_n<n>``."""
    if n > len(ds.x):
        raise ValueError(
            f"--subset={n} exceeds the {len(ds.x)} samples of {ds.name}; pass a smaller number"
        )
    rows = np.sort(np.random.default_rng(0).choice(len(ds.x), n, replace=False))
    return dataclasses.replace(
        ds, x=ds.x[rows], y=None if ds.y is None else ds.y[rows], name=f"{ds.name}_n{n}"
    )


def per_class_subset(ds: Dataset, k: int) -> Dataset:
    """A fixed subset of ``k`` rows of every class (NumPy seed 0), named ``<name>_c<k>``."""
    if ds.y is None:
        raise ValueError(f"--per_class needs labels, and {ds.name} has none; use --subset")
    classes, counts = np.unique(ds.y, return_counts=True)
    if counts.min() < k:
        raise ValueError(
            f"--per_class={k} exceeds the {counts.min()} samples of class "
            f"{classes[counts.argmin()]} of {ds.name}; pass a smaller number"
        )
    rng = np.random.default_rng(0)
    rows = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(ds.y == c), k, replace=False) for c in classes])
    )
    return dataclasses.replace(ds, x=ds.x[rows], y=ds.y[rows], name=f"{ds.name}_c{k}")


def n_clusters_flag():
    """--n_clusters as an int or "auto"; ValueError naming the flag otherwise."""
    v = FLAGS.n_clusters.strip().lower()
    if v == "auto":
        return "auto"
    try:
        return int(v)
    except ValueError:
        raise ValueError(
            f"--n_clusters={FLAGS.n_clusters} is not valid; pass an integer >= 1 or auto"
        ) from None


def flag_value(name: str, v):
    """A setting flag's value as Config wants it; ValueError naming the flag otherwise."""
    try:
        if name in ("sparse_layers", "k_range"):
            return [int(i) for i in v]
        if name == "embed_std" and v.strip().lower() == "kernel":
            return "kernel"
        if name in _NONEABLE:
            return None if v.strip().lower() == "none" else _NONEABLE[name](v)
    except ValueError:
        accepted = {
            "sparse_layers": "comma-separated hidden-layer indices such as 0,1",
            "k_range": "two integers k_min,k_max such as 2,30",
            "embed_std": "a number, kernel or none",
            "layerwise_epochs": "an integer or none",
            "pretrain_clip_norm": "a number or none",
            "sparsity_floor": "a number or none",
        }[name]
        raise ValueError(
            f"--{name}={','.join(v) if isinstance(v, list) else v} is not valid; pass {accepted}"
        ) from None
    return v


def build_config(n_clusters, labelled: bool = False, **explicit) -> Config:
    """Config from library defaults < --recipe < --config file < flags < ``explicit``;
    ``n_clusters`` (the dataset's) unless --n_clusters is given; the recipe's settings for
    runs given labels when ``labelled`` or a label fraction asks for them."""
    fields = {f.name for f in dataclasses.fields(Config)}
    d = {"n_clusters": n_clusters}
    if FLAGS.config:
        try:
            extra = json.loads(open(FLAGS.config).read())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"--config {FLAGS.config} is not a readable JSON file ({e})") from e
        if not isinstance(extra, dict):
            raise ValueError(
                f"--config {FLAGS.config} holds {type(extra).__name__}, not an object of "
                'settings such as {"gamma": 0.1}'
            )
        unknown = set(extra) - fields
        if unknown:
            raise ValueError(
                f"--config has unknown keys {sorted(unknown)}; valid: {sorted(fields)}"
            )
        d.update(extra)
    if FLAGS.n_clusters is not None:
        d["n_clusters"] = n_clusters_flag()
    for name in _OVERRIDES:
        v = getattr(FLAGS, name)
        if v is not None:
            d[name] = flag_value(name, v)
    d.update({k: v for k, v in explicit.items() if v is not None})
    method, labelled = d.get("method", "dssec"), labelled or bool(d.get("label_fraction"))
    return config_from({**recipe_settings(FLAGS.recipe, method, labelled), **d})


def config_from(d: dict) -> Config:
    """Config from a dict of settings as JSON gives them (lists become tuples)."""
    settings: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return Config(**settings)


def parse_flags(argv: list) -> list:
    """absl's flag parsing, with an unknown flag or an unparsable value ending in one line
    on stderr and exit code 2 (absl itself prints a FATAL message and exits 1)."""
    try:
        return FLAGS(argv)
    except flags.Error as e:
        print(f"error: {e}; see --helpfull for every flag and its default", file=sys.stderr)
        sys.exit(2)


def run_cli(
    main: Callable,
    positional: bool = False,
    doc: str | None = None,
    reads: Collection[str] | None = None,
) -> None:
    """``app.run`` of ``cli(main)`` with ``parse_flags``: every bad input exits 2 in one line.
    ``doc``: the usage text of ``--help`` (the driver's docstring, whatever script runs it);
    ``reads``: the flags the driver reads (``check_read`` refuses the others)."""
    if doc:
        sys.modules["__main__"].__doc__ = doc
    app.run(cli(main, positional, reads), flags_parser=parse_flags)


# A path the user gave that cannot be used (other OS errors, a full disk or a failed read
# of a cache, are not the input's fault and keep their traceback).
UNUSABLE_PATH = (
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def cli(main: Callable, positional: bool = False, reads: Collection[str] | None = None) -> Callable:
    """Wrap an absl main so that bad input (a value, a path that cannot be used, an extra
    the flags need and that is not installed) ends in a one-line error and exit code 2 (an
    unusable checkpoint or a diverged fit outside a run's seeds: one line, exit code 1);
    stray positional arguments are refused unless ``positional``, and flags the driver
    does not read (``check_read``) when ``reads`` names those it does."""

    def wrapped(argv):
        if len(argv) > 1 and not positional:
            print(f"error: unexpected arguments {argv[1:]}; use --flag=value", file=sys.stderr)
            sys.exit(2)
        _log_to_stdout()
        compile_cache.enable()
        try:
            if reads is not None:
                check_read(reads)
            parallel.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
            return main(argv)
        except (ValueError, *UNUSABLE_PATH) as e:  # the input, or a path it names
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except ImportError as e:
            if "pip install" not in str(e):  # a broken import is a bug: its traceback
                raise
            print(f"error: {e}", file=sys.stderr)  # an extra the flags need, not installed
            sys.exit(2)
        except (checkpoint.CheckpointError, NonFiniteLossError) as e:  # not the input's fault
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)

    return wrapped

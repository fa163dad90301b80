"""Run a grid of datasets x methods x gammas x embedding sizes x seeds, then report.

    python -m experiments.sweep --datasets=usps,coil20 --methods=kmeans,idec,dssec \
        --gammas=0.1,0.3,0.5 --embed_dims=5,10,20,40 --seeds=5 --workdir=runs/sweep

Each grid point is a run directory under <workdir>/runs (resumable); pretrained
autoencoders are shared through --cache_dir (default <workdir>/runs/ae_cache; not with
--batched). Methods that do not use gamma (or embed_dim) run once, not once per value.
With --known_labels=FILE (one dataset, the methods with an autoencoder) every run knows the
labels the file gives, -1 where unknown.
"""

from __future__ import annotations

import pathlib

from absl import flags

from dssec_jax.methods import get_method
from dssec_jax.validation import check_config, check_known

from . import common, report
from .runner import run_batched, run_config, run_name

flags.DEFINE_list("datasets", ["digits"], "datasets (built-in names or paths)")
flags.DEFINE_list(
    "methods",
    ["kmeans", "pca_kmeans", "ae_kmeans", "sae_kmeans", "dec", "idec", "dssec"],
    "methods to run",
)
flags.DEFINE_list(
    "gammas", None, "clustering-loss weights (idec, dssec); default: the one of --config, else 0.1"
)
flags.DEFINE_list("embed_dims", None, "embedding sizes; default: the one of --config, else 10")
flags.DEFINE_boolean("tsne", True, "draw the t-SNE figure of the learned embeddings")
flags.DEFINE_boolean(
    "batched",
    False,
    "train all gammas and seeds of a method and embedding "
    "size as one vmapped program (dssec_jax.sweep), checkpointed as one: an interrupted "
    "batch resumes while its list of unfinished runs is the same",
)
flags.DEFINE_boolean(
    "shard_runs",
    False,
    "with --batched: split the runs over all local devices "
    "(their number must divide by the device count)",
)
FLAGS = flags.FLAGS


def grid(methods, gammas, embed_dims):
    """(method, gamma or None, embed_dim or None) without runs that only repeat others;
    ``gammas`` (``embed_dims``) None: the one value the settings give (``configure``)."""
    points = []
    for m in methods:
        spec = get_method(m)
        gs = (gammas or [CONFIGURED]) if spec.clustering == "idec" else [None]
        es = [None] if spec.features == "raw" else (embed_dims or [CONFIGURED])
        points += [(m, g, e) for g in gs for e in es]
    return points


CONFIGURED = "configured"  # a grid value left to --recipe, --config and the defaults


def configure(ds, m: str, g, e, known=None) -> tuple:
    """(dataset, method, gamma, embed_dim, Config) of a grid point; a value the grid leaves
    to the settings (``CONFIGURED``) is the one they give. ``known``: the labels every run
    knows (-1 where unknown), checked against the method here, before any run."""
    given = {k: v for k, v in (("gamma", g), ("embed_dim", e)) if v not in (None, CONFIGURED)}
    labelled = known is not None
    cfg = common.build_config(ds.n_clusters, labelled=labelled, method=m, **given)
    cfg = check_config(cfg, len(ds.x))
    if labelled:
        check_known(known, len(ds.x), cfg)
    return (
        ds,
        m,
        cfg.gamma if g == CONFIGURED else g,
        cfg.embed_dim if e == CONFIGURED else e,
        cfg,
    )


def main(argv):
    try:
        gammas = FLAGS.gammas and [float(g) for g in FLAGS.gammas]
        embed_dims = FLAGS.embed_dims and [int(e) for e in FLAGS.embed_dims]
    except ValueError as e:
        raise ValueError(f"--gammas and --embed_dims take comma-separated numbers ({e})") from e
    if FLAGS.batched and FLAGS.cache_dir:
        raise ValueError(
            "--batched groups pretrain inside their own folders and use no --cache_dir; drop "
            "one of the two"
        )
    points = grid(FLAGS.methods, gammas, embed_dims)
    workdir = pathlib.Path(FLAGS.workdir or "runs/sweep")
    runs = workdir / "runs"
    ae_cache = pathlib.Path(FLAGS.cache_dir) if FLAGS.cache_dir else runs / "ae_cache"
    if FLAGS.known_labels is not None and (len(FLAGS.datasets) > 1 or FLAGS.batched):
        raise ValueError(  # before any dataset is loaded
            "--known_labels gives the labels of one dataset's samples, for runs one by "
            "one: sweep one dataset with it, without --batched"
        )
    datasets = [common.load(name) for name in FLAGS.datasets]
    known = common.read_known_flag(datasets[0])
    configs = [configure(ds, m, g, e, known) for ds in datasets for m, g, e in points]
    seeds = list(range(FLAGS.seeds))
    if FLAGS.batched:
        groups: dict[tuple, tuple] = {}
        for ds, m, g, dim, cfg in configs:
            key = (ds.name, m, dim) if cfg.spec.features == "autoencoder" else (ds.name, m, dim, g)
            groups.setdefault(key, (ds, []))[1].append((runs / run_name(ds.name, m, g, dim), cfg))
        for i, (key, (ds, members)) in enumerate(groups.items()):
            common.log(
                f"[{i + 1}/{len(groups)}] batched {'/'.join(map(str, key))}: "
                f"{len(members)} configs x {len(seeds)} seeds"
            )
            if members[0][1].spec.features == "autoencoder":
                run_batched(
                    ds, members, seeds, common.log, FLAGS.shard_runs, FLAGS.checkpoint_interval
                )
            else:
                run_config(ds, members[0][1], seeds, members[0][0], ae_cache, common.log)
    else:
        for i, (ds, m, g, dim, cfg) in enumerate(configs):
            name = run_name(ds.name, m, g, dim)
            common.log(f"[{i + 1}/{len(configs)}] {name}")
            run_config(
                ds,
                cfg,
                seeds,
                runs / name,
                ae_cache,
                common.log,
                FLAGS.checkpoint_interval,
                known=known,
            )
    report.write_report(workdir, tsne=FLAGS.tsne, log=common.log, clean=FLAGS.clean)


def entry() -> None:
    """The command line (``dssec-sweep``, or ``python -m experiments.sweep`` in a checkout)."""
    grid_flags = ("datasets", "methods", "gammas", "embed_dims", "known_labels")
    own = (*grid_flags, "tsne", "batched", "shard_runs", "clean")
    common.run_cli(main, doc=__doc__, reads=(*common.TRAINING_FLAGS, *own))


if __name__ == "__main__":
    entry()

"""Run one method on one dataset for several seeds.

    python -m experiments.run --dataset=usps --data_dir=../shared/data --method=dssec --seeds=5

Rerunning the same command on the same --workdir resumes and skips finished seeds.
"""

from __future__ import annotations

import pathlib

from absl import flags

from dssec_jax.validation import NonFiniteLossError, check_config, check_known

from . import common
from .runner import run_config

flags.DEFINE_string(
    "dataset",
    "digits",
    "built-in dataset (digits, usps, coil20, mnist, fashion_mnist) or a path to your own file",
)
flags.DEFINE_string(
    "method",
    "dssec",
    "kmeans, pca_kmeans, ae_kmeans, sae_kmeans, lcae_kmeans (with --label_fraction or "
    "--known_labels), dec, idec "
    "or dssec",
)
flags.DEFINE_float("gamma", None, "weight gamma of the clustering loss (default 0.1)")
flags.DEFINE_integer("embed_dim", None, "embedding size (default 10)")
flags.DEFINE_boolean(
    "save_model",
    False,
    "save each seed's fitted model to "
    "<workdir>/seed_<k>/model.dssec (load it with dssec_jax.DSSEC.load)",
)
FLAGS = flags.FLAGS


def default_cache(workdir: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(FLAGS.cache_dir) if FLAGS.cache_dir else workdir.parent / "ae_cache"


def main(argv):
    ds = common.load(FLAGS.dataset)
    known = common.read_known_flag(ds)
    cfg = check_config(
        common.build_config(
            ds.n_clusters,
            labelled=known is not None,
            method=FLAGS.method if FLAGS["method"].present else None,  # a --config may name it
            gamma=FLAGS.gamma,
            embed_dim=FLAGS.embed_dim,
        ),
        len(ds.x),
    )
    if known is not None:
        check_known(known, len(ds.x), cfg)  # before the run's folder is made
    workdir = pathlib.Path(FLAGS.workdir or f"runs/{ds.name}_{cfg.method}")
    common.log(
        f"{cfg.method} on {ds.name} ({ds.x.shape[0]} x {ds.x.shape[1]}, "
        f"{cfg.n_clusters} clusters), seeds 0..{FLAGS.seeds - 1}, workdir {workdir}"
    )
    res = run_config(
        ds,
        cfg,
        range(FLAGS.seeds),
        workdir,
        default_cache(workdir),
        common.log,
        FLAGS.checkpoint_interval,
        FLAGS.save_model,
        known,
    )
    s = res["summary"]
    if "acc" in s:
        common.log(result_line(s))
    common.log(f"wrote {workdir / 'results.json'}")
    if s.get("stopped_nonfinite", 0) == len(res["per_seed"]):
        raise NonFiniteLossError(
            f"every seed diverged (records in {workdir}); lower the learning rate or beta, "
            "in a new workdir"
        )


def result_line(summary: dict) -> str:
    """The closing line: ACC/NMI/ARI, their mean and sample std over the seeds that did
    not diverge (the count said, and the diverged ones) when there are several."""
    n, diverged = summary["acc"]["n"], summary.get("stopped_nonfinite", 0)
    note = f", {diverged} diverged left out" if diverged else ""
    head = f"mean, sample std over {n} seeds{note}" if n > 1 else f"one seed{note}"
    cells = ", ".join(
        f"{k.upper()} {summary[k]['mean']:.4f}"
        + ("" if summary[k]["std"] is None else f" ± {summary[k]['std']:.4f}")
        for k in ("acc", "nmi", "ari")
    )
    return f"result ({head}): {cells}" if n > 1 or diverged else f"result: {cells}"


def entry() -> None:
    """The command line (``dssec-run``, or ``python -m experiments.run`` in a checkout)."""
    own = ("dataset", "method", "gamma", "embed_dim", "save_model", "known_labels")
    common.run_cli(main, doc=__doc__, reads=(*common.TRAINING_FLAGS, *own))


if __name__ == "__main__":
    entry()

"""Progress a person watches. The library (``dssec_jax.fit``, ``sweep``) and the drivers'
runner emit progress records (dicts with an "event"); :func:`describe` makes one line of
text of a record, and :class:`Progress` shows them: a bar per phase (tqdm: ETA, live loss,
ACC when labels are known) in a terminal, elsewhere (CI, files) one plain line every few
percent of a phase, not every epoch."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from typing import Callable, Optional, TextIO

CLUSTER_PARTS = ("loss", "reconstruction", "sparsity", "clustering", "acc", "nmi", "ari")


def _eta(seconds) -> str:
    return "?" if seconds is None else f"{seconds:.0f}s"


def _pretrain_epoch(r: dict) -> str:
    return (
        f"pretrain {r['stage']} epoch {r['epoch']}/{r['epochs']} loss {r['loss']:.5f} "
        f"(rec {r['reconstruction']:.5f}, sparsity {r['sparsity']:.4f}) "
        f"elapsed {r['elapsed_s']:.0f}s eta {_eta(r['eta_s'])}"
    )


def _cluster_refresh(r: dict) -> str:
    parts = " ".join(f"{k} {r[k]:.4f}" for k in CLUSTER_PARTS if k in r)
    return (
        f"cluster iter {r['iteration']}/{r['max_iter']} delta_label {r['delta_label']:.4f} "
        f"{parts} empty {r['n_empty_clusters']} elapsed {r['elapsed_s']:.0f}s "
        f"eta<= {_eta(r['eta_s'])}"
    )


def _k_chosen(r: dict) -> str:
    tried = ", ".join(
        f"{k}: {v:.4g}" if v is not None else f"{k}: -" for k, v in r["scores"].items()
    )
    return f"n_clusters=auto: {r['criterion']} chooses k={r['k']} (tried {tried})"


def _brief(result: dict) -> str:
    return json.dumps({k: result.get(k) for k in ("acc", "nmi", "ari", "n_iter", "stop_reason")})


FORMATS = {
    "pretrain_cached": lambda r: f"pretrain: reusing cached autoencoder {r['key']}",
    "pretrain_resumed": lambda r: f"pretrain: resuming at stage {r['stage']}, epoch {r['epoch']}",
    "pretrain_epoch": _pretrain_epoch,
    "k_chosen": _k_chosen,
    "kmeans": lambda r: (
        "K-means on the embedding: " + json.dumps({k: v for k, v in r.items() if k != "event"})
    ),
    "cluster_resumed": lambda r: f"cluster: resuming at iteration {r['iteration']}",
    "cluster_refresh": _cluster_refresh,
    "batched_pretrain_epoch": lambda r: (
        f"batched pretrain {r['stage']} epoch {r['epoch']}/{r['epochs']} loss "
        + " ".join(f"{v:.5f}" for v in r["loss"])
    ),
    "batched_refresh": lambda r: (
        f"batched cluster iter {r['iteration']}/{r['max_iter']}: {r['active']}/{r['runs']} "
        "runs active"
    ),
    "seed_start": lambda r: f"{r['run']} seed {r['seed']}: start",
    "seed_skipped": lambda r: f"seed {r['seed']}: already finished, skipped",
    "seed_diverged": lambda r: (
        f"seed {r['seed']} diverged, recorded as non-finite; the other seeds go on. "
        f"{r['error'].rstrip('.')}. To run it again, delete {r['folder']} (and its export, "
        "in a campaign)"
    ),
    "seed_done": lambda r: (
        f"{r['run'] + ' ' if r.get('run') else ''}seed {r['seed']} done: {_brief(r['result'])}"
    ),
}


def describe(record: dict) -> str:
    """The line shown for ``record`` (JSON for an event without a format of its own)."""
    fmt = FORMATS.get(str(record.get("event")))
    return fmt(record) if fmt else json.dumps(record, default=float)


def _phase(record: dict) -> Optional[tuple]:
    """(phase name, done, total, live values) of a record that advances a phase, else None."""
    ev = record.get("event")
    if ev == "pretrain_epoch":
        live = {
            "loss": record["loss"],
            **({"labels": record["labels"]} if "labels" in record else {}),
        }
        return f"pretrain {record['stage']}", record["epoch"], record["epochs"], live
    if ev == "batched_pretrain_epoch":
        return f"batched pretrain {record['stage']}", record["epoch"], record["epochs"], {}
    if ev == "cluster_refresh":
        live = {k: record[k] for k in ("loss", "delta_label", "acc") if k in record}
        return "cluster", record["iteration"], max(record["max_iter"], 1), live
    if ev == "batched_refresh":
        live = {"active": f"{record['active']}/{record['runs']}"}
        return "batched cluster", record["iteration"], max(record["max_iter"], 1), live
    return None


class Progress:
    """A progress-record callback (``log=`` of ``dssec_jax.fit``; ``DSSEC(verbose=1)``).

    Args:
      write: where a line of text goes (default: print to ``stream``).
      every: the share of a phase between two plain lines (0.05: every 5 %); the first
        and the last record of a phase are always shown (a phase that stops early, as the
        clustering phase does on ``tol``, shows its last record when the next event comes
        or at :meth:`close`).
      bars: tqdm bars instead of lines; default: whether ``stream`` is a terminal.
      stream: the output stream (default sys.stdout).
    """

    def __init__(
        self,
        write: Optional[Callable[[str], None]] = None,
        every: float = 0.05,
        bars: Optional[bool] = None,
        stream: Optional[TextIO] = None,
    ):
        self.stream = stream or sys.stdout
        self.bars = bool(getattr(self.stream, "isatty", lambda: False)()) if bars is None else bars
        self.write = write or (lambda line: print(line, file=self.stream, flush=True))
        if not 0.0 < every <= 1.0:
            raise ValueError(
                f"every is a share of a phase in (0, 1] (0.05: every 5 %), got {every}"
            )
        self.every = every
        self._phase: Optional[str] = None  # the phase of plain lines, its progress and
        self._done = 0  # the share at which its next line is due
        self._next_share = 0.0
        self._held: Optional[str] = None  # the phase's last line not yet shown
        self._bar = None

    def __call__(self, record: dict) -> None:
        phase = _phase(record)
        if phase is None:
            self.close()
            self.write(describe(record))
        elif self.bars:
            self._show_bar(*phase)
        else:
            self._show_line(record, *phase[:3])

    def _show_line(self, record: dict, name: str, done: int, total: int) -> None:
        """The record's line when it reaches the next share of its phase, else held back."""
        if name != self._phase or done <= self._done:  # a new phase, or a new run of one
            self._flush()
            self._phase, self._next_share = name, -1.0
        self._done = done
        share = done / total
        if done < total and share + 1e-9 < self._next_share:
            self._held = describe(record)
            return
        self._next_share = (math.floor(share / self.every + 1e-9) + 1) * self.every
        self._held = None
        self.write(describe(record))

    def _flush(self) -> None:
        if self._held is not None:
            self.write(self._held)
            self._held = None

    def _show_bar(self, name: str, done: int, total: int, live: dict) -> None:
        from tqdm import tqdm

        bar = self._bar
        if bar is None or bar.desc != name or done < bar.n:
            self.close()
            bar = self._bar = tqdm(total=total, desc=name, file=self.stream, dynamic_ncols=True)
        bar.update(done - bar.n)
        text = {k: v if isinstance(v, str) else f"{v:.4g}" for k, v in live.items()}
        bar.set_postfix(text, refresh=True)

    def close(self) -> None:
        """Show the held line and end the current bar (before a line of text, and at the
        end of a run)."""
        self._flush()
        self._phase, self._done = None, 0
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class CsvLog:
    """A progress-record callback that appends one CSV row per pretraining epoch and per
    target refresh to ``path`` (columns: time, event, stage, epoch, iteration and every loss
    part and metric the record holds, in the order first seen), flushed at once, for
    following a long run in a spreadsheet or a plotting tool. Other records are ignored.
    A new header row starts whenever a record brings a column not seen before."""

    EVENTS = ("pretrain_epoch", "cluster_refresh")

    def __init__(self, path):
        self.path = path
        self.columns: list[str] = []

    def __call__(self, record: dict) -> None:
        if record.get("event") not in self.EVENTS:
            return
        row: dict[str, object] = {"time": round(time.time(), 3)}
        row.update(
            (k, v) for k, v in record.items() if isinstance(v, (int, float, str)) or v is None
        )
        new = [k for k in row if k not in self.columns]
        with open(self.path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                self.columns += new
                w.writerow(self.columns)
            w.writerow(["" if row.get(k) is None else row.get(k, "") for k in self.columns])


class TensorBoardLog:
    """A progress-record callback that writes the numbers of every pretraining epoch and
    target refresh as TensorBoard scalars under ``logdir`` (``tensorboard --logdir``):
    "pretrain_<stage>/<part>" at step epoch, "cluster/<part or metric>" at step iteration,
    so a resumed run continues its curves. The drivers' "seed_start" record starts a run
    of its own, ``logdir/<run>/seed_<k>``, so seeds do not share a curve. Needs
    ``tensorboardX`` (the "tensorboard" extra); other records are ignored."""

    COUNTERS = ("epoch", "epochs", "iteration", "max_iter", "elapsed_s", "eta_s", "seconds")

    def __init__(self, logdir):
        try:  # tensorboardX's record writer, used directly: it writes at once, in order
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto import event_pb2, summary_pb2
        except ImportError as e:
            raise ImportError(
                "TensorBoard logging needs tensorboardX: pip install 'dssec_jax[tensorboard]'"
            ) from e
        self._new, self._pb = EventsWriter, (event_pb2, summary_pb2)
        self.logdir, self.writer = str(logdir), None

    def _open(self, logdir: str) -> None:
        self.close()
        os.makedirs(logdir, exist_ok=True)
        self.writer = self._new(os.path.join(logdir, "events"))

    def __call__(self, record: dict) -> None:
        event = record.get("event")
        if event == "seed_start":
            self._open(f"{self.logdir}/{record['run']}/seed_{record['seed']}")
            return
        if event == "pretrain_epoch":
            prefix, step = f"pretrain_{record['stage']}", record["epoch"]
        elif event == "cluster_refresh":
            prefix, step = "cluster", record["iteration"]
        else:
            return
        if self.writer is None:
            self._open(self.logdir)
        event_pb2, summary_pb2 = self._pb
        values = [
            summary_pb2.Summary.Value(tag=f"{prefix}/{k}", simple_value=float(v))
            for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in self.COUNTERS
        ]
        summary = summary_pb2.Summary(value=values)
        self.writer.write_event(
            event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        )
        self.writer.flush()  # a long run's curves are readable while it runs

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

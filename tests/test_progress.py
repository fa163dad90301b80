"""Progress a person watches: a plain line every few percent off a terminal, a bar per
phase (with the live loss and ACC) in one."""

import io

from dssec_jax.progress import Progress, describe


def epoch(e, n=100, **extra):
    return {
        "event": "pretrain_epoch",
        "stage": "finetune",
        "epoch": e,
        "epochs": n,
        "loss": 1.0 / e,
        "reconstruction": 1.0 / e,
        "sparsity": 0.0,
        "elapsed_s": e,
        "eta_s": n - e,
        **extra,
    }


def test_plain_lines_every_five_percent_and_every_other_event():
    lines = []
    show = Progress(write=lines.append, bars=False)
    for e in range(1, 101):
        show(epoch(e))
    show({"event": "seed_skipped", "seed": 3})
    assert [ln.split()[3] for ln in lines[:-1]] == [
        "1/100",
        *[f"{e}/100" for e in range(5, 101, 5)],
    ]
    assert lines[-1] == "seed 3: already finished, skipped"
    short = []
    show = Progress(write=short.append, bars=False)
    for e in range(1, 7):
        show(epoch(e, 6))  # each epoch is more than 5 % of this phase: each is shown
    assert len(short) == 6 and short == [describe(epoch(e, 6)) for e in range(1, 7)]


def refresh(it, max_iter=20000):
    return {
        "event": "cluster_refresh",
        "iteration": it,
        "max_iter": max_iter,
        "delta_label": 0.1,
        "loss": 0.5,
        "n_empty_clusters": 0,
        "elapsed_s": 1.0,
        "eta_s": 9.0,
    }


def test_every_run_of_a_process_shows_its_phases_and_their_last_record():
    lines = []
    show = Progress(write=lines.append, bars=False)
    for run in range(2):  # a second run of the same phase starts counting again
        for e in range(1, 21):
            show(epoch(e, 20))
    assert len(lines) == 40
    lines.clear()
    for it in range(0, 331, 30):  # stops on tol at 330 of 20,000: 1.7 % of the budget
        show(refresh(it))
    assert lines == [describe(refresh(0))]  # the rest held back ...
    show({"event": "seed_skipped", "seed": 0})
    assert lines[1:] == [describe(refresh(330)), "seed 0: already finished, skipped"]
    lines.clear()
    for it in (0, 30, 60):
        show(refresh(it))
    show.close()  # ... and shown at the end of the run
    assert lines == [describe(refresh(0)), describe(refresh(60))]


def test_a_bar_per_phase_with_the_live_values_in_a_terminal():
    out = io.StringIO()
    show = Progress(bars=True, stream=out)
    for e in range(1, 11):
        show(epoch(e, 10))
    show(
        {
            "event": "cluster_refresh",
            "iteration": 30,
            "max_iter": 300,
            "delta_label": 0.1,
            "loss": 0.5,
            "acc": 0.75,
            "n_empty_clusters": 0,
            "elapsed_s": 1.0,
            "eta_s": 9.0,
        }
    )
    show.close()
    text = out.getvalue()
    assert "pretrain finetune" in text and "10/10" in text and "loss=0.1" in text
    assert "cluster" in text and "30/300" in text and "acc=0.75" in text


def test_a_bar_shows_every_phase_a_batched_run_reports():
    """The batched phases in a terminal (a sweep with --batched, restarts on a GPU): their
    bars show the share of runs still active."""
    out = io.StringIO()
    show = Progress(bars=True, stream=out)
    show({"event": "batched_pretrain_epoch", "stage": "finetune", "epoch": 5, "epochs": 10})
    show({"event": "batched_refresh", "iteration": 30, "max_iter": 300, "active": 2, "runs": 4})
    show.close()
    text = out.getvalue()
    assert "batched pretrain finetune" in text and "5/10" in text
    assert "batched cluster" in text and "30/300" in text and "active=2/4" in text


def test_every_must_be_a_share_of_a_phase():
    import pytest

    for every in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"every is a share of a phase in \(0, 1\]"):
            Progress(every=every)


def test_the_csv_log_keeps_every_epoch_and_refresh(tmp_path):
    import csv

    from dssec_jax.progress import CsvLog

    path = tmp_path / "m.csv"
    log = CsvLog(path)
    for e in range(1, 4):
        log(epoch(e, 3))
    log({"event": "seed_skipped", "seed": 1})  # not a metric row
    log({"event": "cluster_refresh", "iteration": 30, "max_iter": 90, "loss": 0.5, "acc": 0.7})
    rows = list(csv.reader(path.open()))
    assert rows[0][:4] == ["time", "event", "stage", "epoch"] and len(rows) == 6
    assert [r[1] for r in rows[1:4]] == ["pretrain_epoch"] * 3 and rows[3][3] == "3"
    head = rows[4]  # the refresh brings new columns: a new header
    assert "iteration" in head and "acc" in head
    assert rows[5][head.index("acc")] == "0.7" and rows[5][head.index("epoch")] == ""


def _scalars(logdir) -> dict:
    """{tag: [(step, value), ...]} of the TensorBoard event files in ``logdir`` (TFRecord
    framing: length u64, its crc u32, the Event, its crc u32)."""
    import struct

    from tensorboardX.proto import event_pb2

    out: dict = {}
    for path in sorted(logdir.iterdir()):
        data = path.read_bytes()
        while data:
            (n,) = struct.unpack("<Q", data[:8])
            event = event_pb2.Event.FromString(data[12 : 12 + n])
            data = data[16 + n :]
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, round(v.simple_value, 6)))
    return out


def test_the_tensorboard_log_keeps_every_epoch_and_refresh_as_scalars(tmp_path):
    from dssec_jax.progress import TensorBoardLog

    log = TensorBoardLog(tmp_path)
    for e in range(1, 4):
        log(epoch(e, 3))
    log({"event": "seed_skipped", "seed": 1})  # not a metric
    log({"event": "cluster_refresh", "iteration": 30, "max_iter": 90, "loss": 0.5, "acc": 0.7})
    tags = _scalars(tmp_path)  # readable while the run goes on: flushed at each record
    assert [s for s, _ in tags["pretrain_finetune/loss"]] == [1, 2, 3]
    assert tags["cluster/acc"] == [(30, 0.7)] and tags["cluster/loss"] == [(30, 0.5)]
    assert not any(t.endswith(("/epoch", "/iteration", "/max_iter", "/eta_s")) for t in tags)
    log.close()


def test_the_tensorboard_log_gives_each_seed_a_run_of_its_own(tmp_path):
    from dssec_jax.progress import TensorBoardLog

    log = TensorBoardLog(tmp_path)
    for seed in (0, 1):
        log({"event": "seed_start", "run": "usps_dssec", "seed": seed})
        log(epoch(1, 3, loss=float(seed)))
    log.close()
    for seed in (0, 1):
        tags = _scalars(tmp_path / "usps_dssec" / f"seed_{seed}")
        assert tags["pretrain_finetune/loss"] == [(1, float(seed))]


def test_a_batched_clustering_phase_shows_a_line_every_five_percent():
    """A batch's refreshes are a phase like a single run's: 667 refreshes of 20,000
    iterations give about 20 lines, not 667."""
    lines = []
    show = Progress(write=lines.append, bars=False)
    for it in range(0, 20001, 30):
        show(
            {"event": "batched_refresh", "iteration": it, "max_iter": 20000, "active": 3, "runs": 3}
        )
    assert 19 <= len(lines) <= 23, len(lines)
    assert lines[-1] == "batched cluster iter 19020/20000: 3/3 runs active"  # past 95 %

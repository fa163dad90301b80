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

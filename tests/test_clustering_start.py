"""The clustering phase's start: the embedding's scale on degenerate embeddings."""

import numpy as np
import pytest
from conftest import TINY_NET

from dssec_jax import Config, fit
from dssec_jax.clustering import embed_scale, kmeans


def test_a_constant_embedding_is_refused_by_every_rule():
    z = np.full((50, 4), 0.3, np.float32)
    centers, labels = np.full((2, 4), 0.3, np.float32), np.zeros(50, np.int32)
    for rule in (1.5, "kernel"):
        with pytest.raises(ValueError, match="embedding is constant"):
            embed_scale(z, rule, centers, labels, 1.0)


def test_kernel_rule_on_duplicated_data_falls_back_to_the_mean_distance():
    rng = np.random.default_rng(0)
    # 70 % of the points are copies of three codes: the median distance to the centre is 0
    codes = rng.normal(size=(3, 5))
    z = np.concatenate([np.repeat(codes, 70, 0), rng.normal(size=(90, 5))])
    centers = codes.astype(np.float32)  # K-means puts a centre on each pile of copies
    labels = np.argmin(((z[:, None] - centers[None]) ** 2).sum(-1), 1)
    s, rule = embed_scale(z, "kernel", centers, labels, 1.0)
    d2 = np.sum((z - centers[labels]) ** 2, 1)
    assert np.median(d2) < 1e-8  # the former rule's floor would give s ~ 1e6
    assert rule == "kernel_mean" and np.isclose(s, np.sqrt(1.0 / d2.mean()), rtol=1e-4)
    assert s < 10
    # on ordinary data the kernel rule itself
    z = rng.normal(size=(300, 5))
    centers, labels = kmeans(z, 3, 2, 0)
    assert embed_scale(z, "kernel", centers, labels, 1.0)[1] == "kernel"


def test_the_scale_and_its_rule_are_on_the_record(digits):
    x, y = digits
    cfg = Config(method="idec", pretrain_epochs=2, max_iter=30, embed_std="kernel", **TINY_NET)
    first = fit(x, cfg, 0, y).history[0]
    assert first["embed_scale_rule"] == "kernel" and 0 < first["embed_scale"] < np.inf


def test_a_collapse_is_detected_on_the_record_and_warned(digits, monkeypatch):
    from dssec_jax import clustering, pipeline

    assert clustering.collapsed(np.array([0, 0, 0, 3]), 5)  # 2 of 5 non-empty
    assert not clustering.collapsed(np.array([0, 0, 0, 1]), 4)  # half is not fewer than half

    x, y = digits
    real = clustering.cluster

    def one_cluster(*a, **kw):  # a clustering phase that ends with every sample in one cluster
        out = real(*a, **kw)
        return {**out, "labels": np.zeros_like(out["labels"])}

    monkeypatch.setattr(clustering, "cluster", one_cluster)
    cfg = Config(method="idec", pretrain_epochs=1, max_iter=10, **TINY_NET)
    with pytest.warns(UserWarning, match="collapsed: 1 of 10"):
        pipeline.fit(x[:300], cfg, 0, y[:300])
    monkeypatch.undo()
    first = fit(x[:300], Config(method="idec", pretrain_epochs=1, max_iter=10, **TINY_NET), 0)
    assert first.history[-1]["collapsed"] is False  # a healthy run says so
    one = clustering.record(0, np.zeros(300, int), 1.0, {}, None, 10, 0.0)
    assert one["collapsed"] is True and one["n_empty_clusters"] == 9
    # the run's summary counts the collapsed seeds from their cluster sizes
    from dssec_jax.cli.runner import summarize

    seeds = [{"seed": 0, "acc": 0.5, "cluster_sizes": [300] + [0] * 9}]
    seeds.append({"seed": 1, "acc": 0.9, "cluster_sizes": [30] * 10})
    assert summarize(seeds)["collapsed"] == 1 and "collapsed" not in summarize(seeds[1:])

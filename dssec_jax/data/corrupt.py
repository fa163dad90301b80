"""Harsh conditions as a seeded data transform: noisy pixels, occlusion, irrelevant inputs.

A corruption is named ``kind:level`` (``"gaussian:0.3"``). With the data's value range
[lo, hi] (its min and max unless given):

- ``gaussian:s``: x + N(0, (s (hi - lo))^2) per entry, clipped back to [lo, hi]; s in (0, 1].
- ``salt_pepper:p``: each entry set to lo or hi (even odds) with probability p; p in (0, 1).
- ``occlusion:a``: per sample, a block of about a of the image's area (its proportions), at a random
  position, set to lo; a in (0, 1); needs the image shape.
- ``noise_features:r``: round(r d) extra inputs of uniform noise in [lo, hi] appended to
  every sample (features that carry nothing); r in (0, 10].

Every transform returns a new float32 array (the caller's is never written) and is the
same for the same seed.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

import numpy as np

from .formats import DataError

KINDS = {  # kind: (lowest level excluded, highest level, highest included)
    "gaussian": (0.0, 1.0, True),
    "salt_pepper": (0.0, 1.0, False),
    "occlusion": (0.0, 1.0, False),
    "noise_features": (0.0, 10.0, True),
}


def parse(spec: str) -> tuple[str, float]:
    """``"kind:level"`` -> (kind, level); ValueError naming the problem and the fix."""
    kind, sep, level = str(spec).partition(":")
    if kind not in KINDS:
        raise ValueError(
            f"unknown corruption {kind!r} in {spec!r}; choose one of {', '.join(KINDS)} as "
            "kind:level, e.g. gaussian:0.3"
        )
    try:
        value = float(level) if sep else None
    except ValueError:
        value = None
    lo, hi, closed = KINDS[kind]
    if value is None or not (lo < value < hi or (closed and value == hi)):
        bound = "]" if closed else ")"
        raise ValueError(
            f"corruption {spec!r}: the level of {kind} must be a number in ({lo:g}, {hi:g}{bound}"
        )
    return kind, value


def corrupt(
    x: np.ndarray,
    spec: str,
    seed: int = 0,
    *,
    image_shape: Optional[tuple] = None,
    value_range: Optional[tuple[float, float]] = None,
) -> np.ndarray:
    """``x`` (n, d) under the corruption ``spec`` (module docstring), drawn from ``seed``.

    Args:
      x: data, (n, d); not modified.
      spec: ``"kind:level"``.
      seed: seed of the noise.
      image_shape: (h, w) or (h, w, c) with h w c = d; needed by occlusion.
      value_range: (lo, hi) of the values; default (min, max) of ``x``.

    Returns:
      The corrupted data, float32, (n, d) or (n, d + round(r d)) for noise_features.
    """
    kind, level = parse(spec)
    x = np.asarray(x, np.float32)
    lo, hi = _value_range(x, value_range)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        noisy = x + rng.normal(0.0, level * (hi - lo), x.shape).astype(np.float32)
        return np.clip(noisy, lo, hi).astype(np.float32)
    if kind == "salt_pepper":
        hit = rng.random(x.shape) < level
        return np.where(hit, np.where(rng.random(x.shape) < 0.5, lo, hi), x).astype(np.float32)
    if kind == "noise_features":
        m = int(round(level * x.shape[1]))
        if m == 0:
            raise ValueError(
                f"corruption {spec!r} appends round({level:g} x {x.shape[1]}) = 0 features; "
                f"pass a level of at least 1/{x.shape[1]} = {1 / x.shape[1]:.4g}"
            )
        extra = rng.uniform(lo, hi, (x.shape[0], m))
        return np.concatenate([x, extra.astype(np.float32)], axis=1)
    return _occlude(x, level, lo, rng, image_shape)


def _value_range(x: np.ndarray, value_range) -> tuple[float, float]:
    """(lo, hi) of ``value_range``, or of the data; ValueError for data the transforms
    cannot take (not (n, d), empty, non-finite, constant) or a range that is not lo < hi or
    does not hold the data."""
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"corrupt takes non-empty data of shape (n, d), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(
            "the data has non-finite values (NaN or inf); remove or impute them before "
            "corrupting, or the noise would spread them"
        )
    if value_range is None:
        lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            raise ValueError(
                f"the data is constant ({lo:g}), so it has no value range to scale the noise "
                "by; pass value_range=(lo, hi)"
            )
        return lo, hi
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be two numbers (lo, hi), got {value_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with lo < hi, got ({lo:g}, {hi:g})")
    if x.min() < lo or x.max() > hi:
        raise ValueError(
            f"the data runs from {float(x.min()):g} to {float(x.max()):g}, outside "
            f"value_range=({lo:g}, {hi:g}) (the clip would change clean values): pass the "
            "data's own range (e.g. (0, 255) for 8-bit pixels) or scale the data first"
        )
    return lo, hi


def _occlude(x, area, lo, rng, image_shape) -> np.ndarray:
    """Each image's block of bh = round(h sqrt(area)) rows by bw = round(area h w / bh)
    columns (about the image's own proportions and the asked-for area; every channel) at
    a random place, set to ``lo``; where bw falls outside 1..w, or on 1 or w of an image
    taller than wide (a narrow image), it is clipped there and bh = round(area h w / bw)
    instead (square and wide images keep the first rule)."""
    shape = tuple(image_shape or ())
    if len(shape) not in (2, 3) or int(np.prod(shape)) != x.shape[1]:
        raise ValueError(
            f"occlusion needs the image shape (h, w) or (h, w, c) with {x.shape[1]} values "
            f"in all, got {image_shape!r}; pass image_shape= (every built-in dataset has "
            "one; your own file has one when it stores x as (n, h, w) or (n, h, w, c))"
        )
    if len(shape) == 3 and shape[2] > 4:
        raise ValueError(
            f"occlusion takes (h, w, c) images with c <= 4 channels last, got {shape!r}; "
            "a channels-first array (n, c, h, w) must be transposed to (n, h, w, c) first"
        )
    h, w = shape[:2]
    bh = min(h, max(1, int(round(h * np.sqrt(area)))))
    bw = int(round(area * h * w / bh))
    if not 1 <= bw <= w or (h > w and bw in (1, w)):  # narrow: rows fitted to the area
        bw = min(w, max(1, bw))
        bh = min(h, max(1, int(round(area * h * w / bw))))
    if bh * bw == h * w:
        raise ValueError(
            f"occlusion:{area:g} hides the whole {h}x{w} image (its block rounds to every "
            "pixel), which leaves nothing to cluster; pass a smaller area"
        )
    top = rng.integers(0, h - bh + 1, x.shape[0])
    left = rng.integers(0, w - bw + 1, x.shape[0])
    rows = (np.arange(h)[None, :] >= top[:, None]) & (np.arange(h)[None, :] < (top + bh)[:, None])
    cols = (np.arange(w)[None, :] >= left[:, None]) & (np.arange(w)[None, :] < (left + bw)[:, None])
    mask = rows[:, :, None] & cols[:, None, :]
    if len(shape) == 3:
        mask = np.broadcast_to(mask[..., None], (x.shape[0], *shape))
    return np.where(mask.reshape(x.shape), np.float32(lo), x).astype(np.float32)


def number_text(v: float) -> str:
    """``v`` written short (0.1, 1) where that reads back as the same number, else in
    full (0.1234561), so two numbers never share a name."""
    short = f"{v:g}"
    return short if float(short) == v else repr(float(v))


def corrupted_name(name: str, spec: str) -> str:
    """The name of dataset ``name`` under ``spec``: ``<name>_<kind><level>`` (``number_text``)."""
    kind, level = parse(spec)
    return f"{name}_{kind}{number_text(level)}"


_NAME = re.compile(rf"^(.+)_({'|'.join(KINDS)})([0-9.e+-]+)$")


def split_name(name: str) -> tuple[str, Optional[str], float]:
    """(clean dataset name, kind, level) of a name made by :func:`corrupted_name`;
    (name, None, 0.0) for a name that carries no corruption (or no valid level)."""
    m = _NAME.match(name)
    if m is None:
        return name, None, 0.0
    try:
        kind, level = parse(f"{m.group(2)}:{m.group(3)}")
    except ValueError:  # a user's name such as "blobs_gaussian2" (no level 2 of gaussian)
        return name, None, 0.0
    return m.group(1), kind, level


def corrupt_dataset(ds, spec: str, seed: int = 0):
    """``ds`` under the corruption ``spec`` (seeded by ``seed``), named ``<name>_<kind><level>``
    (the name does not carry ``seed``: the drivers draw with seed 0, and two draws of one
    spec would share a name); the image shape is dropped when extra features are appended."""
    kind, _ = parse(spec)
    try:
        x = corrupt(ds.x, spec, seed, image_shape=ds.image_shape)
    except ValueError as e:
        raise DataError(f"{ds.name}: {e}") from None
    shape = None if kind == "noise_features" else ds.image_shape
    return dataclasses.replace(ds, x=x, name=corrupted_name(ds.name, spec), image_shape=shape)

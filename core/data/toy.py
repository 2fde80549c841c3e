"""Toy 2-D classification sets (the TensorFlow Playground family), generated with a seed."""

from __future__ import annotations

import math

import numpy as np

TOY_KINDS = ("circles", "xor", "gaussians", "spirals", "moons")


def make_toy(
    kind: str, n: int = 400, noise: float = 0.1, seed: int = 0, n_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """A toy set of ``n`` points in roughly [-1, 1]².

    Returns ``X`` float32 of shape [n, 2] and ``y`` int64 of shape [n] with labels in
    ``range(n_classes)``. ``noise`` is the standard deviation of Gaussian jitter relative
    to the unit square. ``n_classes`` > 2 is honoured by "gaussians" and "spirals"; the
    other kinds are two-class by construction.
    """
    if kind not in TOY_KINDS:
        raise ValueError(f"unknown toy set {kind!r}: choose one of {', '.join(TOY_KINDS)}")
    if not 10 <= n <= 100_000:
        raise ValueError(f"number of points must be between 10 and 100,000, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be between 0 and 1, got {noise}")
    if not 2 <= n_classes <= 6:
        raise ValueError(f"number of classes must be between 2 and 6, got {n_classes}")
    if kind in ("circles", "xor", "moons"):
        n_classes = 2
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    if kind == "circles":
        r = np.where(y == 0, rng.uniform(0.0, 0.45, n), rng.uniform(0.65, 1.0, n))
        t = rng.uniform(0, 2 * math.pi, n)
        X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    elif kind == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        X += np.sign(X) * 0.05  # keep a small gap around the axes
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    elif kind == "gaussians":
        angles = 2 * math.pi * np.arange(n_classes) / n_classes + math.pi / 4
        centres = 0.55 * np.stack([np.cos(angles), np.sin(angles)], 1)
        X = centres[y] + rng.normal(0, 0.18, (n, 2))
    elif kind == "spirals":
        r = rng.uniform(0.05, 1.0, n)
        t = 1.75 * 2 * math.pi * r + 2 * math.pi * y / n_classes
        X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    else:  # moons
        t = rng.uniform(0, math.pi, n)
        upper = np.stack([np.cos(t) - 0.5, np.sin(t) - 0.25], 1)
        lower = np.stack([0.5 - np.cos(t), 0.25 - np.sin(t)], 1)
        X = np.where((y == 0)[:, None], upper, lower) * 0.8
    X = X + rng.normal(0, noise, X.shape)
    return X.astype(np.float32), y.astype(np.int64)

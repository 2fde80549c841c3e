"""Backpropagation by hand in the course's notation (the "watermelon book" network).

A network with d inputs, q hidden units and l outputs, all sigmoid units f, for one example
(x, y) (course: "Artificial Neural Networks / Backpropagation"):

    α_h = Σ_i v_ih x_i              b_h = f(α_h − γ_h)          (hidden layer, h = 1 … q)
    β_j = Σ_h w_hj b_h              ŷ_j = f(β_j − θ_j)          (output layer, j = 1 … l)
    E   = ½ Σ_j (ŷ_j − y_j)²

γ_h and θ_j are *thresholds*: they are subtracted (a bias with the opposite sign). With

    g_j = ŷ_j (1 − ŷ_j)(y_j − ŷ_j)          e_h = b_h (1 − b_h) Σ_j g_j w_hj

the chain rule gives the course's gradients

    ∂E/∂w_hj = −g_j b_h     ∂E/∂θ_j = g_j     ∂E/∂v_ih = −e_h x_i     ∂E/∂γ_h = e_h

and one gradient-descent step with learning rate η is p := p − η ∂E/∂p for every parameter
(Δw_hj = η g_j b_h, Δθ_j = −η g_j, Δv_ih = η e_h x_i, Δγ_h = −η e_h). :func:`autograd_gradients`
computes the same gradients with PyTorch's autograd in float64, as the reference.

Array shapes: x (d,), y (l,), V (d, q) with V[i, h] = v_ih, γ (q,), W (q, l) with W[h, j] = w_hj, θ (l,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.basics.neuron import activation

PARAMS: tuple[str, ...] = ("w", "theta", "v", "gamma")  # the four parameter groups, in the course's order
MAX_UNITS = 8


def _tuple(a: np.ndarray) -> tuple:
    return tuple(map(tuple, a.tolist())) if a.ndim == 2 else tuple(a.tolist())


@dataclass(frozen=True)
class BackpropNet:
    """One example and the network's parameters, as plain tuples (hashable, so cacheable).

    ``x``: d inputs; ``y``: l targets in [0, 1]; ``v``: d rows of q weights v_ih; ``gamma``: q hidden
    thresholds γ_h; ``w``: q rows of l weights w_hj; ``theta``: l output thresholds θ_j.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    v: tuple[tuple[float, ...], ...]
    gamma: tuple[float, ...]
    w: tuple[tuple[float, ...], ...]
    theta: tuple[float, ...]

    def __post_init__(self) -> None:
        d, q, l = len(self.x), len(self.gamma), len(self.theta)  # noqa: E741 - the course's names
        for name, n in (("inputs d", d), ("hidden units q", q), ("outputs l", l)):
            if not 1 <= n <= MAX_UNITS:
                raise ValueError(f"the number of {name} must be between 1 and {MAX_UNITS}, got {n}")
        if len(self.y) != l:
            raise ValueError(f"give one target per output: {l} outputs but {len(self.y)} targets")
        if len(self.v) != d or any(len(row) != q for row in self.v):
            raise ValueError(f"v must have d = {d} rows of q = {q} weights")
        if len(self.w) != q or any(len(row) != l for row in self.w):
            raise ValueError(f"w must have q = {q} rows of l = {l} weights")
        values = [*self.x, *self.y, *self.gamma, *self.theta, *(c for r in self.v for c in r), *(c for r in self.w for c in r)]
        if not all(math.isfinite(float(c)) for c in values):
            raise ValueError("every input, target and parameter must be a finite number")
        if not all(0.0 <= t <= 1.0 for t in self.y):
            raise ValueError("targets must lie in [0, 1]: the outputs are sigmoid units")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(d, q, l)."""
        return len(self.x), len(self.gamma), len(self.theta)

    def arrays(self) -> dict[str, np.ndarray]:
        """float64 arrays: x (d,), y (l,), v (d, q), gamma (q,), w (q, l), theta (l,)."""
        return {k: np.asarray(getattr(self, k), dtype=np.float64) for k in ("x", "y", "v", "gamma", "w", "theta")}

    @classmethod
    def from_arrays(cls, **arrays: np.ndarray) -> BackpropNet:
        """Build from arrays (or nested lists) named like the fields."""
        return cls(**{k: _tuple(np.asarray(arrays[k], dtype=np.float64)) for k in ("x", "y", "v", "gamma", "w", "theta")})


def random_network(d: int = 2, q: int = 3, l: int = 2, seed: int = 0, scale: float = 1.0) -> BackpropNet:  # noqa: E741
    """A random example and parameters: x ~ U(−1, 1), targets y_j ∈ {0, 1} (half of them 1, in random order),
    every weight and threshold ~ N(0, scale²), all rounded to 2 decimals."""
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be a positive number, got {scale}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 − 1, got {seed}")
    rng = np.random.default_rng(seed)
    for name, n in (("d", d), ("q", q), ("l", l)):
        if not 1 <= n <= MAX_UNITS:
            raise ValueError(f"{name} must be between 1 and {MAX_UNITS}, got {n}")
    return BackpropNet.from_arrays(
        x=rng.uniform(-1, 1, d).round(2),
        y=rng.permutation(np.arange(l) % 2).astype(float),  # 0s and 1s, both present when l ≥ 2
        v=(rng.normal(0, scale, (d, q))).round(2),
        gamma=(rng.normal(0, scale, q)).round(2),
        w=(rng.normal(0, scale, (q, l))).round(2),
        theta=(rng.normal(0, scale, l)).round(2),
    )


@dataclass(frozen=True)
class Forward:
    """The forward pass: α (q,), b (q,), β (l,), ŷ (l,) and the error E."""

    alpha: np.ndarray
    b: np.ndarray
    beta: np.ndarray
    y_hat: np.ndarray
    error: float


def forward(net: BackpropNet) -> Forward:
    """α_h = Σ_i v_ih x_i, b_h = f(α_h − γ_h), β_j = Σ_h w_hj b_h, ŷ_j = f(β_j − θ_j), E = ½ Σ_j (ŷ_j − y_j)²."""
    a = net.arrays()
    alpha = a["x"] @ a["v"]  # (q,)
    b = activation("sigmoid", alpha - a["gamma"])  # (q,)
    beta = b @ a["w"]  # (l,)
    y_hat = activation("sigmoid", beta - a["theta"])  # (l,)
    error = 0.5 * float(np.sum((y_hat - a["y"]) ** 2))
    return Forward(alpha, b, beta, y_hat, error)


@dataclass(frozen=True)
class CourseGradients:
    """The course's terms g (l,), e (q,) and the gradients of E for each parameter group
    (``grads[name]`` has the parameter's shape; names as in :data:`PARAMS`)."""

    g: np.ndarray
    e: np.ndarray
    grads: dict[str, np.ndarray]


def course_gradients(net: BackpropNet, fwd: Forward | None = None) -> CourseGradients:
    """g_j = ŷ_j(1 − ŷ_j)(y_j − ŷ_j), e_h = b_h(1 − b_h) Σ_j g_j w_hj and
    ∂E/∂w_hj = −g_j b_h, ∂E/∂θ_j = g_j, ∂E/∂v_ih = −e_h x_i, ∂E/∂γ_h = e_h."""
    fwd = fwd or forward(net)
    a = net.arrays()
    y_hat, b = fwd.y_hat, fwd.b
    g = y_hat * (1.0 - y_hat) * (a["y"] - y_hat)  # (l,)
    e = b * (1.0 - b) * (a["w"] @ g)  # (q,): Σ_j w_hj g_j for each h
    grads = {
        "w": -np.outer(b, g),  # (q, l): −g_j b_h
        "theta": g.copy(),  # (l,)
        "v": -np.outer(a["x"], e),  # (d, q): −e_h x_i
        "gamma": e.copy(),  # (q,)
    }
    return CourseGradients(g, e, grads)


def autograd_gradients(net: BackpropNet) -> dict[str, np.ndarray]:
    """The reference: the same network and E written in torch (float64), gradients by ``backward()``."""
    t = {k: torch.tensor(arr, dtype=torch.float64, requires_grad=k in PARAMS) for k, arr in net.arrays().items()}
    b = torch.sigmoid(t["x"] @ t["v"] - t["gamma"])
    y_hat = torch.sigmoid(b @ t["w"] - t["theta"])
    error = 0.5 * ((y_hat - t["y"]) ** 2).sum()
    error.backward()
    return {k: t[k].grad.numpy().copy() for k in PARAMS}


def update(net: BackpropNet, grads: dict[str, np.ndarray], lr: float) -> BackpropNet:
    """One gradient-descent step: every parameter p := p − η·∂E/∂p (x and y unchanged)."""
    if not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"the learning rate must be a positive number, got {lr}")
    a = net.arrays()
    new = {k: a[k] - lr * grads[k] for k in PARAMS}
    return replace(net, **{k: _tuple(v) for k, v in new.items()})


@dataclass(frozen=True)
class BackpropReport:
    """Everything the page shows for one network: forward pass, the course's terms and gradients,
    autograd's gradients, their largest absolute difference, and one update step."""

    net: BackpropNet
    forward: Forward
    course: CourseGradients
    autograd: dict[str, np.ndarray]
    max_abs_diff: float
    lr: float
    updated: BackpropNet
    forward_after: Forward

    @property
    def error_before(self) -> float:
        return self.forward.error

    @property
    def error_after(self) -> float:
        return self.forward_after.error


def backprop_report(net: BackpropNet, lr: float = 0.5) -> BackpropReport:
    """Forward pass, the course's gradients beside autograd's, and one update with learning rate ``lr``."""
    fwd = forward(net)
    course = course_gradients(net, fwd)
    auto = autograd_gradients(net)
    diff = max(float(np.max(np.abs(course.grads[k] - auto[k]))) for k in PARAMS)
    updated = update(net, course.grads, lr)
    return BackpropReport(net, fwd, course, auto, diff, lr, updated, forward(updated))


def gradient_rows(report: BackpropReport) -> list[dict[str, object]]:
    """One row per parameter (1-based indices, as in the course) with its value, the course's
    formula, its gradient by that formula and by autograd, their difference and the updated value."""
    d, q, l = report.net.shape  # noqa: E741
    a = report.net.arrays()
    upd = report.updated.arrays()
    c, g = report.course.grads, report.autograd
    rows: list[dict[str, object]] = []

    def add(symbol: str, formula: str, key: str, idx: tuple[int, ...]) -> None:
        rows.append({
            "parameter": symbol, "value": float(a[key][idx]), "course formula": formula,
            "∂E/∂p (course)": float(c[key][idx]), "∂E/∂p (autograd)": float(g[key][idx]),
            "|difference|": abs(float(c[key][idx] - g[key][idx])), "after the step": float(upd[key][idx]),
        })

    for h in range(q):
        for j in range(l):
            add(f"w_{h + 1}{j + 1}", f"−g_{j + 1}·b_{h + 1}", "w", (h, j))
    for j in range(l):
        add(f"θ_{j + 1}", f"g_{j + 1}", "theta", (j,))
    for i in range(d):
        for h in range(q):
            add(f"v_{i + 1}{h + 1}", f"−e_{h + 1}·x_{i + 1}", "v", (i, h))
    for h in range(q):
        add(f"γ_{h + 1}", f"e_{h + 1}", "gamma", (h,))
    return rows

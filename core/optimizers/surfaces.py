"""The loss-surface lab: 2-D test functions and optimizer trajectories on them.

A trajectory is the course's update rule (``core.optimizers.rules``) applied to a single
2-element float64 parameter ``θ = (x, y)`` whose ``.grad`` is set from the surface's
analytic gradient (plus optional Gaussian noise that imitates a mini-batch gradient).
The rules stay the single source of truth: this module never re-implements an update.

Speed: positions and gradients are read and written through NumPy views that share the
parameter's and the gradient's storage, and the surfaces are plain polynomials evaluated
on Python floats, so one step costs little more than the rule's own ``step()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.optimizers.rules import BETA, BETA1, BETA2, EPS, OPTIMIZERS, make_optimizer
from core.settings import Settings, setting
from core.training import divergence

__all__ = [
    "DIVERGENCE_BOUND",
    "MAX_STEPS",
    "SURFACES",
    "Surface",
    "Trajectory",
    "TrajectoryConfig",
    "run_trajectories",
    "summary_table",
]

MAX_STEPS = 2_000
LR_OPTIONS = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 0.1, 0.2, 0.3, 0.5, 1.0)  # the page offers
NOISE_OPTIONS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
DIVERGENCE_BOUND = 1e6  # the method's explosion bound (core.training.divergence): a coordinate beyond ±1e6 counts as diverged

# f and grad are written with + − × and integer powers only, so one function serves
# Python floats (the fast trajectory loop), NumPy arrays (contour grids) and torch
# tensors (autograd checks in the tests).
Scalar = Any  # float | np.ndarray | torch.Tensor, element-wise
SurfaceFn = Callable[[Scalar, Scalar], Scalar]
GradFn = Callable[[Scalar, Scalar], tuple[Scalar, Scalar]]


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface f(x, y) with its analytic gradient and plotting hints.

    Attributes:
        name: display name (the key in ``SURFACES``).
        f: f(x, y), element-wise on floats, NumPy arrays or torch tensors.
        grad: (∂f/∂x, ∂f/∂y), element-wise like ``f``.
        x_range, y_range: (low, high) of the plotted window.
        start: default starting point (x0, y0).
        minima: the known global minima, each (x, y); empty when f is unbounded below.
        f_min: the minimum value of f; ``-inf`` when f is unbounded below.
        log_levels: draw contour levels of log10(f − f_min) (deep, curved valleys).
        suggested_lr: a learning rate at which gradient descent makes visible progress.
        description: one sentence for the page.
    """

    name: str
    f: SurfaceFn
    grad: GradFn
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    f_min: float
    log_levels: bool = False
    suggested_lr: float = 1e-2
    description: str = ""

    @property
    def has_finite_minimum(self) -> bool:
        """Whether "converged" (loss − f_min < tol) means anything on this surface."""
        return math.isfinite(self.f_min)


# --- the surfaces -------------------------------------------------------------------------

_RAVINE_CURVATURE = 25.0  # condition number of the Hessian diag(1, 25)


def _ravine(x: Scalar, y: Scalar) -> Scalar:
    return 0.5 * (x**2 + _RAVINE_CURVATURE * y**2)


def _ravine_grad(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar]:
    return 1.0 * x, _RAVINE_CURVATURE * y


def _rosenbrock(x: Scalar, y: Scalar) -> Scalar:
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar]:
    r = y - x**2
    return -2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r


def _saddle(x: Scalar, y: Scalar) -> Scalar:
    return x**2 - y**2


def _saddle_grad(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar]:
    return 2.0 * x, -2.0 * y


def _beale(x: Scalar, y: Scalar) -> Scalar:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar]:
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    gx = 2.0 * (a * (y - 1.0) + b * (y**2 - 1.0) + c * (y**3 - 1.0))
    gy = 2.0 * x * (a + 2.0 * b * y + 3.0 * c * y**2)
    return gx, gy


def _himmelblau(x: Scalar, y: Scalar) -> Scalar:
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def _himmelblau_grad(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar]:
    a = x**2 + y - 11.0
    b = x + y**2 - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


# name, f and its gradient, the plotted window (x, then y), the default start, the minima, the minimum value,
# log-spaced contour levels, a learning rate at which gradient descent makes visible progress, one sentence.
SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface("Ravine", _ravine, _ravine_grad, (-10.0, 10.0), (-4.0, 4.0), (-9.0, 3.0), ((0.0, 0.0),), 0.0,
                False, 0.07, "f = ½(x² + 25y²): a long narrow valley, 25× steeper across than along, "
                "where gradient descent zig-zags and momentum smooths the path."),
        Surface("Rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.0), ((1.0, 1.0),),
                0.0, True, 1e-3, "f = (1 − x)² + 100(y − x²)²: a curved, almost flat banana-shaped valley; "
                "finding it is easy, following it to (1, 1) is hard."),
        Surface("Saddle", _saddle, _saddle_grad, (-2.0, 2.0), (-2.0, 2.0), (-1.8, 0.02), (), -math.inf, False, 0.05,
                "f = x² − y²: a saddle point at (0, 0) with no minimum; an optimizer slows "
                "down near the saddle before it escapes downhill along y."),
        Surface("Beale", _beale, _beale_grad, (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),), 0.0, True, 1e-2,
                "Beale's function: flat plateaus and steep walls, minimum f = 0 at (3, 0.5)."),
        Surface("Himmelblau", _himmelblau, _himmelblau_grad, (-5.0, 5.0), (-5.0, 5.0), (-0.3, -0.9),
                ((3.0, 2.0), (-2.805118086952745, 3.131312518250573), (-3.779310253377747, -3.2831859912861696),
                 (3.5844283403304917, -1.8481265269644034)),
                0.0, True, 1e-2, "Himmelblau's function: four equally deep minima; starting near the central "
                "hill, different optimizers can end in different minima."),
    )
}


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrajectoryConfig(Settings):
    """What to run on the loss-surface lab.

    Attributes:
        surface: a key of ``SURFACES``.
        optimizers: keys of ``OPTIMIZERS``, in display order (a list is accepted).
        lr: learning rate α > 0, shared by all optimizers.
        beta: β of Momentum and RMSprop.
        beta1, beta2: Adam's β1 and β2.
        eps: ε of Adagrad, RMSprop and Adam.
        steps: number of updates, 1 … 2,000.
        start: starting point (x0, y0); ``None`` = the surface's default start.
        noise: standard deviation of Gaussian noise added to each gradient coordinate,
            imitating a mini-batch (stochastic) gradient; 0 = exact gradient.
        seed: seed of the noise; every optimizer sees the same noise sequence.
        tol: "converged" once loss − f_min < tol.
    """

    surface: str = setting(choices=SURFACES, label="Surface")
    optimizers: tuple[str, ...] = setting(choices=OPTIMIZERS, count=(1, 10**6), label="Optimizers")
    lr: float = setting(lo=0.0, above=True, widget="select_slider", label="Learning rate α")  # offers LR_OPTIONS
    beta: float = setting(0.9, **BETA)
    beta1: float = setting(0.9, **BETA1)
    beta2: float = setting(0.999, **BETA2)
    eps: float = setting(1e-8, **EPS)
    steps: int = setting(300, lo=1, hi=MAX_STEPS, widget="slider", label="Steps")
    start: tuple[float, float] | None = None  # "Start x", "Start y": the page bounds them by the surface's window
    noise: float = setting(0.0, lo=0.0, hi=10.0, widget="select_slider", label="Gradient noise σ",
                           help="0 is batch gradient descent (the exact gradient). Larger noise imitates smaller "
                                "mini-batches, down to stochastic gradient descent with one example per step.")
    seed: int = 0
    tol: float = setting(1e-4, lo=0.0, above=True, label="Convergence tolerance", name="tol")

    def check(self) -> None:
        optimizers = (self.optimizers,) if isinstance(self.optimizers, str) else tuple(self.optimizers)
        object.__setattr__(self, "optimizers", optimizers)
        if len(set(optimizers)) != len(optimizers):
            raise ValueError("Each optimizer can be chosen once.")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int | np.integer):
            raise ValueError(f"steps must be a whole number, got {self.steps!r}.")
        if self.start is not None:
            if len(self.start) != 2:
                raise ValueError(f"start must be a point (x, y), got {self.start!r}.")
            x0, y0 = (float(v) for v in self.start)
            if not all(math.isfinite(v) and abs(v) <= DIVERGENCE_BOUND for v in (x0, y0)):
                raise ValueError(f"start must be finite and within ±{DIVERGENCE_BOUND:g}, got {self.start!r}.")
            object.__setattr__(self, "start", (x0, y0))


# --- running ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One optimizer's path on a surface.

    Attributes:
        optimizer: the optimizer's display name.
        surface: the surface's name (a key of ``SURFACES``).
        xs, ys, losses: float64 arrays of shape (n,) — position and loss after each step,
            index 0 being the start. n = steps + 1, or ``diverged_at`` when it diverged
            (only finite, in-bound points are kept).
        diverged_at: first step whose position or loss was non-finite or had |x| or |y|
            beyond ``DIVERGENCE_BOUND``; ``None`` if it never diverged.
        steps_to_converge: first step k with losses[k] − f_min < tol; ``None`` if never,
            and always ``None`` on a surface without a finite minimum (Saddle), where
            "converged" has no meaning.
        final_loss: losses[-1]; when it diverged, where the loss was heading at the
            diverged point: ``inf`` (blew up), ``-inf`` (ran downhill forever, as on the
            Saddle) or ``nan`` (the position became NaN).
    """

    optimizer: str
    surface: str
    xs: np.ndarray
    ys: np.ndarray
    losses: np.ndarray
    diverged_at: int | None
    steps_to_converge: int | None
    final_loss: float
    final_point: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "final_point", (float(self.xs[-1]), float(self.ys[-1])))


def _loss_direction(f: SurfaceFn, x: float, y: float, last_loss: float) -> float:
    """Where the loss went at a diverged point: +inf (blew up), −inf (ran downhill
    forever, as on the Saddle) or nan (the position itself became NaN)."""
    with np.errstate(all="ignore"):
        loss = float(f(np.float64(x), np.float64(y)))
    if math.isnan(loss):
        return math.nan
    return math.inf if loss >= last_loss else -math.inf


def _run_one(
    name: str,
    surface: Surface,
    cfg: TrajectoryConfig,
    start: tuple[float, float],
    noise: list[list[float]] | None,
) -> Trajectory:
    """Run optimizer ``name`` for ``cfg.steps`` steps from ``start`` on ``surface``."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)  # (2,) = (x, y)
    theta.grad = torch.zeros_like(theta)
    optimizer = make_optimizer(
        name, [theta], cfg.lr, beta=cfg.beta, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps
    )
    position = theta.detach().numpy()  # (2,) view of θ's storage, updated in place by step()
    gradient = theta.grad.numpy()  # (2,) view of θ.grad's storage

    steps = cfg.steps
    xs = np.empty(steps + 1)
    ys = np.empty(steps + 1)
    losses = np.empty(steps + 1)
    f, grad = surface.f, surface.grad
    x, y = start
    xs[0], ys[0], losses[0] = x, y, f(x, y)
    bound = DIVERGENCE_BOUND
    diverged_at: int | None = None
    n = steps + 1
    for k in range(1, steps + 1):
        gx, gy = grad(x, y)
        if noise is not None:
            nx, ny = noise[k - 1]
            gx, gy = gx + nx, gy + ny
        gradient[0] = gx
        gradient[1] = gy
        optimizer.step()
        x, y = position.tolist()
        # the lab's one divergence rule: the position has the surface's declared bound, the loss none
        if divergence({"x": x, "y": y}, bound) is not None:
            diverged_at, n = k, k
            break
        loss = f(x, y)
        if divergence({"loss": loss}) is not None:
            diverged_at, n = k, k
            break
        xs[k], ys[k], losses[k] = x, y, loss

    xs, ys, losses = xs[:n], ys[:n], losses[:n]
    steps_to_converge: int | None = None
    if surface.has_finite_minimum:
        hits = np.flatnonzero(losses - surface.f_min < cfg.tol)
        steps_to_converge = int(hits[0]) if hits.size else None
    final_loss = float(losses[-1])
    if diverged_at is not None:
        final_loss = _loss_direction(f, x, y, final_loss)
    return Trajectory(
        optimizer=name,
        surface=surface.name,
        xs=xs,
        ys=ys,
        losses=losses,
        diverged_at=diverged_at,
        steps_to_converge=steps_to_converge,
        final_loss=final_loss,
    )


def run_trajectories(cfg: TrajectoryConfig) -> dict[str, Trajectory]:
    """Run every optimizer of ``cfg`` on its surface; keys in ``cfg.optimizers`` order.

    All optimizers start from the same point and, when ``cfg.noise > 0``, see the same
    seeded noise sequence (noise of shape (steps, 2), standard deviation ``cfg.noise``),
    so differences between paths come from the update rules alone.
    """
    surface = SURFACES[cfg.surface]
    start = cfg.start if cfg.start is not None else surface.start
    noise: list[list[float]] | None = None
    if cfg.noise > 0:
        rng = np.random.default_rng(cfg.seed)
        noise = (rng.standard_normal((cfg.steps, 2)) * cfg.noise).tolist()
    return {name: _run_one(name, surface, cfg, start, noise) for name in cfg.optimizers}


def _nearest_minimum_distance(surface: Surface, point: tuple[float, float]) -> float | None:
    if not surface.minima:
        return None
    x, y = point
    return min(math.hypot(x - mx, y - my) for mx, my in surface.minima)


def summary_table(trajectories: dict[str, Trajectory]) -> list[dict[str, Any]]:
    """One row per optimizer, for a results table.

    Columns: ``optimizer``, ``final loss`` (±inf/nan if diverged, see ``Trajectory``),
    ``steps to converge``
    (int or "—"), ``diverged at`` (int or "—"), ``distance to nearest minimum`` (Euclidean
    distance from the last point to the closest known minimum; ``inf`` if diverged, "—"
    when the surface has no minimum).
    """
    rows: list[dict[str, Any]] = []
    for name, traj in trajectories.items():
        distance = _nearest_minimum_distance(SURFACES[traj.surface], traj.final_point)
        if distance is not None and traj.diverged_at is not None:
            distance = math.inf
        rows.append(
            {
                "optimizer": name,
                "final loss": traj.final_loss,
                "steps to converge": (
                    traj.steps_to_converge if traj.steps_to_converge is not None else "—"
                ),
                "diverged at": traj.diverged_at if traj.diverged_at is not None else "—",
                "distance to nearest minimum": distance if distance is not None else "—",
            }
        )
    return rows

"""The loss-surface lab: analytic gradients vs autograd, trajectories vs hand-written
NumPy loops, divergence and noise handling, config validation and the two figures."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from core.optimizers.rules import OPTIMIZERS
from core.optimizers.surfaces import (
    SURFACES,
    Surface,
    Trajectory,
    TrajectoryConfig,
    run_trajectories,
    summary_table,
)
from core.plots.surfaces import loss_curves, surface_contour

ALL_OPTIMIZERS = tuple(OPTIMIZERS)


# --- surfaces ------------------------------------------------------------------------------


def test_registry_has_the_course_surfaces() -> None:
    assert {"Ravine", "Rosenbrock", "Saddle", "Beale", "Himmelblau"} <= set(SURFACES)
    assert len(SURFACES["Himmelblau"].minima) == 4
    assert SURFACES["Saddle"].f_min == -math.inf and not SURFACES["Saddle"].minima
    for name, s in SURFACES.items():
        assert s.name == name
        assert s.x_range[0] < s.start[0] < s.x_range[1]
        assert s.y_range[0] < s.start[1] < s.y_range[1]


@pytest.mark.parametrize("name", list(SURFACES))
def test_analytic_gradient_matches_autograd(name: str) -> None:
    s = SURFACES[name]
    gen = torch.Generator().manual_seed(0)
    lo = torch.tensor([s.x_range[0], s.y_range[0]], dtype=torch.float64)
    hi = torch.tensor([s.x_range[1], s.y_range[1]], dtype=torch.float64)
    pts = lo + (hi - lo) * torch.rand(200, 2, generator=gen, dtype=torch.float64)
    pts.requires_grad_()
    x, y = pts[:, 0], pts[:, 1]
    s.f(x, y).sum().backward()  # (200,) independent points: autograd gives each gradient
    gx, gy = s.grad(x.detach(), y.detach())
    torch.testing.assert_close(torch.stack([gx, gy], dim=1), pts.grad, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("name", list(SURFACES))
def test_functions_agree_on_floats_numpy_and_torch(name: str) -> None:
    s = SURFACES[name]
    x, y = 0.37, -1.21
    as_float = s.f(x, y)
    as_numpy = s.f(np.array([x]), np.array([y]))[0]
    as_torch = s.f(torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64))
    assert as_float == pytest.approx(as_numpy, rel=1e-14) == pytest.approx(as_torch.item())
    gx, gy = s.grad(x, y)
    assert isinstance(gx, float) and isinstance(gy, float)


@pytest.mark.parametrize("name", [n for n, s in SURFACES.items() if s.minima])
def test_known_minima_are_minima(name: str) -> None:
    s = SURFACES[name]
    for mx, my in s.minima:
        assert s.f(mx, my) == pytest.approx(s.f_min, abs=1e-12)
        gx, gy = s.grad(mx, my)
        assert math.hypot(gx, gy) < 1e-10
    # Nothing on a fine grid of the plotted window goes below f_min.
    xs = np.linspace(*s.x_range, 301)
    ys = np.linspace(*s.y_range, 301)
    gx, gy = np.meshgrid(xs, ys)
    assert s.f(gx, gy).min() >= s.f_min - 1e-12


def test_ravine_is_ill_conditioned() -> None:
    """Hessian diag(1, 25): GD steps along y are 25× bigger than along x."""
    s = SURFACES["Ravine"]
    gx, gy = s.grad(1.0, 1.0)
    assert gy / gx >= 20


def test_surface_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SURFACES["Ravine"].f_min = 1.0  # type: ignore[misc]


# --- trajectories --------------------------------------------------------------------------


def test_gradient_descent_on_ravine_matches_numpy_loop_and_converges() -> None:
    lr, start = 0.07, (-9.0, 3.0)
    cfg = TrajectoryConfig("Ravine", ("Gradient descent",), lr=lr, steps=400, start=start)
    traj = run_trajectories(cfg)["Gradient descent"]
    # Hand-written loop: θ := θ − α·∇f with ∇f = (x, 25y).
    theta = np.array(start)
    expected = [theta.copy()]
    for _ in range(10):
        theta = theta - lr * np.array([theta[0], 25.0 * theta[1]])
        expected.append(theta.copy())
    expected = np.array(expected)
    np.testing.assert_allclose(traj.xs[:11], expected[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(traj.ys[:11], expected[:, 1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(traj.losses[:11], 0.5 * (expected[:, 0] ** 2 + 25 * expected[:, 1] ** 2), rtol=1e-12)
    # It zig-zags across the valley (y changes sign every step: 1 − 0.07·25 < 0) ...
    assert np.all(np.sign(traj.ys[1:11]) == -np.sign(traj.ys[:10]))
    # ... and converges to (0, 0).
    assert traj.diverged_at is None
    assert abs(traj.xs[-1]) < 1e-6 and abs(traj.ys[-1]) < 1e-6
    assert traj.steps_to_converge is not None
    k = traj.steps_to_converge
    assert traj.losses[k] < cfg.tol <= traj.losses[k - 1]
    assert traj.xs.shape == traj.ys.shape == traj.losses.shape == (cfg.steps + 1,)
    assert traj.final_loss == traj.losses[-1]


def test_momentum_trajectory_uses_the_course_rule() -> None:
    lr, beta, start = 1e-3, 0.8, (1.5, -0.5)
    cfg = TrajectoryConfig("Rosenbrock", ("Momentum",), lr=lr, beta=beta, steps=10, start=start)
    traj = run_trajectories(cfg)["Momentum"]
    theta, v = np.array(start), np.zeros(2)
    rosenbrock = SURFACES["Rosenbrock"]
    for k in range(1, 11):
        g = np.array(rosenbrock.grad(*theta))
        v = beta * v + (1 - beta) * g
        theta = theta - lr * v
        assert (traj.xs[k], traj.ys[k]) == pytest.approx(tuple(theta), rel=1e-12, abs=1e-15)


def test_all_optimizers_run_and_keep_order() -> None:
    cfg = TrajectoryConfig("Himmelblau", ALL_OPTIMIZERS[::-1], lr=0.01, steps=300)
    trajs = run_trajectories(cfg)
    assert list(trajs) == list(ALL_OPTIMIZERS[::-1])
    for name, t in trajs.items():
        assert isinstance(t, Trajectory) and t.optimizer == name and t.surface == "Himmelblau"
        assert t.xs[0] == SURFACES["Himmelblau"].start[0]
        assert t.xs.dtype == np.float64


def test_huge_learning_rate_diverges_and_is_truncated() -> None:
    cfg = TrajectoryConfig("Ravine", ("Gradient descent", "Adam"), lr=5.0, steps=500)
    trajs = run_trajectories(cfg)
    gd = trajs["Gradient descent"]
    assert gd.diverged_at is not None and 1 <= gd.diverged_at < 50
    assert gd.xs.size == gd.ys.size == gd.losses.size == gd.diverged_at
    assert np.all(np.isfinite(gd.losses)) and np.all(np.abs(gd.ys) <= 1e6)
    assert gd.final_loss == math.inf and gd.steps_to_converge is None
    row = summary_table({"Gradient descent": gd})[0]
    assert row["diverged at"] == gd.diverged_at
    assert row["distance to nearest minimum"] == math.inf
    # Adam's step is bounded by ~lr per coordinate, so the same lr does not blow it up.
    assert trajs["Adam"].diverged_at is None


def test_saddle_escape_counts_as_running_downhill() -> None:
    cfg = TrajectoryConfig("Saddle", ("Gradient descent",), lr=0.1, steps=2000)
    traj = run_trajectories(cfg)["Gradient descent"]
    assert traj.diverged_at is not None
    assert traj.final_loss == -math.inf
    assert traj.steps_to_converge is None  # no finite minimum: convergence not applicable
    row = summary_table({"Gradient descent": traj})[0]
    assert row["steps to converge"] == "—" and row["distance to nearest minimum"] == "—"


def test_saddle_start_on_the_ridge_stalls_at_the_saddle_point() -> None:
    cfg = TrajectoryConfig("Saddle", ("Gradient descent",), lr=0.1, steps=200, start=(1.5, 0.0))
    traj = run_trajectories(cfg)["Gradient descent"]
    assert traj.diverged_at is None and traj.steps_to_converge is None
    assert abs(traj.xs[-1]) < 1e-12 and traj.ys[-1] == 0.0


def test_noise_is_reproducible_and_changes_the_path() -> None:
    base = {"surface": "Beale", "optimizers": ("Gradient descent", "Adam"), "lr": 0.01}
    clean = run_trajectories(TrajectoryConfig(**base, steps=100))
    noisy_a = run_trajectories(TrajectoryConfig(**base, steps=100, noise=0.5, seed=1))
    noisy_b = run_trajectories(TrajectoryConfig(**base, steps=100, noise=0.5, seed=1))
    noisy_c = run_trajectories(TrajectoryConfig(**base, steps=100, noise=0.5, seed=2))
    for name in base["optimizers"]:
        np.testing.assert_array_equal(noisy_a[name].xs, noisy_b[name].xs)
        np.testing.assert_array_equal(noisy_a[name].ys, noisy_b[name].ys)
        assert not np.allclose(noisy_a[name].xs, clean[name].xs)
        assert not np.allclose(noisy_a[name].xs, noisy_c[name].xs)
        assert noisy_a[name].xs[0] == clean[name].xs[0]


def test_noise_is_added_to_the_gradient() -> None:
    """GD's first step with noise is −α(∇f + σ·z₀) with z₀ from default_rng(seed)."""
    cfg = TrajectoryConfig("Ravine", ("Gradient descent",), lr=0.01, steps=3, noise=2.0, seed=4)
    traj = run_trajectories(cfg)["Gradient descent"]
    z = np.random.default_rng(4).standard_normal((3, 2)) * 2.0
    x0, y0 = SURFACES["Ravine"].start
    assert traj.xs[1] == pytest.approx(x0 - 0.01 * (x0 + z[0, 0]), rel=1e-13)
    assert traj.ys[1] == pytest.approx(y0 - 0.01 * (25 * y0 + z[0, 1]), rel=1e-13)


def test_summary_table_rows() -> None:
    cfg = TrajectoryConfig("Himmelblau", ALL_OPTIMIZERS, lr=0.01, steps=1000)
    trajs = run_trajectories(cfg)
    rows = summary_table(trajs)
    assert [r["optimizer"] for r in rows] == list(ALL_OPTIMIZERS)
    keys = {
        "optimizer",
        "final loss",
        "steps to converge",
        "diverged at",
        "distance to nearest minimum",
    }
    for row in rows:
        assert set(row) == keys
        t = trajs[row["optimizer"]]
        assert row["final loss"] == t.final_loss
        assert row["diverged at"] == "—"
        if t.steps_to_converge is None:
            assert row["steps to converge"] == "—"
        else:
            assert row["steps to converge"] == t.steps_to_converge
            assert row["distance to nearest minimum"] < 0.05
    gd = next(r for r in rows if r["optimizer"] == "Gradient descent")
    assert isinstance(gd["steps to converge"], int)


def test_start_none_uses_surface_default_and_custom_start_is_used() -> None:
    default = run_trajectories(TrajectoryConfig("Beale", ("Adam",), lr=0.01, steps=5))["Adam"]
    assert (default.xs[0], default.ys[0]) == SURFACES["Beale"].start
    custom = run_trajectories(TrajectoryConfig("Beale", ("Adam",), lr=0.01, steps=5, start=(2, -1)))["Adam"]
    assert (custom.xs[0], custom.ys[0]) == (2.0, -1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"surface": "Everest"},
        {"optimizers": ("Lion",)},
        {"optimizers": ()},
        {"optimizers": ("Adam", "Adam")},
        {"steps": 0},
        {"steps": 2_001},
        {"steps": 10.5},
        {"lr": 0.0},
        {"lr": -0.1},
        {"lr": math.nan},
        {"beta": 1.0},
        {"beta1": -0.1},
        {"beta2": 1.2},
        {"eps": -1e-8},
        {"noise": -1.0},
        {"tol": 0.0},
        {"start": (math.inf, 0.0)},
        {"start": (1.0, 2.0, 3.0)},
    ],
)
def test_bad_configs_raise_value_error(kwargs: dict) -> None:
    args = {"surface": "Ravine", "optimizers": ("Adam",), "lr": 0.1} | kwargs
    with pytest.raises(ValueError):
        TrajectoryConfig(**args)


def test_config_accepts_a_list_of_optimizers_and_stays_hashable() -> None:
    cfg = TrajectoryConfig("Ravine", ["Adam", "Momentum"], lr=0.1)  # type: ignore[arg-type]
    assert cfg.optimizers == ("Adam", "Momentum")
    assert hash(cfg) == hash(TrajectoryConfig("Ravine", ("Adam", "Momentum"), lr=0.1))
    assert dataclasses.asdict(cfg)["steps"] == 300


# --- figures -------------------------------------------------------------------------------


def _optimizer_traces(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.meta: t for t in fig.data if isinstance(t, go.Scatter) and t.meta in OPTIMIZERS}


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_contour_has_contour_and_one_trace_per_optimizer(name: str) -> None:
    trajs = run_trajectories(TrajectoryConfig(name, ALL_OPTIMIZERS, lr=0.01, steps=50))
    fig = surface_contour(SURFACES[name], trajs)
    contours = [t for t in fig.data if isinstance(t, go.Contour)]
    assert len(contours) == 1
    assert np.all(np.isfinite(np.asarray(contours[0].z)))
    traces = _optimizer_traces(fig)
    assert list(traces) == list(ALL_OPTIMIZERS)
    for opt, trace in traces.items():
        np.testing.assert_array_equal(trace.x, trajs[opt].xs)
        np.testing.assert_array_equal(trace.y, trajs[opt].ys)
    assert len({t.line.color for t in traces.values()}) == len(traces)
    names = [t.name for t in fig.data]
    assert "start" in names
    assert ("minima" in names) == bool(SURFACES[name].minima)
    assert fig.layout.height == 520


def test_surface_contour_upto_step_truncates_paths() -> None:
    trajs = run_trajectories(TrajectoryConfig("Ravine", ALL_OPTIMIZERS, lr=0.05, steps=100))
    fig = surface_contour("Ravine", trajs, upto_step=10)
    for opt, trace in _optimizer_traces(fig).items():
        assert len(trace.x) == len(trace.y) == 11
        np.testing.assert_array_equal(trace.x, trajs[opt].xs[:11])
    zero = _optimizer_traces(surface_contour("Ravine", trajs, upto_step=0))
    assert all(len(t.x) == 1 for t in zero.values())
    with pytest.raises(ValueError):
        surface_contour("Ravine", trajs, upto_step=-1)


def test_surface_contour_log_levels_and_unknown_surface() -> None:
    trajs = run_trajectories(TrajectoryConfig("Rosenbrock", ("Adam",), lr=0.01, steps=20))
    z = np.asarray(next(t for t in surface_contour("Rosenbrock", trajs).data if isinstance(t, go.Contour)).z)
    assert z.max() < 5  # log10 of a loss that reaches ~2,500 in this window
    with pytest.raises(ValueError):
        surface_contour("Everest", trajs)


def test_surface_contour_draws_a_diverged_path() -> None:
    trajs = run_trajectories(TrajectoryConfig("Ravine", ("Gradient descent",), lr=5.0, steps=50))
    trace = _optimizer_traces(surface_contour("Ravine", trajs))["Gradient descent"]
    assert "diverged" in trace.name
    assert np.all(np.isfinite(trace.x))


def test_loss_curves_one_trace_per_optimizer_and_log_axis() -> None:
    trajs = run_trajectories(TrajectoryConfig("Beale", ALL_OPTIMIZERS, lr=0.01, steps=80))
    fig = loss_curves(trajs)
    assert [t.name for t in fig.data] == list(ALL_OPTIMIZERS)
    for trace in fig.data:
        np.testing.assert_array_equal(trace.y, trajs[trace.name].losses)
    assert fig.layout.yaxis.type == "log"
    saddle = run_trajectories(TrajectoryConfig("Saddle", ("Adam",), lr=0.05, steps=80))
    assert loss_curves(saddle).layout.yaxis.type == "linear"


def test_surface_dataclass_fields() -> None:
    fields = {f.name for f in dataclasses.fields(Surface)}
    assert {"name", "f", "grad", "x_range", "y_range", "start", "minima", "f_min"} <= fields

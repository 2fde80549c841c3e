"""Plotly figures for the loss-surface lab (pure functions: data in, ``go.Figure`` out)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.colors import OPTIMIZER_COLORS
from core.optimizers.surfaces import SURFACES, Surface, Trajectory

__all__ = ["OPTIMIZER_COLORS", "loss_curves", "surface_contour"]

_FALLBACK_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
# Pale cool scale: low loss white, high loss mid-blue, so coloured paths stay visible.
_CONTOUR_COLORSCALE = [
    [0.0, "#ffffff"],
    [0.25, "#e0f3f8"],
    [0.5, "#abd9e9"],
    [0.75, "#74add1"],
    [1.0, "#4575b4"],
]

GRID_POINTS = 220  # contour resolution per axis
FIGURE_HEIGHT = 520


def _color(name: str, index: int) -> str:
    return OPTIMIZER_COLORS.get(name, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


def _as_surface(surface: Surface | str) -> Surface:
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"Unknown surface {surface!r}; choose one of {', '.join(SURFACES)}.")
    return SURFACES[surface]


def _grid(surface: Surface, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate f on an n × n grid: returns xs (n,), ys (n,), z (n, n) indexed [y, x]."""
    xs = np.linspace(*surface.x_range, n)
    ys = np.linspace(*surface.y_range, n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n) each, rows = y
    return xs, ys, surface.f(gx, gy)


def _points(x: list, y: list, name: str, symbol: str, size: int, color: str, rim: float, hover: str) -> go.Scatter:
    """Marked points with a dark rim (the start, the minima)."""
    return go.Scatter(x=x, y=y, mode="markers", name=name, hovertemplate=f"{hover}<extra></extra>",
                      marker={"symbol": symbol, "size": size, "color": color, "line": {"width": rim, "color": "#111"}})


def surface_contour(
    surface: Surface | str,
    trajectories: dict[str, Trajectory],
    upto_step: int | None = None,
) -> go.Figure:
    """Contour map of ``surface`` with every optimizer's path drawn on top.

    Traces: one ``go.Contour`` (levels of log10(1 + f − f_min) on surfaces with
    ``log_levels``, of f otherwise), then one line-with-markers trace per optimizer (named
    after it, points 0 … ``upto_step``), then "start" and, when known, "minima" (stars).

    Args:
        surface: a ``Surface`` or a key of ``SURFACES``.
        trajectories: optimizer name -> ``Trajectory`` (as returned by ``run_trajectories``).
        upto_step: draw each path only up to this step (for a step slider); ``None`` = all.
    """
    surface = _as_surface(surface)
    if upto_step is not None and upto_step < 0:
        raise ValueError(f"upto_step must be ≥ 0, got {upto_step}.")
    xs, ys, z = _grid(surface, GRID_POINTS)
    if surface.log_levels:
        z_shown = np.log10(1.0 + z - surface.f_min)  # 0 at the minimum
        colorbar_title = "log₁₀(1 + loss)"
    else:
        z_shown = z
        colorbar_title = "loss"

    fig = go.Figure()
    fig.add_trace(
        go.Contour(
            x=xs,
            y=ys,
            z=z_shown,
            name=surface.name,
            colorscale=_CONTOUR_COLORSCALE,
            ncontours=30,
            contours={"coloring": "heatmap", "showlines": True},
            line={"width": 0.6, "color": "rgba(8,48,107,0.35)"},
            colorbar={"title": {"text": colorbar_title, "side": "right"}, "thickness": 14},
            hovertemplate="x=%{x:.3f}<br>y=%{y:.3f}<br>" + colorbar_title + "=%{z:.3g}"
            "<extra></extra>",
            showlegend=False,
        )
    )

    end = None if upto_step is None else upto_step + 1
    for index, (name, traj) in enumerate(trajectories.items()):
        px, py, loss = traj.xs[:end], traj.ys[:end], traj.losses[:end]
        color = _color(name, index)
        label = name if traj.diverged_at is None else f"{name} (diverged at {traj.diverged_at})"
        fig.add_trace(
            go.Scatter(
                x=px,
                y=py,
                mode="lines+markers",
                name=label,
                meta=name,
                line={"color": color, "width": 2.2},
                marker={"size": 4, "color": color, "line": {"width": 0.5, "color": "#fff"}},
                customdata=np.column_stack([np.arange(px.size), loss]),
                hovertemplate=f"<b>{name}</b><br>step %{{customdata[0]}}<br>"
                "x=%{x:.4f}<br>y=%{y:.4f}<br>loss=%{customdata[1]:.4g}<extra></extra>",
            )
        )

    if trajectories:
        first = next(iter(trajectories.values()))
        fig.add_trace(_points([first.xs[0]], [first.ys[0]], "start", "diamond", 13, "#fff", 2, "start (%{x:.3f}, %{y:.3f})"))
    if surface.minima:
        mx, my = zip(*surface.minima, strict=True)
        fig.add_trace(_points(list(mx), list(my), "minima", "star", 17, "#ffd400", 1, "minimum (%{x:.4f}, %{y:.4f})"))

    x_span = surface.x_range[1] - surface.x_range[0]
    y_span = surface.y_range[1] - surface.y_range[0]
    yaxis: dict[str, object] = {
        "title": {"text": "y"},
        "range": list(surface.y_range),
        "constrain": "domain",
    }
    if 1 / 3 <= x_span / y_span <= 3:  # equal aspect unless the window is very elongated
        yaxis.update(scaleanchor="x", scaleratio=1)
    fig.update_layout(
        height=FIGURE_HEIGHT,
        title={"text": surface.name},
        xaxis={"title": {"text": "x"}, "range": list(surface.x_range), "constrain": "domain"},
        yaxis=yaxis,
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        margin={"l": 50, "r": 20, "t": 45, "b": 40},
        template="plotly_white",
    )
    return fig


def loss_curves(trajectories: dict[str, Trajectory]) -> go.Figure:
    """Loss against step, one line per optimizer.

    The y axis is logarithmic when every plotted loss is positive (it is linear on the
    Saddle, whose loss goes negative, or when a loss reaches exactly 0).
    """
    fig = go.Figure()
    all_positive = True
    for index, (name, traj) in enumerate(trajectories.items()):
        losses = traj.losses
        finite = losses[np.isfinite(losses)]
        if finite.size and finite.min() <= 0:
            all_positive = False
        fig.add_trace(
            go.Scatter(
                x=np.arange(losses.size),
                y=losses,
                mode="lines",
                name=name,
                meta=name,
                line={"color": _color(name, index), "width": 2},
                hovertemplate=f"<b>{name}</b><br>step %{{x}}<br>loss=%{{y:.4g}}<extra></extra>",
            )
        )
    use_log = all_positive and bool(trajectories)
    max_steps = max((t.losses.size - 1 for t in trajectories.values()), default=0)
    fig.update_layout(
        height=360,
        xaxis={"title": {"text": "step"}, "range": [0, max(max_steps, 1)]},
        yaxis={"title": {"text": "loss"}, "type": "log" if use_log else "linear"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 60, "r": 20, "t": 40, "b": 45},
        template="plotly_white",
    )
    return fig

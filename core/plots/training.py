"""Figures for trainings: live loss curves of several lanes, per-epoch metrics, results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.plots.surfaces import OPTIMIZER_COLORS
from core.runs import smooth

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#B279A2", "#72B7B2", "#EECA3B", "#9D755D")
MAX_POINTS = 1500


def color_for(name: str, i: int) -> str:
    return OPTIMIZER_COLORS.get(name, PALETTE[i % len(PALETTE)])


def _thin(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``n`` evenly spaced points (always the last one)."""
    if len(x) <= n:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, n).round().astype(int))
    return x[idx], y[idx]


def lane_curves(
    series: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    x: str = "step",
    y: str = "loss",
    smoothing: float = 0.0,
    log_y: bool = False,
    title: str = "Training loss per step",
) -> go.Figure:
    """One line per lane (e.g. per optimizer) of ``y`` against ``x``; rows are dicts.

    With ``smoothing`` > 0 the raw curve is drawn faint under the smoothed one.
    Non-finite values are dropped (a diverged lane simply ends).
    """
    fig = go.Figure()
    for i, (name, rows) in enumerate(series.items()):
        xs = np.array([r[x] for r in rows if y in r], dtype=float)
        ys = np.array([r[y] for r in rows if y in r], dtype=float)
        keep = np.isfinite(ys)
        xs, ys = xs[keep], ys[keep]
        if len(xs) == 0:
            continue
        color = color_for(name, i)
        if smoothing > 0 and len(ys) > 2:
            tx, ty = _thin(xs, ys)
            fig.add_scatter(x=tx, y=ty, mode="lines", line=dict(color=color, width=1), opacity=0.25,
                            showlegend=False, hoverinfo="skip", legendgroup=name)
            ys = smooth(ys, smoothing)
        tx, ty = _thin(xs, ys)
        fig.add_scatter(x=tx, y=ty, mode="lines", name=name, line=dict(color=color, width=2.2), legendgroup=name,
                        hovertemplate=f"{name}<br>{x} %{{x}}<br>{y} %{{y:.4g}}<extra></extra>")
    fig.update_layout(
        template="plotly_white", title=title, height=380, margin=dict(l=10, r=10, t=50, b=10),
        xaxis_title=x, yaxis_title=y.replace("_", " "), legend=dict(orientation="h", y=-0.2),
    )
    if log_y:
        fig.update_yaxes(type="log")
    if x == "epoch":
        fig.update_xaxes(tickformat="d", dtick=1 if max((len(r) for r in series.values()), default=0) <= 20 else None)
    return fig


def epoch_bars(values: Mapping[str, float | None], *, title: str, fmt: str = ".1%") -> go.Figure:
    """A horizontal bar per lane (e.g. final dev accuracy per optimizer), best on top."""
    items = [(k, v) for k, v in values.items() if v is not None and np.isfinite(v)]
    items.sort(key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
        marker_color=[color_for(k, i) for i, (k, _) in enumerate(items)],
        text=[format(v, fmt) for _, v in items], textposition="auto",
    ))
    fig.update_layout(template="plotly_white", title=title, height=80 + 40 * max(len(items), 1),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig

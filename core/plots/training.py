"""Figures for trainings: live curves of several lanes, final results per lane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.colors import OPTIMIZER_COLORS, PALETTE
from core.plots.curves import curves


def color_for(name: str, i: int) -> str:
    return OPTIMIZER_COLORS.get(name, PALETTE[i % len(PALETTE)])


def lane_curves(
    series: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    x: str = "step",
    y: str = "loss",
    smoothing: float = 0.0,
    log_y: bool = False,
    title: str = "Training loss per step",
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Live job rows (dicts) per lane, e.g. per optimizer: ``y`` against ``x``, one line each
    (``colors`` fixes a lane's colour, so that it matches the page's other charts)."""
    xy = {name: ([r[x] for r in rows if y in r], [r[y] for r in rows if y in r]) for name, rows in series.items()}
    fig = curves(xy, xlabel=x, ylabel=y.replace("_", " "), title=title, log_y=log_y, smoothing=smoothing,
                 colors={name: (colors or {}).get(name) or color_for(name, i) for i, name in enumerate(series)})
    fig.update_layout(height=380, legend=dict(orientation="h", y=-0.2))
    return fig


def epoch_bars(values: Mapping[str, float | None], *, title: str, fmt: str = ".1%",
               colors: Mapping[str, str] | None = None) -> go.Figure:
    """A horizontal bar per lane (e.g. final dev accuracy per optimizer), best on top (``colors`` fixes a
    lane's colour, as in :func:`lane_curves`)."""
    items = [(k, v) for k, v in values.items() if v is not None and np.isfinite(v)]
    items.sort(key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
        marker_color=[(colors or {}).get(k) or color_for(k, i) for i, (k, _) in enumerate(items)],
        text=[format(v, fmt) for _, v in items], textposition="auto",
    ))
    fig.update_layout(template="plotly_white", title=title, height=80 + 40 * max(len(items), 1),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig

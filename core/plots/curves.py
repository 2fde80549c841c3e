"""The one line-chart builder for curves of several runs or lanes (loss per step, metric
per epoch): sorted by x, non-finite points dropped, long series thinned for the browser,
optional TensorBoard-style smoothing drawn over the faint raw line, optional log scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE
from core.runs import smooth

MAX_POINTS = 1500


def thin(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n`` evenly spaced points of (x, y), the first and last always kept."""
    if len(x) <= n:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, n).round().astype(int))
    return x[idx], y[idx]


def curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str = "",
    log_y: bool = False,
    smoothing: float = 0.0,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per ``name -> (x, y)``; returns the figure and draws nothing for empty series.

    With ``smoothing`` in (0, 1) the raw line (``"<name> (raw)"``, faint, no legend entry)
    is drawn under the smoothed one in the same colour; the smoothing runs over all points
    before thinning. With ``log_y`` non-positive values are dropped.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    fig = go.Figure()
    x_max = 0.0
    for i, (name, (x, y)) in enumerate(series.items()):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        keep = np.isfinite(y) & ((y > 0) if log_y else True)
        x, y = x[keep], y[keep]
        if len(x) == 0:
            continue
        x_max = max(x_max, float(x[-1]))
        color = (colors or {}).get(name) or PALETTE[i % len(PALETTE)]
        mode = "lines+markers" if len(x) == 1 else "lines"
        hover = f"<b>{name}</b><br>{xlabel} %{{x}}<br>{ylabel} %{{y:.4g}}<extra></extra>"
        if smoothing > 0:
            tx, ty = thin(x, y)
            fig.add_scatter(x=tx, y=ty, mode=mode, name=f"{name} (raw)", legendgroup=name, showlegend=False,
                            opacity=0.25, line=dict(color=color, width=1), hovertemplate=hover.replace("</b>", " (raw)</b>"))
            y = smooth(y, smoothing)
        tx, ty = thin(x, y)
        fig.add_scatter(x=tx, y=ty, mode=mode, name=name, legendgroup=name, line=dict(color=color, width=2.2),
                        hovertemplate=hover)
    fig.update_layout(
        template="plotly_white", title=title, height=400, margin=dict(l=60, r=20, t=60, b=50),
        xaxis_title=xlabel, yaxis_title=ylabel + (" (log scale)" if log_y else ""), hovermode="closest",
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    if xlabel == "epoch":  # whole epochs only; one tick each while they fit
        fig.update_xaxes(tickformat="d", dtick=1 if x_max <= 20 else None)
    return fig

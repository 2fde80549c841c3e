"""The learning-rate finder's chart: loss against learning rate on a log axis, the suggestion marked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE
from core.lr_finder import view_range

TITLE = "Loss against learning rate"


def lr_finder_figure(lrs: Sequence[float], losses: Sequence[float], smoothed: Sequence[float], *,
                     steep: float | None = None, minimum: float | None = None, title: str = TITLE) -> go.Figure:
    """The sweep so far: raw loss (faint) and smoothed loss against the rate (log x); with a suggestion,
    a red marker at ``steep`` (steepest descent) and a grey one at ``minimum`` (minimum-loss rate / 10),
    each on the sweep's point nearest to it."""
    x, raw, sm = (np.asarray(v, dtype=float) for v in (lrs, losses, smoothed))
    n = min(len(x), len(raw), len(sm))
    x, raw, sm = x[:n], raw[:n], sm[:n]
    color = PALETTE[0]
    fig = go.Figure()
    fig.add_scatter(x=x, y=raw, mode="lines", name="loss", line=dict(color=color, width=1), opacity=0.3,
                    hovertemplate="rate %{x:.3g}<br>loss %{y:.4g}<extra></extra>")
    fig.add_scatter(x=x, y=sm, mode="lines", name="smoothed loss", line=dict(color=color, width=2.5),
                    hovertemplate="rate %{x:.3g}<br>smoothed loss %{y:.4g}<extra></extra>")
    for rate, label, colour, symbol in ((minimum, "min-loss rate / 10", "#7f7f7f", "diamond"),
                                        (steep, "suggested", "#d62728", "circle")):
        if rate is None or not n:
            continue
        i = int(np.argmin(np.abs(np.log(x) - np.log(rate))))  # the sweep's point nearest to the rate
        fig.add_scatter(x=[x[i]], y=[sm[i]], mode="markers+text", name=f"{label} {rate:.2g}", text=[f"  {rate:.2g}"],
                        marker=dict(color=colour, size=13, symbol=symbol), textposition="middle right",
                        hovertemplate=f"{label} %{{x:.3g}}<extra></extra>")
    fig.update_xaxes(type="log", dtick=1, exponentformat="power", title="learning rate (log scale)")
    fig.update_yaxes(title="loss")
    ylim = view_range(raw, sm)
    if ylim is not None:
        fig.update_yaxes(range=list(ylim))
    fig.update_layout(template="plotly_white", title=title, height=380, legend=dict(orientation="h", y=-0.25),
                      margin=dict(t=50, b=10))
    return fig

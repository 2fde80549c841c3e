"""A ghost trace: an earlier run's curve drawn faded and dotted under a live chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE
from core.plots.curves import thin
from core.runs import smooth

GHOST_OPACITY = 0.35
GHOST_PREFIX = "ghost: "


def add_ghost(fig: go.Figure, name: str, x: Sequence[float], y: Sequence[float], *, color: str | None = None,
              smoothing: float = 0.0, log_y: bool = False, index: int = 0, path: bool = False) -> go.Figure:
    """Add ``y`` against ``x`` to ``fig`` as a ghost: dotted, opacity :data:`GHOST_OPACITY`, legend
    ``"ghost: <name>"``, drawn under the live traces; sorted by x (unless ``path``: a trajectory in the plane
    keeps its order, over any contour), non-finite points (and with ``log_y`` non-positive ones) dropped,
    smoothed like the live curve when ``smoothing`` is in (0, 1), thinned for the browser. ``color`` defaults
    to grey for the first ghost (``index`` 0), then the palette. Returns ``fig``."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if not path:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    x, y = x[keep], y[keep]
    if len(x) == 0:
        return fig
    if smoothing > 0:
        y = smooth(y, smoothing)
    x, y = thin(x, y)
    color = color or ("#6b6b6b" if index == 0 else PALETTE[index % len(PALETTE)])
    label = GHOST_PREFIX + name
    fig.add_scatter(x=x, y=y, mode="lines+markers" if len(x) == 1 else "lines", name=label, legendgroup=label,
                    opacity=GHOST_OPACITY, line=dict(color=color, width=2, dash="dot"),
                    hovertemplate=f"<b>{label}</b><br>%{{x}}<br>%{{y:.4g}}<extra></extra>")
    under = next((i for i, t in enumerate(fig.data) if t.type == "scatter"), len(fig.data) - 1)  # over a contour
    fig.data = (*fig.data[:under], fig.data[-1], *fig.data[under:-1])  # under the live lines
    return fig


def ghost_traces(fig: go.Figure) -> list[go.Scatter]:
    """The ghost traces of a figure (those named ``"ghost: …"``)."""
    return [t for t in fig.data if (t.name or "").startswith(GHOST_PREFIX)]

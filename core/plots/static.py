"""Static PNG figures for tracked runs (MLflow's UI and the Runs page show PNGs anywhere,
offline too). Drawn with Matplotlib's Agg backend; returns an RGB array."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def curves_png(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "loss",
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Lines ``name -> (x, y)`` on one set of axes; returns an [H, W, 3] uint8 image.

    Non-finite points are dropped; ``log_y`` is ignored when a value is not positive.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=110)
    canvas = FigureCanvasAgg(fig)  # an off-screen canvas of its own: no global backend switch
    ax = fig.add_subplot()
    positive = True
    for name, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.isfinite(y)
        positive &= bool(np.all(y[keep] > 0))
        ax.plot(x[keep], y[keep], label=name, lw=1.6, color=(colors or {}).get(name))
    if log_y and positive:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(series) > 1:
        ax.legend(frameon=False)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()

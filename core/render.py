"""The renderer of the pictures a run logs: every PNG a tracked run keeps (MLflow's UI and the Runs
page show PNGs anywhere, offline too) is drawn here, and nowhere else in the engine. A run is handed
this module (``TrackedRun.renderer``) and the engine asks it for a picture through the run
(``run.log_curves``, ``run.log_confusion``, ``run.log_tiles``), so training code never draws.

Figures use Matplotlib's Agg backend on a canvas of their own and return an RGB array; colours come
from :mod:`core.colors`. :func:`tile` is the lab's one image tiler and :func:`confusion` its one
confusion-matrix picture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def png_bytes(image: np.ndarray) -> bytes:
    """An [H, W] or [H, W, 3] uint8 array as PNG file bytes (for downloads and inline images)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def curves_png(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "loss",
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
) -> np.ndarray:
    """Lines ``name -> (x, y)`` on one set of axes; returns an [H, W, 3] uint8 image.

    Non-finite points are dropped; with ``log_y`` non-positive points are dropped too.
    With ``smoothing`` in (0, 1) each line is drawn faint and its debiased EMA on top.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from core.runs import smooth

    fig = Figure(figsize=(7, 3.6), dpi=110)
    canvas = FigureCanvasAgg(fig)  # an off-screen canvas of its own: no global backend switch
    ax = fig.add_subplot()
    for name, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.isfinite(y) & ((y > 0) if log_y else True)
        x, y = x[keep], y[keep]
        color = (colors or {}).get(name)
        if smoothing > 0 and len(y) > 2:
            (raw,) = ax.plot(x, y, lw=0.8, alpha=0.25, color=color)
            ax.plot(x, smooth(y, smoothing), lw=1.8, label=name, color=raw.get_color())
        else:
            ax.plot(x, y, lw=1.6, label=name, color=color)
    if log_y:
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


def confusion_png(counts: np.ndarray, classes: Sequence[str], *, title: str = "Confusion matrix (dev set)") -> np.ndarray:
    """A [K, K] count matrix (rows = true class, columns = predicted) as an annotated
    heatmap; returns an [H, W, 3] uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(counts)
    k = len(classes)
    side = 3.2 + 0.45 * k
    fig = Figure(figsize=(side, side), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    top = counts.max() or 1
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if counts[i, j] > top / 2 else "black")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 10 or max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set(title=title, xlabel="predicted", ylabel="true")
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def image_grid(images: np.ndarray, cols: int = 8, pad: int = 2, *, background: float = 1.0,
               border: bool = True) -> np.ndarray:
    """[n, H, W(, 3)] images in [0, 1] → one tiled picture (row by row, at most ``cols`` a row) with
    ``pad`` pixels of ``background`` between the tiles, and around them with ``border``."""
    images = np.asarray(images, np.float32)
    n = len(images)
    if n == 0:
        return np.zeros((1, 1), np.float32)
    if cols < 1:
        raise ValueError("a grid needs at least one column")
    h, w = images.shape[1:3]
    rows, edge = -(-n // cols), (pad if border else 0)
    shape = (rows * (h + pad) - pad + 2 * edge, min(n, cols) * (w + pad) - pad + 2 * edge) + images.shape[3:]
    grid = np.full(shape, background, np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        y, x = edge + r * (h + pad), edge + c * (w + pad)
        grid[y: y + h, x: x + w] = img
    return grid

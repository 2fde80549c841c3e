"""Figures of the convolution explorer: the (padded) input with the filter's window on it, the
kernel as a matrix of numbers, the feature map (diverging colours centred at 0 when it has both
signs), the window × kernel = products view for one output position, and a PNG of a map."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.artifacts import png_bytes
from core.cnn.conv import Window, pad

MAX_SIDE = 320  # larger maps are thinned for display only (every k-th row and column)
NUMBERS_UP_TO = 12  # maps at most this many cells on a side get their values written in the cells
DIVERGING = "RdBu_r"  # negative blue, zero white, positive red
CHANNELS = ("red", "green", "blue")
CHANNEL_SCALES = {
    "red": [[0, "#000000"], [1, "#ff2020"]],
    "green": [[0, "#000000"], [1, "#20c020"]],
    "blue": [[0, "#000000"], [1, "#2060ff"]],
}
WINDOW_COLOR = "#FFB000"


def _fmt(v: float) -> str:
    """A short label for a cell: integers as integers, else 2 decimals (the hover shows more)."""
    if not np.isfinite(v):
        return str(v)
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.4g}"


def thin_step(shape: tuple[int, ...], max_side: int = MAX_SIDE) -> int:
    """Every how many rows and columns a map of ``shape`` ([..., H, W]) is shown (1: all)."""
    return max(1, math.ceil(max(shape[-2:]) / max_side))


def _axes(fig: go.Figure, **kw) -> None:
    """Pixels as squares, row 0 at the top, no tick clutter."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain", **kw)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                     constrain="domain", **kw)


def _square_cells(fig: go.Figure, shapes: list[tuple[int, int]]) -> None:
    """Subplot k (in order) shows a matrix of ``shapes[k]``: exact ranges, square cells, row 0 on top."""
    for k, (h, w) in enumerate(shapes):
        suffix = str(k + 1) if k else ""
        fig.layout[f"xaxis{suffix}"].update(range=[-0.5, w - 0.5])
        fig.layout[f"yaxis{suffix}"].update(range=[h - 0.5, -0.5], autorange=False, scaleanchor=f"x{suffix}")


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, font_size=14), height=height, margin=dict(l=10, r=10, t=40, b=10),
                      plot_bgcolor="white")
    return fig


def _rect(fig: go.Figure, top: float, left: float, h: float, w: float, *, color: str, dash: str = "solid",
          width: float = 2.5, row: int | None = None, col: int | None = None) -> None:
    kw = dict(row=row, col=col) if row is not None else {}
    fig.add_shape(type="rect", x0=left - 0.5, x1=left + w - 0.5, y0=top - 0.5, y1=top + h - 0.5,
                  line=dict(color=color, width=width, dash=dash), **kw)


def _heatmap(z: np.ndarray, *, step: int = 1, colorscale="gray", zmin=None, zmax=None, zmid=None,
             numbers: bool = False, showscale: bool = False, name: str = "value", font_size: int = 12) -> go.Heatmap:
    shown = z[::step, ::step]
    off = (step - 1) / 2  # a thinned cell stands for step×step pixels: centre it on them
    ys, xs = np.arange(0, z.shape[0], step) + off, np.arange(0, z.shape[1], step) + off
    kw = {}
    if numbers:
        kw = dict(text=[[_fmt(v) for v in row] for row in shown], texttemplate="%{text}", textfont=dict(size=font_size))
    return go.Heatmap(z=shown, x=xs, y=ys, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid,
                      showscale=showscale, xgap=1 if numbers else 0, ygap=1 if numbers else 0,
                      hovertemplate=f"row %{{y}}, column %{{x}}<br>{name} %{{z:.4g}}<extra></extra>",
                      colorbar=dict(thickness=12, len=0.8) if showscale else None, **kw)


def _value_scale(z: np.ndarray) -> dict:
    """Diverging colours centred at 0 for a map with both signs (symmetric limits), grey otherwise."""
    lo, hi = float(np.min(z)), float(np.max(z))
    if lo < 0 < hi or (lo < 0 and hi <= 0):
        m = max(abs(lo), abs(hi)) or 1.0
        return dict(colorscale=DIVERGING, zmin=-m, zmax=m)
    return dict(colorscale="gray", zmin=lo, zmax=hi if hi > lo else lo + 1.0)


def image_figure(image: np.ndarray, *, title: str = "Input", padding: int = 0,
                 box: tuple[int, int, int, int] | None = None, height: int = 330) -> go.Figure:
    """The input, zero-padded by ``padding`` (the original area outlined with a dashed line),
    with the filter's window ``box`` = (top, left, height, width) in padded coordinates drawn on it.

    ``image``: [H, W] grey in [0, 1] or [3, H, W] RGB in [0, 1]. Large images are thinned for display.
    """
    image = np.asarray(image, dtype=float)
    padded = pad(image, padding)
    step = thin_step(padded.shape)
    h, w = padded.shape[-2:]
    fig = go.Figure()
    if padded.ndim == 3:
        rgb = np.clip(np.moveaxis(padded, 0, -1) * 255, 0, 255).round().astype(np.uint8)[::step, ::step]
        fig.add_trace(go.Image(z=rgb, dx=step, dy=step, x0=(step - 1) / 2, y0=(step - 1) / 2,
                               hovertemplate="row %{y}, column %{x}<br>RGB %{z}<extra></extra>"))
    else:
        small = max(h, w) <= NUMBERS_UP_TO
        fig.add_trace(_heatmap(padded, step=step, zmin=0.0, zmax=1.0, numbers=small, name="pixel",
                               font_size=10 if max(h, w) > 6 else 12))
    if padding:
        _rect(fig, padding, padding, h - 2 * padding, w - 2 * padding, color="#4C78A8", dash="dash", width=1.5)
    if box is not None:
        _rect(fig, *box, color=WINDOW_COLOR)
    _axes(fig)
    fig.update_xaxes(range=[-0.5, w - 0.5])
    fig.update_yaxes(range=[h - 0.5, -0.5], autorange=False, scaleanchor="x")
    return _layout(fig, title, height)


def feature_map_figure(fmap: np.ndarray, *, title: str = "Feature map", cell: tuple[int, int] | None = None,
                       height: int = 330, colorbar: bool = True, scale_from: np.ndarray | None = None) -> go.Figure:
    """A feature map [H, W]: diverging colours centred at 0 when it has both signs, grey when not;
    values written in the cells for small maps; output position ``cell`` = (i, j) outlined.
    ``scale_from``: take the colour scale from this map instead (a pooled map drawn like its source)."""
    fmap = np.asarray(fmap, dtype=float)
    if fmap.ndim != 2:
        raise ValueError(f"a feature map is 2-D [H, W], got shape {list(fmap.shape)}")
    step = thin_step(fmap.shape)
    small = max(fmap.shape) <= NUMBERS_UP_TO
    fig = go.Figure(_heatmap(fmap, step=step, numbers=small, showscale=colorbar, font_size=10 if max(fmap.shape) > 6 else 12,
                             **_value_scale(fmap if scale_from is None else np.asarray(scale_from, dtype=float))))
    if cell is not None:
        _rect(fig, cell[0], cell[1], 1, 1, color=WINDOW_COLOR, width=3)
    _axes(fig)
    fig.update_xaxes(range=[-0.5, fmap.shape[1] - 0.5])
    fig.update_yaxes(range=[fmap.shape[0] - 0.5, -0.5], autorange=False, scaleanchor="x")
    return _layout(fig, title, height)


def kernel_figure(kernel: np.ndarray, *, title: str = "Kernel", height: int = 330) -> go.Figure:
    """The kernel as a matrix with its numbers in the cells ([f, f]), or one matrix per colour
    channel side by side ([3, f, f]); diverging colours centred at 0, shared by all channels."""
    kernel = np.asarray(kernel, dtype=float)
    mats = [kernel] if kernel.ndim == 2 else list(kernel)
    m = float(np.abs(kernel).max()) or 1.0
    titles = [""] if kernel.ndim == 2 else [CHANNELS[c] if len(mats) == 3 else f"channel {c}" for c in range(len(mats))]
    fig = make_subplots(rows=len(mats), cols=1, subplot_titles=titles, vertical_spacing=0.08)
    for c, mat in enumerate(mats):
        fig.add_trace(_heatmap(mat, colorscale=DIVERGING, zmin=-m, zmax=m, numbers=True, name="weight",
                               font_size=12 if len(mats) == 1 else 10), row=c + 1, col=1)
    _axes(fig)
    _square_cells(fig, [mat.shape for mat in mats])
    return _layout(fig, title, height)


def window_figure(win: Window, *, height: int | None = None) -> go.Figure:
    """One output position: the input patch under the filter, the kernel, and their element-wise
    products (one row per channel for a filter spanning channels); the title gives the sum."""
    patches = [win.patch] if win.patch.ndim == 2 else list(win.patch)
    kernels = [win.kernel] if win.kernel.ndim == 2 else list(win.kernel)
    prods = [win.products] if win.products.ndim == 2 else list(win.products)
    rows = len(patches)
    names = [""] if rows == 1 else [CHANNELS[c] if rows == 3 else f"channel {c}" for c in range(rows)]
    titles = []
    for c in range(rows):
        sub = f" ({names[c]})" if names[c] else ""
        titles += [f"input patch{sub}", f"× kernel{sub}", f"= products{sub}, Σ {_fmt(float(prods[c].sum()))}"]
    fig = make_subplots(rows=rows, cols=3, subplot_titles=titles, horizontal_spacing=0.05, vertical_spacing=0.08)
    km = float(np.abs(win.kernel).max()) or 1.0
    pm = float(np.abs(win.products).max()) or 1.0
    for c in range(rows):
        scale = CHANNEL_SCALES.get(names[c], "gray")
        fig.add_trace(_heatmap(patches[c], colorscale=scale, zmin=0.0, zmax=1.0, numbers=True, name="pixel"),
                      row=c + 1, col=1)
        fig.add_trace(_heatmap(kernels[c], colorscale=DIVERGING, zmin=-km, zmax=km, numbers=True, name="weight"),
                      row=c + 1, col=2)
        fig.add_trace(_heatmap(prods[c], colorscale=DIVERGING, zmin=-pm, zmax=pm, numbers=True, name="product"),
                      row=c + 1, col=3)
    _axes(fig)
    _square_cells(fig, [p.shape for p in patches for _ in range(3)])
    bias = f" + b ({win.bias:g}) = {win.value:.4f}" if win.bias else ""
    title = f"Output ({win.i}, {win.j}): Σ of all products = {win.total:.4f}{bias}"
    _layout(fig, title, height or (110 + 230 * rows))
    fig.update_layout(margin=dict(t=80), title=dict(y=0.98, yanchor="top"))
    return fig


def map_png(fmap: np.ndarray, *, min_side: int = 0) -> bytes:
    """A feature map as PNG bytes, one pixel per value (enlarged by whole pixels up to ``min_side``
    on the short side if asked): grey from min to max, or blue–white–red centred at 0 when signed."""
    from matplotlib import colormaps

    fmap = np.asarray(fmap, dtype=float)
    scale = _value_scale(fmap)
    lo, hi = scale["zmin"], scale["zmax"]
    norm = np.clip((fmap - lo) / (hi - lo), 0.0, 1.0)
    cmap = colormaps["RdBu_r" if scale["colorscale"] == DIVERGING else "gray"]
    rgb = (cmap(norm)[..., :3] * 255).round().astype(np.uint8)
    k = max(1, math.ceil(min_side / max(1, min(fmap.shape)))) if min_side else 1
    if k > 1:
        rgb = rgb.repeat(k, axis=0).repeat(k, axis=1)
    return png_bytes(rgb)

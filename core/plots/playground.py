"""Figures for the playground: decision map with the points (and a ghost boundary), a map per neuron with
clickable connections, loss curves."""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.artifacts import decision_image, png_bytes
from core.basics.playground import Frame, value_probs
from core.colors import CLASS_RGB
from core.plots.curves import curves


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def decision_map(
    frame: Frame,
    points: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    show_test: bool = True,
    discretize: bool = False,
    classes: list[str] | None = None,
    height: int = 460,
    ghost: dict | None = None,
) -> go.Figure:
    """The plane coloured by the network's prediction, the training points (white rim) and,
    optionally, the test points (dark rim) on top. A regression's map and points are coloured by
    value (orange −1, white 0, blue +1). ``ghost``: an earlier run's logged decision grid (see
    :meth:`core.basics.playground.Playground.grid_summary`), drawn as its boundary, faded and dotted."""
    Xtr, ytr, Xte, yte = points
    regression = frame.task == "regression"
    probs = value_probs(frame.probs) if regression else frame.probs
    img = Image.fromarray(decision_image(probs, CLASS_RGB, discretize=discretize)[::-1])  # image rows go downward
    lo, hi = float(frame.grid_x[0]), float(frame.grid_x[-1])
    fig = go.Figure()
    k = frame.probs.shape[-1]
    names = classes or [f"class {i}" for i in range(k)]
    sets = [("train", Xtr, ytr, "white")] + ([("test", Xte, yte, "#222")] if show_test else [])
    if regression:
        _value_points(fig, sets)
    for label, X, y, rim in [] if regression else sets:
        for c in range(k):
            m = y == c
            fig.add_trace(go.Scatter(
                x=X[m, 0], y=X[m, 1], mode="markers", name=names[c], showlegend=label == "train",
                legendgroup=names[c],
                marker=dict(color=_hex(CLASS_RGB[c]), size=7, line=dict(color=rim, width=1.2)),
                hovertemplate=f"{names[c]} ({label})<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<extra></extra>",
            ))
    if ghost is not None:
        add_ghost_boundary(fig, ghost)
    fig.add_layout_image(source=img, xref="x", yref="y", x=lo, y=hi, sizex=hi - lo, sizey=hi - lo,
                         sizing="stretch", layer="below")
    fig.update_xaxes(range=[lo, hi], title="x1", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[lo, hi], title="x2", showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain")
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"Decision map after {frame.epoch} epoch{'s' if frame.epoch != 1 else ''}",
                      legend=dict(orientation="h", y=-0.2, yanchor="top", x=0.5, xanchor="center"),
                      uirevision="playground", datarevision=_revision(*points, show_test, k, ghost is not None))
    return fig


_DIVERGING = [[0.0, _hex(CLASS_RGB[0])], [0.5, "#ffffff"], [1.0, _hex(CLASS_RGB[1])]]


def _value_points(fig: go.Figure, sets: list) -> None:
    """A regression's points, coloured by their target on the map's diverging scale (−1 to 1)."""
    for label, X, y, rim in sets:
        rim = "#777" if label == "train" else rim  # a white rim would vanish where the value is near 0
        fig.add_trace(go.Scatter(
            x=X[:, 0], y=X[:, 1], mode="markers", name=label, showlegend=True,
            marker=dict(color=y, colorscale=_DIVERGING, cmin=-1, cmax=1, size=7, line=dict(color=rim, width=0.8),
                        showscale=label == "train",
                        colorbar=dict(title=dict(text="value", side="right"), orientation="h", thickness=8, len=0.5,
                                      y=-0.32, yanchor="top", x=0.5, xanchor="center")),
            hovertemplate=f"{label}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<br>value=%{{marker.color:.3f}}<extra></extra>",
        ))


def add_ghost_boundary(fig: go.Figure, grid: dict, name: str = "ghost: earlier run") -> go.Figure:
    """An earlier run's boundary (the ``levels`` of its logged grid ``{x, y, z, levels}``) as a faded dotted
    line over ``fig``. The lines are traced here once (marching squares) and drawn as one plain path: a
    Plotly contour trace would make the browser trace them again at every live update of the map."""
    from skimage.measure import find_contours

    x, y, z = (np.asarray(grid[k], dtype=np.float64) for k in ("x", "y", "z"))  # z: [len(y), len(x)]
    xs: list[float | None] = []
    ys: list[float | None] = []
    for level in list(grid.get("levels") or [0.5]):
        for line in find_contours(z, level):  # (row, col) in grid units
            xs += [*np.interp(line[:, 1], np.arange(len(x)), x).tolist(), None]
            ys += [*np.interp(line[:, 0], np.arange(len(y)), y).tolist(), None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, showlegend=True, hoverinfo="skip",
                             line=dict(color="rgba(40,40,40,0.55)", dash="dot", width=2.2)))
    return fig


def _revision(*parts) -> str:
    """The points' revision. While the network trains only the background image changes: with the same
    ``datarevision`` Plotly redraws that image and leaves the points alone at each live update (and
    the points are SVG, not WebGL: without a GPU the browser emulates WebGL, and redrawing it every
    second took most of its time — measured in bench/live_view.py)."""
    h = hashlib.sha1()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()[:16]


def _tile_origin(col: int, row: int, tile: int, gap: int, hgap: int) -> tuple[int, int]:
    return col * (tile + hgap), row * (tile + gap)


def neuron_montage(frame: Frame, *, tile: int = 44, gap: int = 8, hgap: int = 56) -> np.ndarray:
    """[H, W, 3] uint8: one tile per input feature and hidden neuron (columns = layers, ``hgap``
    pixels apart to leave room for the weights), each coloured by the unit's output over the
    plane — orange negative, white zero, blue positive, scaled per tile. A tile's top row is
    the top of the plane."""
    cols, rows = len(frame.neurons), max(m.shape[0] for m in frame.neurons)
    out = np.full((rows * (tile + gap) - gap, cols * (tile + hgap) - hgap, 3), 255, np.uint8)
    neg, pos, white = np.array([245, 147, 34.0]), np.array([8, 119, 189.0]), np.full(3, 255.0)
    for c, maps in enumerate(frame.neurons):
        for r, m in enumerate(maps):
            m = np.nan_to_num(m[::-1])  # image rows go downward
            v = (m / (float(np.abs(m).max()) or 1.0))[..., None]
            rgb = np.where(v < 0, white + (neg - white) * -v, white + (pos - white) * v)
            reps = -(-tile // m.shape[0])
            big = np.kron(rgb, np.ones((reps, reps, 1)))[:tile, :tile]
            x0, y0 = _tile_origin(c, r, tile, gap, hgap)
            out[y0 : y0 + tile, x0 : x0 + tile] = big.round().astype(np.uint8)
    return out


def weight_links(frame: Frame, *, tile: int = 44, gap: int = 8, hgap: int = 56) -> list[go.Scatter]:
    """Lines from every unit to every unit of the next layer: blue for a positive weight,
    orange for a negative one, thicker for a larger |w| (four widths, scaled to the largest
    weight in the network)."""
    if not frame.weights:
        return []
    top = max(float(np.abs(w).max()) for w in frame.weights) or 1.0
    widths = (0.6, 1.4, 2.6, 4.2)
    segs: dict[tuple[bool, int], tuple[list, list]] = {}
    for layer, w in enumerate(frame.weights):  # w: [units of layer+1, units of layer]
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                value = float(w[j, i])
                if not np.isfinite(value):
                    continue
                k = min(int(abs(value) / top * len(widths)), len(widths) - 1)
                xs, ys = segs.setdefault((value >= 0, k), ([], []))
                x0, y0 = _tile_origin(layer, i, tile, gap, hgap)
                x1, y1 = _tile_origin(layer + 1, j, tile, gap, hgap)
                xs += [x0 + tile, x1, None]
                ys += [y0 + tile / 2, y1 + tile / 2, None]
    return [go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                       line=dict(color="rgba(8,119,189,0.55)" if positive else "rgba(245,147,34,0.6)", width=widths[k]))
            for (positive, k), (xs, ys) in sorted(segs.items())]


def weight_handles(frame: Frame, *, tile: int = 44, gap: int = 8, hgap: int = 56) -> go.Scatter | None:
    """One small clickable dot on every connection, with its weight on hover and ``customdata`` =
    (layer, source, target) (what a click on it selects). The dots of one source unit share a column
    placed by that unit's row, so no two dots coincide."""
    xs, ys, data, text = [], [], [], []
    for layer, w in enumerate(frame.weights):
        n_in = w.shape[1]
        for i in range(n_in):
            t = 0.22 + 0.56 * (i / (n_in - 1) if n_in > 1 else 0.5)  # how far along the line
            x0, y0 = _tile_origin(layer, i, tile, gap, hgap)
            for j in range(w.shape[0]):
                x1, y1 = _tile_origin(layer + 1, j, tile, gap, hgap)
                xs.append(x0 + tile + t * (x1 - x0 - tile))
                ys.append(y0 + tile / 2 + t * (y1 - y0))
                data.append((layer, i, j))
                src = frame.layer_names[layer][i] if layer < len(frame.layer_names) else f"unit {i + 1}"
                text.append(f"{src} → layer {layer + 1}, neuron {j + 1}<br>w = {float(w[j, i]):.3f}")
    if not xs:
        return None
    return go.Scatter(x=xs, y=ys, mode="markers", customdata=data, text=text, showlegend=False, name="weights",
                      hovertemplate="%{text}<extra>click to edit</extra>",
                      marker=dict(size=8, color="rgba(80,80,80,0.35)", line=dict(color="white", width=1)))


def neuron_maps(frame: Frame, *, tile: int = 44, gap: int = 8, hgap: int = 56) -> go.Figure:
    """The network as TensorFlow Playground draws it: the :func:`neuron_montage` tiles joined
    by their :func:`weight_links`, with the layers named above their columns."""
    img = neuron_montage(frame, tile=tile, gap=gap, hgap=hgap)
    png = png_bytes(img)  # a PNG is far smaller to send than the pixel list
    fig = go.Figure(go.Image(source="data:image/png;base64," + base64.b64encode(png).decode(),
                             hoverinfo="skip"))
    for trace in weight_links(frame, tile=tile, gap=gap, hgap=hgap):
        fig.add_trace(trace)
    handles = weight_handles(frame, tile=tile, gap=gap, hgap=hgap)
    if handles is not None:
        fig.add_trace(handles)
    titles = ["inputs"] + [f"layer {i}" for i in range(1, len(frame.neurons))]
    for c, t in enumerate(titles):
        fig.add_annotation(x=c * (tile + hgap) + tile / 2, y=-6, text=t, showarrow=False, yanchor="bottom",
                           font=dict(size=12, color="#555"))
    fig.update_xaxes(visible=False, range=[-4, img.shape[1] + 4])
    fig.update_yaxes(visible=False, range=[img.shape[0] + 4, -30])
    fig.update_layout(height=img.shape[0] + 50, width=img.shape[1] + 20, margin=dict(l=5, r=5, t=10, b=5),
                      template="plotly_white", dragmode=False, clickmode="event+select")
    return fig


def loss_history(history: list[dict[str, float]]) -> go.Figure:
    """Train and test loss per epoch (measured on the whole sets after each epoch)."""
    ep = [h["epoch"] for h in history]
    fig = curves({"train loss": (ep, [h["train_loss"] for h in history]),
                  "test loss": (ep, [h["test_loss"] for h in history])},
                 xlabel="epoch", ylabel="loss", title="", colors={"train loss": "#555", "test loss": "#111"})
    fig.data[-1].line.dash = "dot"
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15),
                      uirevision="loss")
    return fig

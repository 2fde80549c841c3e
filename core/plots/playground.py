"""Figures for the playground: decision map with the points, a map per neuron, loss curves."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.basics.playground import Frame, decision_image
from core.plots.curves import curves

# Orange and blue as in TensorFlow Playground, then more distinct hues for extra classes.
CLASS_RGB: list[tuple[int, int, int]] = [
    (245, 147, 34), (8, 119, 189), (46, 160, 67), (214, 39, 40), (148, 103, 189), (140, 86, 75),
]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def decision_map(
    frame: Frame,
    points: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    show_test: bool = True,
    classes: list[str] | None = None,
    height: int = 460,
) -> go.Figure:
    """The plane coloured by the network's prediction, the training points (white rim) and,
    optionally, the test points (dark rim) on top."""
    Xtr, ytr, Xte, yte = points
    img = Image.fromarray(decision_image(frame, CLASS_RGB)[::-1])  # image rows go downward
    lo, hi = float(frame.grid_x[0]), float(frame.grid_x[-1])
    fig = go.Figure()
    k = frame.probs.shape[-1]
    names = classes or [f"class {i}" for i in range(k)]
    sets = [("train", Xtr, ytr, "white")] + ([("test", Xte, yte, "#222")] if show_test else [])
    for label, X, y, rim in sets:
        for c in range(k):
            m = y == c
            fig.add_trace(go.Scattergl(
                x=X[m, 0], y=X[m, 1], mode="markers", name=names[c], showlegend=label == "train",
                legendgroup=names[c],
                marker=dict(color=_hex(CLASS_RGB[c]), size=7, line=dict(color=rim, width=1.2)),
                hovertemplate=f"{names[c]} ({label})<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<extra></extra>",
            ))
    fig.add_layout_image(source=img, xref="x", yref="y", x=lo, y=hi, sizex=hi - lo, sizey=hi - lo,
                         sizing="stretch", layer="below")
    fig.update_xaxes(range=[lo, hi], title="x1", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[lo, hi], title="x2", showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"Decision map after {frame.epoch} epoch{'s' if frame.epoch != 1 else ''}",
                      legend=dict(orientation="h", y=-0.2, yanchor="top", x=0.5, xanchor="center"),
                      uirevision="playground")
    return fig


def neuron_montage(frame: Frame, *, tile: int = 48, gap: int = 8) -> np.ndarray:
    """[H, W, 3] uint8: one tile per input feature and hidden neuron (columns = layers), each
    coloured by the unit's output over the plane — orange negative, white zero, blue
    positive, scaled per tile. Row 0 of a tile is the top of the plane."""
    cols, rows = len(frame.neurons), max(m.shape[0] for m in frame.neurons)
    out = np.full((rows * (tile + gap) - gap, cols * (tile + gap) - gap, 3), 255, np.uint8)
    neg, pos, white = np.array([245, 147, 34.0]), np.array([8, 119, 189.0]), np.full(3, 255.0)
    for c, maps in enumerate(frame.neurons):
        for r, m in enumerate(maps):
            m = np.nan_to_num(m[::-1])  # image rows go downward
            v = m / (float(np.abs(m).max()) or 1.0)
            rgb = np.where(v[..., None] < 0, white + (neg - white) * -v[..., None], white + (pos - white) * v[..., None])
            reps = -(-tile // m.shape[0])
            big = np.kron(rgb, np.ones((reps, reps, 1)))[:tile, :tile]
            y0, x0 = r * (tile + gap), c * (tile + gap)
            out[y0 : y0 + tile, x0 : x0 + tile] = big.round().astype(np.uint8)
    return out


def neuron_maps(frame: Frame, *, tile: int = 48, gap: int = 8) -> go.Figure:
    """The :func:`neuron_montage` as a figure with the layers named above their columns."""
    img = neuron_montage(frame, tile=tile, gap=gap)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")  # a PNG is far smaller to send than the pixel list
    fig = go.Figure(go.Image(source="data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                             hoverinfo="skip"))
    titles = ["inputs"] + [f"layer {i}" for i in range(1, len(frame.neurons))]
    for c, t in enumerate(titles):
        fig.add_annotation(x=c * (tile + gap) + tile / 2, y=-6, text=t, showarrow=False, yanchor="bottom",
                           font=dict(size=12, color="#555"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=img.shape[0] + 45, width=img.shape[1] + 10, margin=dict(l=5, r=5, t=35, b=5),
                      template="plotly_white", dragmode=False)
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

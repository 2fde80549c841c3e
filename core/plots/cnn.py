"""Figures for CNN training and for looking inside a trained network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE

DEPTH_COLORS = ("#1f77b4", "#d62728")  # shallow, deep


def enlarge(image: np.ndarray, size: int = 96, cmap: str | None = None, signed: bool = False) -> np.ndarray:
    """A small [H, W] or [H, W, 3] array in [0, 1] (or signed, with ``signed``) → an
    [≈size, ≈size, 3] uint8 image with sharp pixels (nearest neighbour), coloured with the
    Matplotlib colormap ``cmap`` when given (grey otherwise)."""
    a = np.asarray(image, np.float32)
    if signed:
        a = (a / max(float(np.abs(a).max()), 1e-12) + 1) / 2
    k = max(1, size // max(a.shape[:2]))
    if a.ndim == 2:
        if cmap:
            from matplotlib import colormaps

            a = colormaps[cmap](np.clip(a, 0, 1))[..., :3]
        else:
            a = np.repeat(np.clip(a, 0, 1)[..., None], 3, axis=2)
    a = np.kron(a, np.ones((k, k, 1), np.float32))
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)


def scaled_maps(maps: np.ndarray) -> np.ndarray:
    """Feature maps [C, H, W] each scaled to [0, 1] on its own range (a flat map → 0)."""
    m = np.asarray(maps, np.float32)
    lo = m.min(axis=(1, 2), keepdims=True)
    hi = m.max(axis=(1, 2), keepdims=True)
    return (m - lo) / np.maximum(hi - lo, 1e-12)


def confusion_heatmap(counts: np.ndarray, classes: Sequence[str], *, title: str = "Confusion matrix (dev set)") -> go.Figure:
    """Rows = true class, columns = predicted; the diagonal holds the correct answers.
    Colour is the share of each true class (so rare classes show as clearly), text the count."""
    counts = np.asarray(counts)
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(
        z=share, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1, text=counts, texttemplate="%{text}",
        hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of the true class)<extra></extra>",
        colorbar=dict(title="share", tickformat=".0%"),
    ))
    fig.update_layout(template="plotly_white", title=title, height=460, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(title="predicted", type="category"),
                      yaxis=dict(title="true", type="category", autorange="reversed", scaleanchor="x"))
    return fig


def probability_bars(probabilities: Sequence[float], classes: Sequence[str], *, title: str = "Class probabilities") -> go.Figure:
    """One bar per class, the predicted class highlighted."""
    p = np.asarray(probabilities, float)
    best = int(p.argmax()) if len(p) else -1
    fig = go.Figure(go.Bar(
        x=[str(c) for c in classes], y=p, text=[f"{v:.0%}" if v >= 0.01 else "" for v in p], textposition="outside",
        marker_color=["#d62728" if i == best else "#9ecae1" for i in range(len(p))],
        hovertemplate="%{x}: %{y:.2%}<extra></extra>",
    ))
    fig.update_layout(template="plotly_white", title=title, height=300, margin=dict(l=10, r=10, t=50, b=10),
                      yaxis=dict(range=[0, 1.1], tickformat=".0%"), xaxis=dict(type="category"))
    return fig


def degradation_curves(epochs: Mapping[str, Sequence[Mapping[str, float]]], depth: Mapping[str, int],
                       plain: Mapping[str, bool], *, key: str = "epoch_train_loss") -> go.Figure:
    """Training loss per epoch for each network: colour = depth, dashed = plain, solid =
    residual. The plain deep line above the plain shallow one is the degradation."""
    fig = go.Figure()
    depths = sorted(set(depth.values()))
    for name, rows in epochs.items():
        pts = [(r["epoch"], r[key]) for r in rows if key in r]
        if not pts:
            continue
        color = DEPTH_COLORS[depths.index(depth[name]) % 2] if depth.get(name) in depths else PALETTE[0]
        fig.add_trace(go.Scatter(
            x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=name,
            line=dict(color=color, dash="dash" if plain.get(name) else "solid", width=2.5),
        ))
    fig.update_layout(template="plotly_white", title="Training loss per epoch (lower is better)", height=380,
                      xaxis=dict(title="epoch", dtick=1), yaxis=dict(title="training loss", rangemode="tozero"),
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def degradation_bars(errors: Mapping[str, float | None], depth: Mapping[str, int], plain: Mapping[str, bool],
                     *, title: str = "Training error of the final network") -> go.Figure:
    """Grouped bars: plain and residual side by side at each depth."""
    depths = sorted(set(depth.values()))
    fig = go.Figure()
    for is_plain, label, color in ((True, "plain", "#ff7f0e"), (False, "residual", "#2ca02c")):
        ys = []
        for d in depths:
            name = next((n for n in errors if depth.get(n) == d and plain.get(n) == is_plain), None)
            ys.append(errors.get(name) if name else None)
        fig.add_trace(go.Bar(x=[f"{d} layers" for d in depths], y=ys, name=label, marker_color=color,
                             text=[f"{v:.1%}" if v is not None else "" for v in ys], textposition="outside"))
    fig.update_layout(template="plotly_white", title=title, barmode="group", height=340, yaxis_tickformat=".0%",
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
    return fig

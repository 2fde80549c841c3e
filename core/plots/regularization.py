"""Figures of the Regularization page: train against dev curves with marked epochs, error
bars per lane, a sweep's dev error against its setting, weight histograms, the preview
of augmented copies and a batch-norm layer's running against batch statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.artifacts import image_grid
from core.colors import PALETTE
from core.plots.curves import curves
from core.plots.training import lane_curves

METRICS = {"error": ("error", "accuracy"), "loss": ("loss", "loss")}


def _series(rows: Sequence[Mapping[str, float]], key: str, as_error: bool) -> tuple[list[float], list[float]]:
    pts = [(r["epoch"], 1 - r[key] if as_error else r[key]) for r in rows if key in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def train_dev_curves(
    epoch_rows: Mapping[str, Sequence[Mapping[str, float]]],
    train_rows: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    metric: str = "error",
    marks: Mapping[str, Mapping[str, int]] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Per lane, the dev curve (solid) and the train curve (dashed, same colour) per epoch.

    ``epoch_rows``: lane → job rows with ``epoch``, ``dev_loss``, ``dev_accuracy``;
    ``train_rows``: lane → rows with ``epoch``, ``train_loss``, ``train_accuracy``;
    ``metric``: "error" (1 − accuracy) or "loss". ``marks``: lane → {label: epoch}, each drawn
    as a vertical dotted line and a marker on that lane's dev curve (e.g. the best epoch).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}")
    as_error = metric == "error"
    dev_key = "dev_accuracy" if as_error else "dev_loss"
    train_key = "train_accuracy" if as_error else "train_loss"
    lanes = list(dict.fromkeys([*epoch_rows, *train_rows]))
    series, colors = {}, {}
    for i, lane in enumerate(lanes):
        color = PALETTE[i % len(PALETTE)]
        series[f"{lane} · dev"] = _series(epoch_rows.get(lane, ()), dev_key, as_error)
        series[f"{lane} · train"] = _series(train_rows.get(lane, ()), train_key, as_error)
        colors[f"{lane} · dev"] = colors[f"{lane} · train"] = color
    fig = curves(series, xlabel="epoch", ylabel=metric, colors=colors,
                 title=title or f"Train (dashed) and dev (solid) {metric} after each epoch")
    fig.for_each_trace(lambda t: t.update(line_dash="dash") if t.name.endswith("· train") else None)
    for lane, points in (marks or {}).items():
        x, y = series.get(f"{lane} · dev", ([], []))
        lookup = dict(zip(x, y))
        for k, (label, epoch) in enumerate(points.items()):
            fig.add_vline(x=epoch, line_dash="dot", line_color="#555", annotation_text=f"{label}: epoch {epoch}",
                          annotation_position="top left" if k % 2 == 0 else "top right", annotation_font_size=11)
            if epoch in lookup:
                fig.add_scatter(x=[epoch], y=[lookup[epoch]], mode="markers", name=f"{lane} · {label}",
                                marker=dict(symbol="star", size=15, color=colors[f"{lane} · dev"],
                                            line=dict(color="black", width=1)))
    if as_error:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(height=420, legend=dict(orientation="h", y=-0.22))
    return fig


def step_losses(series_rows: Mapping[str, Sequence[Mapping[str, float]]], *, smoothing: float = 0.8,
                title: str = "Training loss per step (smoothed)") -> go.Figure:
    """Live per-step losses of several lanes on a log scale; a lane that blows up leaves the
    chart at the top (the y range stops at 5× the largest starting loss) instead of squashing the rest."""
    fig = lane_curves(series_rows, smoothing=smoothing, log_y=True, title=title)
    values = np.array([r["loss"] for rows in series_rows.values() for r in rows if "loss" in r], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    firsts = [rows[0]["loss"] for rows in series_rows.values() if rows and np.isfinite(rows[0].get("loss", np.nan))]
    if len(values) and firsts:
        top = 5 * max(firsts)
        if values.max() > top:
            fig.update_yaxes(range=[np.log10(values.min() * 0.8), np.log10(top)])
    return fig


def error_bars(rows: Sequence[tuple[str, float | None, float | None]], *, title: str = "Final train and dev error") -> go.Figure:
    """Grouped bars per lane: train error and dev error of the returned model; the gap
    between the two bars is the variance."""
    rows = [r for r in rows if r[1] is not None and r[2] is not None]
    names = [r[0] for r in rows]
    fig = go.Figure()
    for j, (label, color) in enumerate((("train error", "#9aa5b1"), ("dev error", PALETTE[0]))):
        vals = [r[1 + j] for r in rows]
        fig.add_bar(x=names, y=vals, name=label, marker_color=color, text=[f"{v:.1%}" for v in vals], textposition="outside")
    top = max([r[2] for r in rows] + [r[1] for r in rows] + [0.05])
    fig.update_layout(template="plotly_white", title=title, barmode="group", height=360,
                      margin=dict(l=60, r=20, t=60, b=40), legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    fig.update_yaxes(tickformat=".0%", range=[0, top * 1.25], title="error")
    return fig


def sweep_chart(points: Mapping[str, Sequence[tuple[float, float, float]]]) -> go.Figure:
    """Train and dev error against each swept setting (``{"λ": [(λ, train, dev)], ...}``),
    one panel per setting; the settings are shown as categories, in sorted order."""
    axes = [a for a, pts in points.items() if pts]
    fig = make_subplots(rows=1, cols=max(len(axes), 1), subplot_titles=[f"error against {a}" for a in axes],
                        horizontal_spacing=0.1)
    for c, axis in enumerate(axes, start=1):
        pts = sorted(points[axis])
        x = [f"{p[0]:g}" for p in pts]
        for j, (label, color, dash) in enumerate((("train error", "#9aa5b1", "dash"), ("dev error", PALETTE[0], "solid"))):
            fig.add_scatter(x=x, y=[p[1 + j] for p in pts], mode="lines+markers", name=label, legendgroup=label,
                            showlegend=c == 1, line=dict(color=color, dash=dash, width=2.4), marker=dict(size=9),
                            hovertemplate=f"{axis} %{{x}}<br>{label} %{{y:.1%}}<extra></extra>", row=1, col=c)
        fig.update_xaxes(title_text=axis, type="category", row=1, col=c)
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=c)
    fig.update_layout(template="plotly_white", height=420, margin=dict(l=60, r=20, t=60, b=90),
                      legend=dict(orientation="h", y=-0.3))
    return fig


def weight_histogram_chart(edges: np.ndarray, fractions: Mapping[str, np.ndarray], *, log_y: bool = False) -> go.Figure:
    """Outlines of the weight histograms (fraction of weights per bin) of several lanes
    on shared bins: a larger λ pulls the distribution towards 0."""
    centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    fig = go.Figure()
    for i, (name, frac) in enumerate(fractions.items()):
        fig.add_scatter(x=centres, y=frac, mode="lines", line_shape="hvh", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)], width=2.2),
                        hovertemplate=f"<b>{name}</b><br>w ≈ %{{x:.3f}}<br>%{{y:.2%}} of weights<extra></extra>")
    fig.update_layout(template="plotly_white", height=380, title="Distribution of the weights W (all layers)",
                      xaxis_title="weight value", yaxis_title="fraction of weights" + (" (log scale)" if log_y else ""),
                      margin=dict(l=60, r=20, t=60, b=50), legend=dict(orientation="h", y=-0.22))
    fig.update_yaxes(type="log" if log_y else "linear", tickformat=".1%" if not log_y else None)
    return fig


def preview_figure(images: np.ndarray, *, col_titles: Sequence[str] = (), cell: int = 150) -> go.Figure:
    """Images [rows, cols, C, H, W] in [0, 1] (C = 1 grey or 3 RGB), tiled by :func:`core.artifacts.image_grid`
    into one picture, with a title over each column (the augmentation preview: original, copy 1, …)."""
    images = np.asarray(images)
    if images.ndim != 5 or images.shape[2] not in (1, 3):
        raise ValueError("images must be [rows, cols, C, H, W] with C = 1 or 3")
    n_rows, n_cols, c, h, w = images.shape
    tiles = np.clip(images, 0, 1).transpose(0, 1, 3, 4, 2).reshape(n_rows * n_cols, h, w, c)
    if c == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    pad = max(1, w // 8)
    rgb = (image_grid(tiles, cols=n_cols, pad=pad) * 255).round().astype(np.uint8)
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    for k, title in enumerate(list(col_titles)[:n_cols]):
        fig.add_annotation(x=pad + k * (w + pad) + (w - 1) / 2, y=0, yshift=4, text=title, showarrow=False,
                           xref="x", yref="y", yanchor="bottom", font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=40 + cell * n_rows, width=None, margin=dict(l=5, r=5, t=35, b=5), template="plotly_white")
    return fig


def bn_stats_chart(running_mean: np.ndarray, batch_mean: np.ndarray, running_var: np.ndarray, batch_var: np.ndarray,
                   *, units: int = 16, title: str = "") -> go.Figure:
    """Per unit of one batch-norm layer: the running mean and variance (used at test time)
    next to one mini-batch's own mean and variance (used in training)."""
    k = min(units, len(running_mean))
    x = [str(i) for i in range(k)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["mean μ of z per unit", "variance σ² of z per unit"],
                        horizontal_spacing=0.08)
    for c, (run, batch) in enumerate(((running_mean, batch_mean), (running_var, batch_var)), start=1):
        fig.add_bar(x=x, y=np.asarray(run)[:k], name="running average (test time)", marker_color=PALETTE[0],
                    legendgroup="run", showlegend=c == 1, row=1, col=c)
        fig.add_bar(x=x, y=np.asarray(batch)[:k], name="this mini-batch (training)", marker_color=PALETTE[1],
                    legendgroup="batch", showlegend=c == 1, row=1, col=c)
        fig.update_xaxes(title_text="unit", row=1, col=c)
    fig.update_layout(template="plotly_white", barmode="group", height=360, title=title,
                      margin=dict(l=60, r=20, t=70, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def weight_norm_bars(values: Mapping[str, float], *, title: str = "Σ‖W‖² after training") -> go.Figure:
    """One horizontal bar per lane (in the given order, colours as in the other sweep
    charts), e.g. the sum of the squared Frobenius norms of the weight matrices per λ."""
    names = list(values)
    fig = go.Figure(go.Bar(
        x=[values[n] for n in names], y=names, orientation="h", text=[f"{values[n]:.0f}" for n in names],
        textposition="auto", marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(names))],
    ))
    fig.update_layout(template="plotly_white", title=title, height=120 + 45 * max(len(names), 1),
                      margin=dict(l=10, r=10, t=50, b=30), yaxis=dict(autorange="reversed"))
    return fig

"""Figures for the CNN architectures section (pure: data in, ``go.Figure`` out): the volume's shape
through a network drawn as boxes, per-layer parameters and multiply-adds, and the cost of a 1×1
bottleneck against a direct convolution."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.cnn.anatomy import Layer

KIND_COLORS = {
    "input": "#7f7f7f", "conv": "#1f77b4", "pool": "#ff7f0e", "fc": "#2ca02c", "block": "#9467bd",
    "inception": "#8c564b", "other": "#bcbd22",
}
KIND_NAMES = {
    "input": "input", "conv": "convolution", "pool": "pooling", "fc": "fully connected",
    "block": "residual block", "inception": "inception module", "other": "other",
}


def human(n: float) -> str:
    """12,443,648 → "12.4 M"; 61,100,840 → "61.1 M"; 950 → "950"."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g} {unit}" if n / div < 100 else f"{n / div:.0f} {unit}"
    return f"{n:g}"


def _kind(layer: Layer) -> str:
    if layer.kind == "block" and layer.layer.startswith("Inception"):
        return "inception"
    return layer.kind if layer.kind in KIND_COLORS else "other"


def _shade(hex_color: str, factor: float) -> str:
    """The colour darkened (factor < 1) or lightened (factor > 1)."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    if factor >= 1:
        r, g, b = (int(c + (255 - c) * (factor - 1)) for c in (r, g, b))
    else:
        r, g, b = (int(c * factor) for c in (r, g, b))
    return f"rgb({r},{g},{b})"


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M " + " L ".join(f"{x:.3f},{y:.3f}" for x, y in points) + " Z"


def shape_flow_figure(flow: Sequence[Layer], *, title: str = "How the volume changes through the network") -> go.Figure:
    """Each step of ``flow`` (from ``core.cnn.anatomy.shape_flow``) as a box seen at an angle: the
    front face's side grows with the spatial size H, the depth with the number of channels C (both
    on a log scale, so 224 px and 7 px, or 3 and 2048 channels, fit one picture). A vector of N
    values (after flattening) is drawn as N×1×1. Labels under the boxes give C×H×W; hover for the
    layer."""
    fig = go.Figure()
    x0 = 0.0
    centers, hover, kinds = [], [], []
    top = 1.0
    for layer in flow:
        c = layer.shape[0]
        h = layer.shape[1] if len(layer.shape) > 1 else 1
        side = 0.6 + 0.45 * math.log2(max(h, 1))
        depth = 0.3 + 0.3 * math.log2(max(c, 1))
        dx, dy = 0.45 * depth, 0.32 * depth
        kind = _kind(layer)
        color = KIND_COLORS[kind]
        y0, y1 = -side / 2, side / 2
        faces = [
            ([(x0, y1), (x0 + side, y1), (x0 + side + dx, y1 + dy), (x0 + dx, y1 + dy)], 1.35),  # top
            ([(x0 + side, y0), (x0 + side + dx, y0 + dy), (x0 + side + dx, y1 + dy), (x0 + side, y1)], 0.75),  # side
            ([(x0, y0), (x0 + side, y0), (x0 + side, y1), (x0, y1)], 1.0),  # front
        ]
        for points, factor in faces:
            fig.add_shape(type="path", path=_path(points), fillcolor=_shade(color, factor),
                          line=dict(color="white", width=0.8), layer="below")
        centers.append((x0 + (side + dx) / 2, y0 + dy / 2, y0))
        top = max(top, y1 + dy)
        hover.append(f"<b>{layer.name}</b><br>{layer.layer}<br>output {layer.shape_text}"
                     f"<br>{layer.params:,} parameters<br>{layer.macs:,} multiply-adds")
        kinds.append(kind)
        x0 += side + dx + 0.55
    bottom = min((c[2] for c in centers), default=-1.0)
    fig.add_trace(go.Scatter(
        x=[c[0] for c in centers], y=[c[1] for c in centers], mode="markers",
        marker=dict(size=18, opacity=0), hovertext=hover, hoverinfo="text", showlegend=False,
    ))
    for (x, _, y_low), layer in zip(centers, flow, strict=True):
        fig.add_annotation(x=x, y=y_low - 0.2, text=layer.shape_text, textangle=-90, showarrow=False,
                           xanchor="center", yanchor="top", font=dict(size=11, color="#333"))
    for kind in dict.fromkeys(kinds):  # legend: one entry per kind present, in order of appearance
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=KIND_NAMES[kind],
                                 marker=dict(size=12, symbol="square", color=KIND_COLORS[kind])))
    height, margin_t, margin_b = 400, 60, 10
    plot_px, y_top = height - margin_t - margin_b, top + 0.4
    # lowest y that leaves room for every rotated label under its box: y_low - label_px / (px per unit) ≥ y_min,
    # with px per unit = plot_px / (y_top - y_min), solved for y_min
    y_min = min(((c[2] - 0.2) * plot_px - (6.3 * len(la.shape_text) + 6) * y_top) / (plot_px - 6.3 * len(la.shape_text) - 6)
                for c, la in zip(centers, flow, strict=True)) if flow else -1.0
    pad = max(0.0, (36 - x0) / 2)  # a short network keeps boxes of the same scale, centred
    fig.update_xaxes(visible=False, range=[-0.5 - pad, x0 + pad])
    fig.update_yaxes(visible=False, range=[min(y_min, bottom - 0.3), y_top])
    fig.update_layout(template="plotly_white", title=title, height=height, margin=dict(l=10, r=10, t=margin_t, b=margin_b),
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
                      hoverlabel=dict(align="left"), dragmode=False)
    return fig


def layer_costs(layers: Sequence[Layer], *, title: str = "Where the parameters and the computation are") -> go.Figure:
    """Two bar panels side by side, one row per layer or block that has weights: parameters and
    multiply-adds, each on a log axis, coloured by kind; the first layer on top."""
    rows = [la for la in layers if la.params > 0 or la.macs > 0]
    labels = [f"{la.name} · {la.layer}" for la in rows]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("Parameters", "Multiply-adds (one image)"))
    seen: set[str] = set()
    for col, key in ((1, "params"), (2, "macs")):
        for kind in dict.fromkeys(_kind(la) for la in rows):
            pick = [(lab, la) for lab, la in zip(labels, rows, strict=True) if _kind(la) == kind and getattr(la, key) > 0]
            if not pick:
                continue
            values = [getattr(la, key) for _, la in pick]
            fig.add_trace(go.Bar(
                x=values, y=[lab for lab, _ in pick], orientation="h", name=KIND_NAMES[kind],
                marker_color=KIND_COLORS[kind], text=[human(v) for v in values], textposition="outside",
                cliponaxis=False, legendgroup=kind, showlegend=kind not in seen,
                hovertemplate="%{y}<br>%{x:,}<extra></extra>",
            ), row=1, col=col)
            seen.add(kind)
    for col, key in ((1, "params"), (2, "macs")):
        values = [getattr(la, key) for la in rows if getattr(la, key) > 0]
        if values:
            lo, hi = math.log10(min(values)), math.log10(max(values))
            fig.update_xaxes(type="log", range=[max(lo - 0.5, 0), hi + 0.9], dtick=1, exponentformat="SI",
                             row=1, col=col)
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], tickfont=dict(size=11))
    height, margin_t, margin_b = 150 + 24 * max(len(rows), 3), 110, 40
    plot_px = height - margin_t - margin_b
    fig.update_layout(template="plotly_white", title=title, height=height,
                      margin=dict(l=10, r=30, t=margin_t, b=margin_b), bargap=0.25,
                      legend=dict(orientation="h", y=1 + 34 / plot_px, x=1, xanchor="right", yanchor="bottom"))
    fig.update_annotations(yanchor="bottom", font=dict(size=13))
    return fig


def bottleneck_chart(cost: Mapping[str, Any], *, f: int = 5, title: str = "Direct convolution against a 1×1 bottleneck") -> go.Figure:
    """Multiplies and parameters of both routes from ``core.cnn.anatomy.bottleneck_cost``; the
    bottleneck's bar is split into its 1×1 reduction and its f×f convolution."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Multiplies", "Parameters"), horizontal_spacing=0.12)
    direct, through = f"{f}×{f} directly", f"1×1 to {cost['mid_shape'][2]}, then {f}×{f}"
    for col, unit in ((1, "multiplies"), (2, "params")):
        d, r, c = cost[f"direct_{unit}"], cost[f"reduce_{unit}"], cost[f"conv_{unit}"]
        fig.add_trace(go.Bar(x=[direct], y=[d], name=f"{f}×{f} convolution", marker_color="#1f77b4",
                             legendgroup="conv", showlegend=col == 1, text=[human(d)], textposition="inside",
                             hovertemplate="%{x}: %{y:,}<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Bar(x=[through], y=[r], name="1×1 reduction", marker_color="#ff7f0e", legendgroup="reduce",
                             showlegend=col == 1, hovertemplate="1×1 reduction: %{y:,}<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Bar(x=[through], y=[c], marker_color="#1f77b4", legendgroup="conv", showlegend=False,
                             hovertemplate=f"{f}×{f} convolution: %{{y:,}}<extra></extra>"), row=1, col=col)
        ratio = d / (r + c)
        fig.add_annotation(x=through, y=r + c, text=f"<b>{human(r + c)}</b><br>{ratio:.1f}× less", showarrow=False,
                           yanchor="bottom", row=1, col=col)
        fig.update_yaxes(range=[0, d * 1.12], row=1, col=col)
    fig.update_layout(template="plotly_white", title=title, barmode="stack", height=380,
                      margin=dict(l=50, r=20, t=80, b=40),
                      legend=dict(orientation="h", y=-0.12, x=0.5, xanchor="center"))
    return fig

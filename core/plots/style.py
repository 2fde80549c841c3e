"""Figures of the style-transfer page: two Gram matrices on one colour scale and their difference,
the costs per optimisation step, a few channels' feature maps, and λ·J_style per layer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from core.colors import PALETTE
from core.plots.curves import curves

GRAM_SCALE = "Viridis"
DIFF_SCALE = "RdBu_r"  # negative blue, zero white, positive red
MAP_SCALE = "Inferno"
COST_COLORS = {"J_content": PALETTE[0], "J_style": PALETTE[1], "J_total": PALETTE[3]}


def _matrix_axes(fig: go.Figure, n: int, panels: int) -> None:
    """Panels 1..``panels`` show an n × n matrix: square cells, row 0 on top, axis titles on every panel."""
    for k in range(panels):
        suffix = str(k + 1) if k else ""
        fig.layout[f"xaxis{suffix}"].update(range=[-0.5, n - 0.5], title=dict(text="channel k'", font_size=12),
                                            showgrid=False, zeroline=False, constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(range=[n - 0.5, -0.5], autorange=False, scaleanchor=f"x{suffix}",
                                            showgrid=False, zeroline=False, constrain="domain",
                                            title=dict(text="channel k" if k == 0 else "", font_size=12))


def _gamma_scale(name: str, gamma: float, *, diverging: bool = False, stops: int = 33) -> list[list]:
    """Colour scale ``name`` with its colours moved so that small values (small |values| for a diverging
    scale centred on its middle) get more of them: colour(p) = name(p ** gamma); gamma = 1 is ``name`` itself.
    The data and the colour bar's numbers stay as they are."""
    out = []
    for i in range(stops):
        p = i / (stops - 1)
        if diverging:
            t = 2 * p - 1
            q = 0.5 + 0.5 * math.copysign(abs(t) ** gamma, t)
        else:
            q = p ** gamma
        out.append([p, sample_colorscale(name, [q])[0]])
    return out


def gram_pair(g_a: np.ndarray, g_b: np.ndarray, *, names: tuple[str, str] = ("style image", "generated image"),
              layer: str, channels: int | None = None, gamma: float = 1.0, height: int = 430) -> go.Figure:
    """Two Gram matrices [C, C] side by side on ONE colour scale (min to max of both), and their difference
    G_a − G_b on a diverging scale centred at 0 (blue: larger in ``names[1]``, red: larger in ``names[0]``).

    ``channels``: show only the first ``channels`` channels of both (the slice k, k' < channels).
    ``gamma`` < 1 spreads the colours over the small values (0.5: square-root colours); the numbers are unchanged.
    """
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    g_a, g_b = np.asarray(g_a, dtype=float), np.asarray(g_b, dtype=float)
    if g_a.ndim != 2 or g_a.shape[0] != g_a.shape[1] or g_a.shape != g_b.shape:
        raise ValueError(f"two square Gram matrices of the same size are needed, got {list(g_a.shape)} and {list(g_b.shape)}")
    total = g_a.shape[0]
    n = total if channels is None else int(channels)
    if not 1 <= n <= total:
        raise ValueError(f"channels must be between 1 and {total}, got {channels}")
    g_a, g_b = g_a[:n, :n], g_b[:n, :n]
    diff = g_a - g_b
    lo, hi = float(min(g_a.min(), g_b.min())), float(max(g_a.max(), g_b.max()))
    hi = hi if hi > lo else lo + 1.0
    m = float(np.abs(diff).max()) or 1.0
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.14,
                        subplot_titles=(f"Gram matrix, {names[0]}", f"Gram matrix, {names[1]}",
                                        "difference (first − second)"))
    gram_scale = GRAM_SCALE if gamma == 1 else _gamma_scale(GRAM_SCALE, gamma)
    diff_scale = DIFF_SCALE if gamma == 1 else _gamma_scale(DIFF_SCALE, gamma, diverging=True)

    def hover(what: str) -> str:
        return "k = %{y}, k' = %{x}<br>" + what + " = %{z:.4g}<extra></extra>"

    for col, (z, name) in enumerate(((g_a, names[0]), (g_b, names[1])), start=1):
        fig.add_trace(go.Heatmap(z=z, colorscale=gram_scale, zmin=lo, zmax=hi, showscale=col == 2, name=f"G ({name})",
                                 hovertemplate=hover(f"G<sub>kk'</sub> ({name})"),
                                 colorbar=dict(title=dict(text="G", side="top"), thickness=10, len=0.85,
                                               x=fig.layout.xaxis2.domain[1] + 0.01, xanchor="left",
                                               exponentformat="power")),
                      row=1, col=col)
    fig.add_trace(go.Heatmap(z=diff, colorscale=diff_scale, zmin=-m, zmax=m, zmid=0.0, showscale=True, name="difference",
                             hovertemplate=hover("difference"),
                             colorbar=dict(title=dict(text="diff", side="top"), thickness=10, len=0.85, x=1.0,
                                           exponentformat="power")),
                  row=1, col=3)
    _matrix_axes(fig, n, 3)
    shown = f"first {n} of {total} channels" if n < total else f"all {total} channels"
    shown += ", square-root colours" if gamma == 0.5 else (f", colours ∝ value^{gamma:g}" if gamma != 1 else "")
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=60, r=30, t=80, b=50),
                      title=dict(text=f"Gram matrices at {layer} ({shown})", font_size=15))
    fig.update_annotations(font_size=13)
    return fig


def cost_curves(rows: Sequence[Mapping[str, float]], *, log_y: bool = True, title: str = "Costs per step") -> go.Figure:
    """J_content, J_style and J against the step, from rows like {"step", "J_content", "J_style", "J_total"};
    a cost that is zero at every step (its weight was 0) is left out."""
    series = {}
    for key in ("J_content", "J_style", "J_total"):
        values = [float(r.get(key, 0.0)) for r in rows]
        if any(v != 0 for v in values):
            label = "J (total)" if key == "J_total" else key
            series[label] = ([float(r["step"]) for r in rows], values)
    colors = {("J (total)" if k == "J_total" else k): c for k, c in COST_COLORS.items()}
    return curves(series, xlabel="step", ylabel="cost", title=title, log_y=log_y, colors=colors)


def feature_maps(acts: np.ndarray, channels: Sequence[int], title: str, *, zmax: Sequence[float] | None = None,
                 columns: int = 4, height: int | None = None, panel_width: int = 230) -> go.Figure:
    """The maps a[k] of the chosen ``channels`` of activations ``acts`` [C, H, W], in a grid ``columns`` wide.

    Each map has its own colour scale from 0 (or its minimum, when negative) to its maximum, or to
    ``zmax[i]`` when given (so that the same channel of two images can share a scale). Without ``height``
    the figure is as tall as maps ``panel_width`` pixels wide need.
    """
    acts = np.asarray(acts, dtype=float)
    if acts.ndim != 3:
        raise ValueError(f"activations must be [C, H, W], got shape {list(acts.shape)}")
    channels = [int(k) for k in channels]
    if not channels:
        raise ValueError("pick at least one channel")
    bad = [k for k in channels if not 0 <= k < acts.shape[0]]
    if bad:
        raise ValueError(f"channel {bad[0]} does not exist: the layer has channels 0 to {acts.shape[0] - 1}")
    if zmax is not None and len(zmax) != len(channels):
        raise ValueError("zmax needs one value per channel")
    cols = min(columns, len(channels))
    rows = math.ceil(len(channels) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"channel {k}" for k in channels],
                        horizontal_spacing=0.03, vertical_spacing=0.1)
    h, w = acts.shape[1:]
    for i, k in enumerate(channels):
        z = acts[k]
        lo = min(0.0, float(z.min()))
        hi = float(zmax[i]) if zmax is not None else float(z.max())
        fig.add_trace(go.Heatmap(z=z, colorscale=MAP_SCALE, zmin=lo, zmax=hi if hi > lo else lo + 1.0, showscale=False,
                                 name=f"channel {k}", hovertemplate=f"channel {k}<br>row %{{y}}, column %{{x}}<br>"
                                 "a = %{z:.4g}<extra></extra>"), row=i // cols + 1, col=i % cols + 1)
    for i in range(len(channels)):
        suffix = str(i + 1) if i else ""
        fig.layout[f"xaxis{suffix}"].update(range=[-0.5, w - 0.5], showticklabels=False, showgrid=False, zeroline=False,
                                            constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(range=[h - 0.5, -0.5], autorange=False, scaleanchor=f"x{suffix}",
                                            showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_layout(template="plotly_white", title=dict(text=title, font_size=14), margin=dict(l=10, r=10, t=60, b=10),
                      height=height or (70 + rows * (round(panel_width * h / max(w, 1)) + 45)))
    fig.update_annotations(font_size=12)
    return fig


def layer_costs_bar(per_layer: Mapping[str, float], weights: Mapping[str, float], *, log_y: bool = False,
                    title: str | None = None) -> go.Figure:
    """Bars of λ^[l] · J_style^[l] per layer (their sum is J_style); the hover gives λ and J_style^[l] too."""
    if set(per_layer) != set(weights):
        raise ValueError(f"style costs for {sorted(per_layer)} but weights for {sorted(weights)}")
    names = list(per_layer)
    lam = [float(weights[n]) for n in names]
    j = [float(per_layer[n]) for n in names]
    terms = [a * b for a, b in zip(lam, j)]
    total = sum(terms)
    fig = go.Figure(go.Bar(
        x=names, y=terms, marker_color=PALETTE[1], text=[f"{t:.3g}" for t in terms], textposition="outside",
        customdata=np.column_stack([lam, j]), name="λ·J_style per layer",
        hovertemplate="%{x}<br>λ = %{customdata[0]:.3g}<br>J_style = %{customdata[1]:.4g}<br>λ·J_style = %{y:.4g}"
                      "<extra></extra>",
    ))
    fig.update_layout(template="plotly_white", height=360, margin=dict(l=60, r=20, t=60, b=50),
                      title=title or f"λ·J_style per layer (their sum J_style = {total:.4g})",
                      xaxis_title="layer", yaxis_title="λ·J_style" + (" (log scale)" if log_y else ""))
    fig.update_yaxes(exponentformat="power")
    if log_y:
        fig.update_yaxes(type="log")
    else:
        fig.update_yaxes(range=[0, max(terms + [0.0]) * 1.18 or 1.0])
    return fig

"""Figures for the Network basics page: activations and their slopes, gradient norms per layer,
the small backprop network, the two losses and their gradients, and vectorization timings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.colors import PALETTE
from core.plots.curves import curves

ACT_COLORS = {"sigmoid": PALETTE[0], "ReLU": PALETTE[1], "tanh": PALETTE[2], "leaky ReLU": PALETTE[3]}
LOSS_COLORS = {"MSE": PALETTE[0], "cross-entropy": PALETTE[1]}
IMPL_COLORS = {"Python loops": PALETTE[1], "NumPy": PALETTE[0], "torch CPU": PALETTE[2], "torch GPU": PALETTE[3]}


def activations_figure(
    z_grid: np.ndarray,
    values: Mapping[str, tuple[np.ndarray, np.ndarray]],
    z_current: float,
    at_current: Mapping[str, tuple[float, float]],
    selected: str | None = None,
) -> go.Figure:
    """One panel per activation: g(z) solid, g'(z) dashed, the current z as a dotted line with
    dots at (z, g(z)) and (z, g'(z)).

    ``values``: name -> (g over ``z_grid``, g' over ``z_grid``); ``at_current``: name -> (g(z), g'(z)).
    The ``selected`` activation's panel title is marked "(in use)".
    """
    names = list(values)
    if not names:
        raise ValueError("give at least one activation")
    titles = [f"{n} (in use)" if n == selected else n for n in names]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.03)
    for col, name in enumerate(names, start=1):
        g, dg = values[name]
        color = ACT_COLORS.get(name, PALETTE[col % len(PALETTE)])
        first = col == 1
        if first:  # neutral legend entries: the colour tells the activation, the dash tells g or g'
            fig.add_scatter(x=[None], y=[None], mode="lines", name="g(z)", line=dict(color="#555", width=2.4), row=1, col=1)
            fig.add_scatter(x=[None], y=[None], mode="lines", name="g'(z)", line=dict(color="#555", width=2, dash="dash"),
                            row=1, col=1)
        fig.add_scatter(x=z_grid, y=g, mode="lines", name="g(z)", legendgroup="g", showlegend=False,
                        line=dict(color=color, width=2.4), row=1, col=col,
                        hovertemplate=f"{name}<br>z %{{x:.2f}}<br>g(z) %{{y:.4f}}<extra></extra>")
        fig.add_scatter(x=z_grid, y=dg, mode="lines", name="g'(z)", legendgroup="dg", showlegend=False,
                        line=dict(color=color, width=2, dash="dash"), row=1, col=col,
                        hovertemplate=f"{name}<br>z %{{x:.2f}}<br>g'(z) %{{y:.4f}}<extra></extra>")
        a, slope = at_current[name]
        fig.add_scatter(x=[z_current, z_current], y=[a, slope], mode="markers", showlegend=False,
                        marker=dict(color="black", size=9, symbol=["circle", "diamond"]), row=1, col=col,
                        hovertemplate=f"z = {z_current:.3f}<br>%{{y:.4f}}<extra></extra>")
        fig.add_vline(x=z_current, line=dict(color="gray", dash="dot", width=1.2), row=1, col=col)
        fig.update_xaxes(title_text="z", row=1, col=col)
    fig.update_yaxes(range=[-1.2, 2.2], zeroline=True)
    fig.update_layout(template="plotly_white", height=350, margin=dict(l=40, r=20, t=85, b=40),
                      legend=dict(orientation="h", y=1.3, x=1, xanchor="right", yanchor="bottom"),
                      title=dict(text="Activations g (solid) and their derivatives g' (dashed); dotted line: your z",
                                 y=0.98, x=0, xanchor="left", font=dict(size=14)))
    return fig


def depth_gradients_figure(norms: Mapping[str, Sequence[float]]) -> go.Figure:
    """Gradient norm ‖∂L/∂W^[l]‖ per layer l (1 = next to the input) for each activation, log scale."""
    series = {name: (np.arange(1, len(v) + 1), np.asarray(v, dtype=float)) for name, v in norms.items()}
    colors = {n: ACT_COLORS.get(n, PALETTE[i]) for i, n in enumerate(norms)}
    fig = curves(series, xlabel="layer l (1 = next to the input)", ylabel="‖∂L/∂W^[l]‖", log_y=True,
                 title="Gradient reaching each layer at initialisation", colors=colors)
    fig.update_traces(mode="lines+markers")
    fig.update_yaxes(exponentformat="power")
    fig.update_xaxes(tickformat="d", dtick=1 if max((len(v) for v in norms.values()), default=0) <= 20 else None)
    return fig


def network_figure(
    x: Sequence[float], b: Sequence[float], y_hat: Sequence[float], v: np.ndarray, w: np.ndarray, y: Sequence[float] | None = None
) -> go.Figure:
    """The d-q-l network as a diagram: inputs x_i, hidden outputs b_h, outputs ŷ_j (values on the
    nodes), edges v_ih and w_hj drawn with width ∝ |weight| (blue positive, red negative)."""
    v, w = np.asarray(v, dtype=float), np.asarray(w, dtype=float)
    layers = [list(x), list(b), list(y_hat)]
    names = [[f"x_{i + 1}" for i in range(len(x))], [f"b_{h + 1}" for h in range(len(b))],
             [f"ŷ_{j + 1}" for j in range(len(y_hat))]]
    if v.shape != (len(x), len(b)) or w.shape != (len(b), len(y_hat)):
        raise ValueError("v must be (d, q) and w must be (q, l)")

    def ys(n: int) -> np.ndarray:
        return np.linspace(1, -1, n) * (n - 1) / 4 if n > 1 else np.zeros(1)

    pos = [[(float(col), float(yy)) for yy in ys(len(layer))] for col, layer in enumerate(layers)]
    fig = go.Figure()
    scale = max(float(np.abs(v).max(initial=0)), float(np.abs(w).max(initial=0)), 1e-9)
    for left, mats, sym in ((0, v, "v"), (1, w, "w")):
        for a in range(mats.shape[0]):
            for c in range(mats.shape[1]):
                (x0, y0), (x1, y1) = pos[left][a], pos[left + 1][c]
                val = mats[a, c]
                fig.add_scatter(x=[x0, x1], y=[y0, y1], mode="lines", showlegend=False, hoverinfo="skip",
                                line=dict(color="#1f77b4" if val >= 0 else "#d62728", width=0.8 + 5 * abs(val) / scale),
                                opacity=0.55)
                fig.add_scatter(x=[x0 + 0.3 * (x1 - x0)], y=[y0 + 0.3 * (y1 - y0)], mode="markers", showlegend=False,
                                marker=dict(size=12, color="rgba(0,0,0,0)"),
                                hovertemplate=f"{sym}_{a + 1}{c + 1} = {val:.3f}<extra></extra>")
    kinds = ("input", "hidden (sigmoid)", "output (sigmoid)")
    for col, layer in enumerate(layers):
        px = [p[0] for p in pos[col]]
        py = [p[1] for p in pos[col]]
        labels = [f"{n} = {val:.3f}" for n, val in zip(names[col], layer, strict=True)]
        if col == 2 and y is not None:
            labels = [f"{lab}  (y = {t:g})" for lab, t in zip(labels, y, strict=True)]
        fig.add_scatter(x=px, y=py, mode="markers+text", text=labels, name=kinds[col], showlegend=False,
                        textposition=("middle left", "top center", "middle right")[col], textfont=dict(color="#222", size=13),
                        marker=dict(size=26, color=PALETTE[col], line=dict(color="white", width=2)),
                        hovertemplate="%{text}<extra></extra>")
    top = max(len(layer) for layer in layers)
    fig.update_xaxes(visible=False, range=[-0.9, 2.9])
    fig.update_yaxes(visible=False, range=[-(top - 1) / 4 - 0.35, (top - 1) / 4 + 0.35])
    fig.update_layout(template="plotly_white", height=260 + 30 * top, margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text="Forward pass (edge width ∝ |weight|, blue > 0, red < 0)", font=dict(size=14)))
    return fig


def loss_vs_probability_figure(p: np.ndarray, losses: Mapping[str, np.ndarray], y: float = 1.0) -> go.Figure:
    """Each loss of one example against the predicted probability p of class 1 (label ``y``)."""
    fig = curves({k: (p, v) for k, v in losses.items()}, xlabel="predicted probability ŷ of class 1",
                 ylabel="loss", title=f"Loss of one example with true label y = {y:g}", colors=LOSS_COLORS)
    fig.update_yaxes(range=[0, 5])
    return fig


def z_gradient_figure(z: np.ndarray, grads: Mapping[str, np.ndarray], z_current: float,
                      at_current: Mapping[str, float], y: float = 1.0) -> go.Figure:
    """|dL/dz| against the pre-activation z of a sigmoid output for each loss, with the current z marked."""
    fig = curves({k: (z, np.abs(v)) for k, v in grads.items()}, xlabel="pre-activation z (ŷ = σ(z))",
                 ylabel="|dL/dz|", title=f"How hard each loss pushes z (true label y = {y:g})", colors=LOSS_COLORS)
    for name, val in at_current.items():
        fig.add_scatter(x=[z_current], y=[abs(val)], mode="markers", showlegend=False,
                        marker=dict(color=LOSS_COLORS.get(name, "black"), size=11, line=dict(color="black", width=1)),
                        hovertemplate=f"{name}: |dL/dz| = {abs(val):.4g} at z = {z_current:.2f}<extra></extra>")
    fig.add_vline(x=z_current, line=dict(color="gray", dash="dot", width=1.2))
    return fig


def timing_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> go.Figure:
    """Seconds per forward pass against the size n, one line per implementation, log–log."""
    colors = {k: IMPL_COLORS.get(k, PALETTE[i]) for i, k in enumerate(series)}
    fig = curves(series, xlabel="size n (n inputs, n units, n examples)", ylabel="seconds per forward pass",
                 log_y=True, title="Time of one layer's forward pass", colors=colors)
    fig.update_traces(mode="lines+markers")
    sizes = sorted({float(v) for x, _ in series.values() for v in x})
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[f"{v:g}" for v in sizes])
    fig.update_yaxes(exponentformat="power")
    return fig

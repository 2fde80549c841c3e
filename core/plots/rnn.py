"""Figures for the RNNs page (pure: data in, ``go.Figure`` out): gate heatmaps over time with
the current step marked, one step's gate values, gradient norms against the distance from the
end (log scale), gradient norms before and after clipping, the language model's per-epoch
loss and perplexity, and the uni- vs bidirectional accuracies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.colors import PALETTE
from core.plots.curves import curves

__all__ = [
    "CELL_COLORS",
    "accuracy_bars",
    "clipping_bars",
    "gate_heatmaps",
    "gate_step_bars",
    "gradient_norms",
    "gradient_vs_length",
    "lm_epochs",
    "position_accuracy",
]

CELL_COLORS = {"RNN": "#d62728", "LSTM": "#1f77b4", "GRU": "#2ca02c",
               "unidirectional": "#ff7f0e", "bidirectional": "#1f77b4"}
GATE_LABELS = {
    "forget": "forget gate f", "input": "input gate i", "candidate": "candidate", "output": "output gate o",
    "cell": "cell state C", "hidden": "hidden state h", "update": "update gate z", "reset": "reset gate r",
}
SIGMOID_GATES = {"forget", "input", "output", "update", "reset"}


def _layout(fig: go.Figure, title: str, height: int = 400, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def _char_label(c: str) -> str:
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c, c)


def gate_heatmaps(gates: Mapping[str, np.ndarray], text: str, step: int | None = None, *,
                  title: str = "Gate activations: units (rows) × time steps (columns)") -> go.Figure:
    """One heatmap per gate, [T, H] arrays shown as units × steps; the x axis is labelled with
    the characters read; ``step`` (1-based) is outlined. Sigmoid gates on [0, 1] (white → blue),
    the rest on a diverging scale centred on 0."""
    names = list(gates)
    n = len(names)
    if n == 0:
        return _layout(go.Figure(), title)
    cols = 2 if n > 1 else 1
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[GATE_LABELS.get(k, k) for k in names],
                        horizontal_spacing=0.08, vertical_spacing=0.14 if rows < 3 else 0.1)
    T = len(text)
    ticks = [f"{t + 1}<br>{_char_label(c)}" for t, c in enumerate(text)]
    for k, name in enumerate(names):
        z = np.asarray(gates[name], float).T  # (H, T)
        r, c = k // cols + 1, k % cols + 1
        if name in SIGMOID_GATES:
            scale = dict(colorscale="Blues", zmin=0.0, zmax=1.0)
        else:
            m = float(np.abs(z).max()) if z.size else 1.0
            scale = dict(colorscale="RdBu", zmid=0.0, zmin=-max(m, 1e-6), zmax=max(m, 1e-6), reversescale=True)
        fig.add_trace(go.Heatmap(z=z.round(6).tolist(), x=list(range(1, T + 1)), y=list(range(1, z.shape[0] + 1)), showscale=False,
                                 hovertemplate=f"{GATE_LABELS.get(name, name)}<br>step %{{x}}, unit %{{y}}"
                                               "<br>value %{z:.3f}<extra></extra>", **scale), row=r, col=c)
        fig.update_xaxes(tickvals=list(range(1, T + 1)) if T <= 40 else None, ticktext=ticks if T <= 40 else None,
                         row=r, col=c)
        fig.update_yaxes(title_text="unit" if c == 1 else None, autorange="reversed", row=r, col=c)
        if step is not None and 1 <= step <= T:
            fig.add_shape(type="rect", x0=step - 0.5, x1=step + 0.5, y0=0.5, y1=z.shape[0] + 0.5,
                          line=dict(color="#ff7f0e", width=2.5), row=r, col=c)
    return _layout(fig, title, height=260 * rows + 80, margin=dict(l=60, r=20, t=90, b=40))


def gate_step_bars(gates: Mapping[str, np.ndarray], step: int, char: str, *, title: str | None = None) -> go.Figure:
    """Every gate's value per unit at one step (1-based), grouped bars."""
    fig = go.Figure()
    for i, (name, values) in enumerate(gates.items()):
        v = np.asarray(values, float)[step - 1]
        fig.add_bar(x=list(range(1, len(v) + 1)), y=v, name=GATE_LABELS.get(name, name),
                    marker_color=PALETTE[i % len(PALETTE)])
    fig.update_xaxes(title_text="unit", dtick=1)
    fig.update_yaxes(title_text="value")
    return _layout(fig, title or f"Step {step}: after reading {_char_label(char)!r}", height=340, barmode="group",
                   legend=dict(orientation="h", y=-0.25))


def gradient_norms(table: pd.DataFrame, T: int, *, title: str | None = None) -> go.Figure:
    """‖∂L/∂x⟨t⟩‖ against the distance T − t from the last step (log scale), one line per cell,
    for the rows of ``table`` (from :func:`core.rnn.gradients.gradient_table`) with this T."""
    rows = table[table["T"] == T]
    series = {kind: (g["distance"].to_numpy(), g["norm"].to_numpy()) for kind, g in rows.groupby("cell", sort=False)}
    fig = curves(series, xlabel="distance from the last step (T − t)", ylabel="‖∂L/∂x⟨t⟩‖", log_y=True,
                 title=title or f"How much the last step's loss reaches back (T = {T})", colors=CELL_COLORS)
    fig.update_layout(height=420, legend=dict(orientation="h", y=-0.2))
    return fig


def gradient_vs_length(table: pd.DataFrame, *, title: str = "Gradient at the first input, relative to the last input") -> go.Figure:
    """For each cell and length T: ‖∂L/∂x⟨1⟩‖ / ‖∂L/∂x⟨T⟩‖ (log scale)."""
    first = table[table["t"] == 1]
    series = {kind: (g["T"].to_numpy(), g["ratio"].to_numpy()) for kind, g in first.groupby("cell", sort=False)}
    fig = curves(series, xlabel="sequence length T", ylabel="ratio", log_y=True, title=title, colors=CELL_COLORS)
    for tr in fig.data:
        tr.mode = "lines+markers"
    fig.update_layout(height=380, legend=dict(orientation="h", y=-0.22))
    return fig


def clipping_bars(table: pd.DataFrame, max_norm: float, *, title: str = "Gradient norms before and after clipping") -> go.Figure:
    """Per parameter and globally: the norm before and after ``clip_grad_norm_`` (log scale),
    with the threshold c as a dashed line."""
    fig = go.Figure()
    fig.add_bar(x=table["parameter"], y=table["norm before"], name="before clipping", marker_color="#d62728")
    fig.add_bar(x=table["parameter"], y=table["norm after"], name="after clipping", marker_color="#2ca02c")
    fig.add_hline(y=max_norm, line=dict(color="#555", dash="dash"), annotation_text=f"c = {max_norm:g}",
                  annotation_position="top left")
    fig.update_yaxes(type="log", title_text="‖g‖ (log scale)")
    return _layout(fig, title, height=380, barmode="group", legend=dict(orientation="h", y=-0.2))


def lm_epochs(rows: Sequence[Mapping[str, float]], *, unigram: float | None = None, perplexity: bool = False,
              title: str | None = None) -> go.Figure:
    """Per-epoch train and dev loss (nats per character) or perplexity e^loss; ``unigram``
    (the loss of the best model that ignores context) as a dashed reference."""
    f = np.exp if perplexity else (lambda v: v)
    series = {}
    for key, name in (("epoch_train_loss", "train"), ("dev_loss", "dev")):
        pts = [(r["epoch"], r[key]) for r in rows if key in r]
        if pts:
            x, y = zip(*pts)
            series[name] = (x, f(np.minimum(np.asarray(y, float), 50)))
    label = "perplexity" if perplexity else "loss (nats per character)"
    fig = curves(series, xlabel="epoch", ylabel=label,
                 title=title or ("Perplexity per epoch" if perplexity else "Cross-entropy per epoch"),
                 colors={"train": "#1f77b4", "dev": "#ff7f0e"})
    if unigram is not None and np.isfinite(unigram):
        ref = float(f(unigram))
        fig.add_hline(y=ref, line=dict(color="#777", dash="dash"),
                      annotation_text=f"unigram ({'e^H = ' if perplexity else 'H = '}{ref:.2f})",
                      annotation_position="top right")
    fig.update_layout(height=360, legend=dict(orientation="h", y=-0.25))
    return fig


def accuracy_bars(accuracy: Mapping[str, float], ceiling: float, *,
                  title: str = "Dev accuracy: unidirectional vs bidirectional") -> go.Figure:
    """One bar per model, with the best accuracy any left-to-right model can reach dashed."""
    names = list(accuracy)
    fig = go.Figure(go.Bar(x=names, y=[accuracy[n] for n in names], text=[f"{accuracy[n]:.1%}" for n in names],
                           textposition="outside", marker_color=[CELL_COLORS.get(n, "#888") for n in names]))
    fig.add_hline(y=ceiling, line=dict(color="#555", dash="dash"),
                  annotation_text=f"best possible left-to-right: {ceiling:.0%}", annotation_position="bottom right",
                  annotation=dict(bgcolor="rgba(255,255,255,0.85)"))
    fig.update_traces(width=0.5)
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title_text="accuracy")
    return _layout(fig, title, height=360)


def position_accuracy(per_position: Mapping[str, Sequence[float]], ceiling: float, *,
                      title: str = "Dev accuracy at each position") -> go.Figure:
    """Accuracy at t = 1 … T−1 per model, with the left-to-right ceiling dashed."""
    series = {n: (np.arange(1, len(v) + 1), np.asarray(v, float)) for n, v in per_position.items()}
    fig = curves(series, xlabel="position t", ylabel="accuracy", title=title, colors=CELL_COLORS)
    for tr in fig.data:
        tr.mode = "lines+markers"
    fig.add_hline(y=ceiling, line=dict(color="#555", dash="dash"))
    fig.update_yaxes(range=[0.4, 1.05], tickformat=".0%")
    fig.update_xaxes(dtick=1)
    fig.update_layout(height=360, legend=dict(orientation="h", y=-0.25))
    return fig

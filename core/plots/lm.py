"""Figures of the Transformer language model (pure: data in, ``go.Figure`` out): the next-character
probabilities of a typed text, every layer's and head's causal attention as a grid, and the dev
perplexities of the Transformer and the RNNs page's character model side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["char_label", "heads_grid", "next_char_bars", "perplexity_bars"]

MODEL_COLORS = {"Transformer": "#9467bd", "RNN": "#d62728", "LSTM": "#1f77b4", "GRU": "#2ca02c"}


def char_label(c: str) -> str:
    """A character as a label: space, newline and tab made visible."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c, c)


def _layout(fig: go.Figure, title: str, height: int, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def next_char_bars(chars: Sequence[str], probs: Sequence[float], *, top: int = 15,
                   title: str = "Probability of the next character") -> go.Figure:
    """The ``top`` most probable next characters as bars, most probable first."""
    p = np.asarray(probs, dtype=float)
    if p.ndim != 1 or len(p) != len(chars):
        raise ValueError(f"give one probability per character ({len(chars)} characters, {p.size} probabilities)")
    order = np.argsort(-p, kind="stable")[: max(top, 1)]
    labels = [f"{char_label(chars[i])}" for i in order]
    fig = go.Figure(go.Bar(x=list(range(len(order))), y=p[order], text=[f"{p[i]:.1%}" for i in order],
                           textposition="outside", marker_color="#9467bd",
                           customdata=labels, hovertemplate="%{customdata}: %{y:.4f}<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(order))), ticktext=labels, title="next character")
    fig.update_yaxes(title="probability", range=[0, min(1.0, float(p[order].max()) * 1.2 + 0.02)])
    return _layout(fig, title, 340)


def heads_grid(chars: Sequence[str], weights: Any, *, title: str = "Causal self-attention, layer by layer and head by head") -> go.Figure:
    """Weights [layers, heads, T, T] as a grid of heatmaps (rows: layers, columns: heads); in each, row t is
    where character t looked, and everything right of the diagonal is 0 (the causal mask)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 4 or w.shape[2:] != (len(chars), len(chars)):
        raise ValueError(f"the weights must be [layers, heads, {len(chars)}, {len(chars)}], got {list(w.shape)}")
    layers, heads = w.shape[:2]
    fig = make_subplots(rows=layers, cols=heads, horizontal_spacing=0.03, vertical_spacing=0.08,
                        subplot_titles=[f"layer {i + 1}, head {j + 1}" for i in range(layers) for j in range(heads)])
    ticks = [char_label(c) for c in chars]
    idx = list(range(len(chars)))
    for i in range(layers):
        for j in range(heads):
            fig.add_trace(go.Heatmap(z=w[i, j], x=idx, y=idx, zmin=0, zmax=1, colorscale="Purples",
                                     showscale=(i == 0 and j == 0), colorbar=dict(title="weight"),
                                     customdata=np.array([[f"{ticks[r]} → {ticks[c]}" for c in idx] for r in idx]),
                                     hovertemplate="%{customdata}: %{z:.3f}<extra>" + f"L{i + 1} H{j + 1}</extra>"),
                          row=i + 1, col=j + 1)
    show = len(chars) <= 24
    fig.update_xaxes(tickmode="array", tickvals=idx, ticktext=ticks, showticklabels=show, tickangle=0)
    fig.update_yaxes(tickmode="array", tickvals=idx, ticktext=ticks, showticklabels=show, autorange="reversed")
    return _layout(fig, title, 80 + 220 * layers, margin=dict(l=30, r=20, t=80, b=30))


def perplexity_bars(perplexity: Mapping[str, float], *, unigram: float | None = None,
                    title: str = "Dev perplexity (lower is better)") -> go.Figure:
    """One bar per model; ``unigram`` (e^H of the character frequencies) dashed as the no-context baseline."""
    names = [k for k, v in perplexity.items() if v is not None and np.isfinite(v)]
    colors = [next((c for key, c in MODEL_COLORS.items() if n.startswith(key)), "#7f7f7f") for n in names]
    fig = go.Figure(go.Bar(x=names, y=[perplexity[n] for n in names], text=[f"{perplexity[n]:.2f}" for n in names],
                           textposition="outside", marker_color=colors))
    if unigram is not None and np.isfinite(unigram):
        fig.add_hline(y=unigram, line=dict(color="#777", dash="dash"), annotation_text=f"unigram ({unigram:.2f})",
                      annotation_position="top right")
    top = max([perplexity[n] for n in names] + [unigram or 0.0, 1.0])
    fig.update_yaxes(title="perplexity e^loss", range=[0, top * 1.2])
    return _layout(fig, title, 340)

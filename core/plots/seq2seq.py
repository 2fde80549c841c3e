"""Figures for the Sequence models page (pure: data in, ``go.Figure`` out): training
curves of the variants, the attention heatmap of one translation, the beam-search tree,
and BLEU's n-gram precisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.plots.curves import curves

__all__ = ["VARIANT_COLORS", "attention_heatmap", "beam_tree", "bleu_precisions", "cross_attention_grid",
           "exact_match_by_length_chart", "seq2seq_loss_curves"]

VARIANT_COLORS = {"attention": "#1f77b4", "no attention": "#ff7f0e", "transformer": "#2ca02c"}
KEPT, PRUNED, DONE = "#2ca02c", "#b0b0b0", "#d62728"


def _layout(fig: go.Figure, title: str, height: int = 400, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def seq2seq_loss_curves(steps: Mapping[str, Sequence[Mapping[str, float]]],
                epochs: Mapping[str, Sequence[Mapping[str, float]]] | None = None, *,
                title: str = "Token cross-entropy while training") -> go.Figure:
    """Per variant: the training loss per step (smoothed over a faint raw line) and, as
    dotted markers at the end of each epoch, the dev loss."""
    series = {name: ([r["step"] for r in rows], [r["loss"] for r in rows]) for name, rows in steps.items()}
    colors = {name: VARIANT_COLORS.get(name, "#7f7f7f") for name in steps}
    fig = curves(series, xlabel="step", ylabel="cross-entropy per token", title=title, log_y=True,
                 smoothing=0.6 if any(len(v[0]) > 20 for v in series.values()) else 0.0, colors=colors)
    for name, rows in (epochs or {}).items():
        rows = [r for r in rows if "dev_loss" in r and r["dev_loss"] > 0]
        if not rows or name not in steps or not steps[name]:
            continue
        per_epoch = max(int(r["step"]) for r in steps[name]) / max(int(rows[-1]["epoch"]), 1)
        fig.add_scatter(x=[r["epoch"] * per_epoch for r in rows], y=[r["dev_loss"] for r in rows],
                        mode="lines+markers", name=f"{name}: dev", line=dict(color=colors.get(name), dash="dot"),
                        hovertemplate=f"<b>{name}: dev</b><br>epoch end, step %{{x:.0f}}<br>loss %{{y:.4g}}<extra></extra>")
    fig.update_layout(height=380, legend=dict(orientation="h", y=-0.25))
    return fig


def _show(token: str) -> str:
    return "␣" if token == " " else token


def attention_heatmap(source_tokens: Sequence[str], output_tokens: Sequence[str], weights: Sequence[Sequence[float]],
                      *, title: str = "Attention: where each output character looked") -> go.Figure:
    """Weights [T_out, T_src] as a heatmap: one row per output token (top to bottom), one
    column per source token; every row sums to 1."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(output_tokens), len(source_tokens)):
        raise ValueError(f"the weights must be [outputs, sources] = [{len(output_tokens)}, {len(source_tokens)}], "
                         f"got {list(w.shape)}")
    xs = [f"{i}:{_show(t)}" for i, t in enumerate(source_tokens)]
    ys = [f"{i}:{_show(t)}" for i, t in enumerate(output_tokens)]
    fig = go.Figure(go.Heatmap(
        z=w, x=xs, y=ys, colorscale="Blues", zmin=0, zmax=max(float(w.max()) if w.size else 1.0, 1e-9),
        colorbar=dict(title="weight α"),
        hovertemplate="output %{y}<br>source %{x}<br>α = %{z:.3f}<extra></extra>",
    ))
    fig.update_xaxes(title="source (input) tokens", tickmode="array", tickvals=xs,
                     ticktext=[_show(t) for t in source_tokens], tickangle=0, side="bottom")
    fig.update_yaxes(title="output tokens", tickmode="array", tickvals=ys, ticktext=[_show(t) for t in output_tokens],
                     autorange="reversed")
    return _layout(fig, title, height=max(300, 60 + 28 * len(output_tokens)),
                   width=None, margin=dict(l=70, r=20, t=60, b=60))


def beam_tree(nodes: Sequence[Any], tokens: Sequence[str], *, eos: int, best_path: Sequence[int] = (),
              title: str = "Beam search tree") -> go.Figure:
    """The partial hypotheses beam search considered: one column per step, kept ones
    (green), the most probable pruned ones (grey), finished ones ending in <eos> (red);
    lines join each hypothesis to the one it extends, and ``best_path`` (node ids) is drawn
    thick. ``nodes`` are :class:`core.seq2seq.beam.TreeNode`."""
    if not nodes:
        raise ValueError("the tree is empty")
    by_id = {n.id: n for n in nodes}
    ypos: dict[int, float] = {}
    steps = sorted({n.step for n in nodes})
    for t in steps:
        layer = [n for n in nodes if n.step == t]
        layer.sort(key=lambda n: (ypos.get(n.parent, 0.0) if n.parent is not None else 0.0, -n.log_prob))
        for i, n in enumerate(layer):
            ypos[n.id] = float(i)
    fig = go.Figure()
    best = set(best_path)
    ex, ey, bx, by = [], [], [], []
    for n in nodes:
        if n.parent is None:
            continue
        p = by_id[n.parent]
        xs, ys = (bx, by) if n.id in best and n.parent in best else (ex, ey)
        xs += [p.step, n.step, None]
        ys += [ypos[p.id], ypos[n.id], None]
    fig.add_scatter(x=ex, y=ey, mode="lines", line=dict(color="#d0d0d0", width=1), hoverinfo="skip", showlegend=False)
    if bx:
        fig.add_scatter(x=bx, y=by, mode="lines", line=dict(color="#1f77b4", width=3.5), hoverinfo="skip",
                        name="best hypothesis")

    def prefix(n: Any) -> str:
        out = []
        while n is not None and n.parent is not None:
            out.append(tokens[n.token] if n.token < len(tokens) else "?")
            n = by_id[n.parent]
        return "".join(_show(t) if len(t) == 1 else f" {t} " for t in reversed(out))

    groups = (("kept", lambda n: n.kept and not n.finished, KEPT, "circle"),
              ("pruned", lambda n: not n.kept, PRUNED, "circle-open"),
              ("finished (<eos>)", lambda n: n.finished, DONE, "star"))
    for label, pick, color, symbol in groups:
        chosen = [n for n in nodes if pick(n)]
        if not chosen:
            continue
        fig.add_scatter(
            x=[n.step for n in chosen], y=[ypos[n.id] for n in chosen], mode="markers+text", name=label,
            marker=dict(color=color, size=15 if label != "pruned" else 11, symbol=symbol, line=dict(width=1, color=color)),
            text=["<sos>" if n.parent is None else ("■" if n.token == eos else _show(tokens[n.token])) for n in chosen],
            textposition="middle right", textfont=dict(size=11),
            customdata=[[prefix(n) or "<sos>", n.log_prob] for n in chosen],
            hovertemplate="%{customdata[0]}<br>Σ log P = %{customdata[1]:.3f}<extra>" + label + "</extra>",
        )
    height = max(320, 60 + 24 * (max(ypos.values()) + 1))
    fig.update_xaxes(title="step t (tokens generated)", dtick=1)
    fig.update_yaxes(visible=False, autorange="reversed")
    return _layout(fig, title, height=min(int(height), 1400), margin=dict(l=30, r=20, t=90, b=50),
                   legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"))


def bleu_precisions(precisions: Sequence[float], raw: Sequence[float], matches: Sequence[int], totals: Sequence[int],
                    *, title: str = "Modified n-gram precisions pₙ") -> go.Figure:
    """Bars of pₙ (what the formula uses, smoothed where it applies) per order n, with the
    clipped matches over the candidate n-grams as text; a marker where smoothing changed pₙ."""
    orders = [f"p{n} ({n}-grams)" for n in range(1, len(precisions) + 1)]
    fig = go.Figure(go.Bar(x=orders, y=list(precisions), marker_color="#1f77b4", name="pₙ used",
                           text=[f"{m}/{t}" for m, t in zip(matches, totals, strict=True)], textposition="outside",
                           hovertemplate="%{x}: %{y:.4f}<extra>clipped matches / n-grams: %{text}</extra>"))
    changed = [i for i, (p, r) in enumerate(zip(precisions, raw, strict=True)) if abs(p - r) > 1e-12]
    if changed:
        fig.add_scatter(x=[orders[i] for i in changed], y=[raw[i] for i in changed], mode="markers", name="before smoothing",
                        marker=dict(color="#d62728", symbol="x", size=12))
    fig.update_yaxes(range=[0, 1.15], title="precision")
    return _layout(fig, title, height=340, legend=dict(orientation="h", y=-0.2))


def cross_attention_grid(source_tokens: Sequence[str], output_tokens: Sequence[str],
                         weights: Sequence[Sequence[Sequence[Sequence[float]]]], *,
                         title: str = "Cross-attention of every layer (rows) and head (columns)") -> go.Figure:
    """Small multiples of a Transformer's cross-attention ``weights`` [layers][heads][T_out][T_src]: one
    heatmap per layer and head, output tokens top to bottom, source tokens left to right, one colour
    scale (0–1) for all."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 4 or w.shape[2:] != (len(output_tokens), len(source_tokens)):
        raise ValueError(f"the weights must be [layers, heads, outputs, sources] with {len(output_tokens)} outputs "
                         f"and {len(source_tokens)} sources, got {list(w.shape)}")
    layers, heads = w.shape[:2]
    fig = make_subplots(rows=layers, cols=heads, shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.02,
                        vertical_spacing=0.1 / max(layers, 1),
                        subplot_titles=[f"layer {i + 1}, head {j + 1}" for i in range(layers) for j in range(heads)])
    xs = [f"{i}:{_show(t)}" for i, t in enumerate(source_tokens)]
    ys = [f"{i}:{_show(t)}" for i, t in enumerate(output_tokens)]
    for i in range(layers):
        for j in range(heads):
            fig.add_trace(go.Heatmap(
                z=w[i, j], x=xs, y=ys, coloraxis="coloraxis",
                hovertemplate=f"layer {i + 1}, head {j + 1}<br>output %{{y}}<br>source %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
            ), row=i + 1, col=j + 1)
    fig.update_xaxes(tickmode="array", tickvals=xs, ticktext=[_show(t) for t in source_tokens], tickangle=0,
                     tickfont=dict(size=9))
    fig.update_yaxes(tickmode="array", tickvals=ys, ticktext=[_show(t) for t in output_tokens], autorange="reversed",
                     tickfont=dict(size=9))
    fig.update_layout(coloraxis=dict(colorscale="Blues", cmin=0, cmax=1, colorbar=dict(title="weight")))
    return _layout(fig, title, height=max(260, 80 + layers * (40 + 16 * len(output_tokens))),
                   margin=dict(l=40, r=20, t=80, b=40))


def exact_match_by_length_chart(by_variant: Mapping[str, Sequence[Mapping[str, Any]]], *, threshold: float = 0.5,
                          title: str = "Exact match by source length") -> go.Figure:
    """One line per variant: exact match (%) of each source-length bucket (rows ``from``, ``to``,
    ``pairs``, ``exact_match`` 0–1, as :func:`core.seq2seq.training.exact_match_by_length` gives),
    with the ``threshold`` below which a model counts as broken down."""
    fig = go.Figure()
    for name, rows in by_variant.items():
        rows = sorted(rows, key=lambda r: r["from"])
        if not rows:
            continue
        fig.add_scatter(
            x=[(r["from"] + r["to"]) / 2 for r in rows], y=[100 * r["exact_match"] for r in rows], mode="lines+markers",
            name=name, line=dict(color=VARIANT_COLORS.get(name, "#7f7f7f")),
            customdata=[[f"{r['from']}–{r['to']}", r["pairs"]] for r in rows],
            hovertemplate=f"<b>{name}</b><br>source length %{{customdata[0]}}<br>exact match %{{y:.1f}} %"
                          "<br>%{customdata[1]} dev pairs<extra></extra>")
    fig.add_hline(y=100 * threshold, line=dict(color="#d62728", dash="dash", width=1),
                  annotation_text=f"{threshold:.0%}: breaks down below", annotation_position="bottom right")
    fig.update_xaxes(title="source length (tokens; the middle of each bucket)")
    fig.update_yaxes(title="exact match (%)", range=[-3, 103])
    return _layout(fig, title, height=340, legend=dict(orientation="h", y=-0.3))

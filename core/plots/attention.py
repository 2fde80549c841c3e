"""Figures for the Sequence models page's "Self-attention" tab (pure: data in, ``go.Figure`` out):
a head's Q, K and V, the scores, the mask (0 or −∞, the −∞ cells grey), the softmax weights, every
head's weights side by side, the sinusoidal positional encodings and the order-blindness bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.colors import PALETTE
from core.plots.seq2seq import _layout, _show

__all__ = [
    "MASKED_GREY",
    "heads_grid",
    "mask_heatmap",
    "order_blindness_bars",
    "positions_heatmap",
    "qkv_heatmaps",
    "scores_heatmap",
    "vectors_heatmap",
    "weights_heatmap",
]

MASKED_GREY = "#9e9e9e"
TEXT_UP_TO = 14  # write the numbers in the cells up to this many tokens


def _labels(tokens: Sequence[str]) -> list[str]:
    """Unique axis labels ``"i:token"`` (a token may repeat)."""
    return [f"{i}:{_show(t)}" for i, t in enumerate(tokens)]


def _square(z: np.ndarray, tokens: Sequence[str], what: str) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    if z.shape != (len(tokens), len(tokens)):
        raise ValueError(f"the {what} must be [tokens, tokens] = [{len(tokens)}, {len(tokens)}], got {list(z.shape)}")
    return z


def _token_axes(fig: go.Figure, tokens: Sequence[str], row: int | None = None, col: int | None = None, *,
                x_title: str | None = "keys (looked at)", y_title: str | None = "queries (looking)") -> None:
    labels = _labels(tokens)
    ticks = [_show(t) for t in tokens]
    where = {} if row is None else {"row": row, "col": col}
    fig.update_xaxes(title_text=x_title, tickmode="array", tickvals=labels, ticktext=ticks, tickangle=-45,
                     constrain="domain", **where)
    fig.update_yaxes(title_text=y_title, tickmode="array", tickvals=labels, ticktext=ticks, autorange="reversed",
                     **where)


def _masked_layer(tokens: Sequence[str], masked: np.ndarray) -> go.Heatmap:
    """Grey cells where ``masked`` is True (a second heatmap drawn over the first)."""
    labels = _labels(tokens)
    return go.Heatmap(z=np.where(masked, 1.0, np.nan), x=labels, y=labels, showscale=False, hoverongaps=False,
                      colorscale=[[0, MASKED_GREY], [1, MASKED_GREY]], zmin=0, zmax=1, text=np.where(masked, "−∞", ""),
                      texttemplate="%{text}" if len(tokens) <= TEXT_UP_TO else None, name="masked",
                      hovertemplate="query %{y} → key %{x}<br>masked: −∞<extra></extra>")


def _cells(z: np.ndarray, fmt: str, n: int) -> dict:
    if n > TEXT_UP_TO:
        return {}
    digits = int(fmt[-3])  # "{:.2f}" → 2; rounding first, then + 0.0, writes −0.04 as 0.0, not −0.0
    return {"text": [["" if np.isnan(x) else fmt.format(round(float(x), digits) + 0.0) for x in row] for row in z],
            "texttemplate": "%{text}"}


def vectors_heatmap(tokens: Sequence[str], matrix: np.ndarray, *, title: str, xlabel: str = "dimension",
                    colorbar: str = "value") -> go.Figure:
    """Token vectors [L, n] as rows of a diverging heatmap (blue negative, red positive, 0 white)."""
    z = np.asarray(matrix, dtype=float)
    if z.ndim != 2 or z.shape[0] != len(tokens):
        raise ValueError(f"the matrix must have one row per token ({len(tokens)}), got shape {list(z.shape)}")
    m = max(float(np.abs(z).max()) if z.size else 1.0, 1e-9)
    labels = _labels(tokens)
    fig = go.Figure(go.Heatmap(z=z, x=list(range(z.shape[1])), y=labels, colorscale="RdBu", reversescale=True,
                               zmid=0, zmin=-m, zmax=m, colorbar=dict(title=colorbar),
                               hovertemplate="token %{y}<br>" + xlabel + " %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(tickmode="array", tickvals=labels, ticktext=[_show(t) for t in tokens], autorange="reversed")
    return _layout(fig, title, height=max(260, 80 + 22 * len(tokens)))


def qkv_heatmaps(tokens: Sequence[str], q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
                 title: str = "Queries, keys and values of one head") -> go.Figure:
    """Q, K and V of one head, each [L, d_k], side by side on one shared diverging colour scale."""
    mats = [np.asarray(a, dtype=float) for a in (q, k, v)]
    if any(a.ndim != 2 or a.shape[0] != len(tokens) for a in mats) or len({a.shape for a in mats}) != 1:
        raise ValueError(f"Q, K and V must each be [tokens, d_k] with {len(tokens)} tokens, "
                         f"got {[list(a.shape) for a in mats]}")
    m = max(max(float(np.abs(a).max()) for a in mats) if mats[0].size else 1.0, 1e-9)
    names = ("Q = X·W_Q (what each token asks)", "K = X·W_K (what each token offers)", "V = X·W_V (what it passes on)")
    fig = make_subplots(rows=1, cols=3, subplot_titles=names, horizontal_spacing=0.06, shared_yaxes=True)
    labels = _labels(tokens)
    for i, (name, a) in enumerate(zip("QKV", mats, strict=True)):
        fig.add_trace(go.Heatmap(z=a, x=list(range(a.shape[1])), y=labels, colorscale="RdBu", reversescale=True,
                                 zmid=0, zmin=-m, zmax=m, showscale=i == 2, name=name, colorbar=dict(title="value"),
                                 hovertemplate=f"{name}<br>token %{{y}}<br>dimension %{{x}}<br>%{{z:.3f}}<extra></extra>"),
                      row=1, col=i + 1)
        fig.update_xaxes(title_text="dimension of d_k", row=1, col=i + 1)
    fig.update_yaxes(tickmode="array", tickvals=labels, ticktext=[_show(t) for t in tokens], autorange="reversed")
    fig.update_annotations(font_size=12)
    return _layout(fig, title, height=max(280, 100 + 22 * len(tokens)), margin=dict(l=70, r=20, t=80, b=50))


def scores_heatmap(tokens: Sequence[str], scores: np.ndarray, mask: np.ndarray | None = None, *,
                   title: str = "Scores QKᵀ/√d_k (+ mask)") -> go.Figure:
    """The scores [L, L] (row: the query, column: the key) on a diverging scale; where ``mask``
    (as added: 0 or −∞) is −∞ the cell is grey and says −∞."""
    z = _square(scores, tokens, "scores")
    masked = np.zeros_like(z, dtype=bool) if mask is None else np.isneginf(_square(mask, tokens, "mask"))
    shown = np.where(masked, np.nan, z)
    m = max(float(np.nanmax(np.abs(shown))) if (~masked).any() else 1.0, 1e-9)
    labels = _labels(tokens)
    fig = go.Figure(go.Heatmap(z=shown, x=labels, y=labels, colorscale="RdBu", reversescale=True, zmid=0, zmin=-m,
                               zmax=m, colorbar=dict(title="score"), hoverongaps=False, name="scores",
                               hovertemplate="query %{y} → key %{x}<br>score %{z:.3f}<extra></extra>",
                               **_cells(shown, "{:.1f}", len(tokens))))
    if masked.any():
        fig.add_trace(_masked_layer(tokens, masked))
    _token_axes(fig, tokens)
    return _layout(fig, title, height=max(320, 120 + 26 * len(tokens)))


def mask_heatmap(tokens: Sequence[str], mask: np.ndarray, *, title: str = "The mask M added to the scores") -> go.Figure:
    """The additive mask [L, L]: white 0 where a query may look, grey −∞ where it may not."""
    m = _square(mask, tokens, "mask")
    masked = np.isneginf(m)
    labels = _labels(tokens)
    fig = go.Figure(go.Heatmap(z=np.where(masked, np.nan, 0.0), x=labels, y=labels, showscale=False, hoverongaps=False,
                               colorscale=[[0, "#ffffff"], [1, "#ffffff"]], zmin=0, zmax=1, name="allowed",
                               xgap=1, ygap=1, hovertemplate="query %{y} → key %{x}<br>0: may look<extra></extra>",
                               **({"text": np.where(masked, "", "0"), "texttemplate": "%{text}"}
                                  if len(tokens) <= TEXT_UP_TO else {})))
    if masked.any():
        fig.add_trace(_masked_layer(tokens, masked))
    _token_axes(fig, tokens)
    fig.update_layout(plot_bgcolor="#e8e8e8")
    return _layout(fig, title, height=max(320, 120 + 26 * len(tokens)))


def weights_heatmap(tokens: Sequence[str], weights: np.ndarray, *,
                    title: str = "Attention weights softmax(QKᵀ/√d_k + M): each row sums to 1") -> go.Figure:
    """The weights [L, L] on 0 (white) … the largest weight (dark blue); row = query, column = key."""
    w = _square(weights, tokens, "weights")
    labels = _labels(tokens)
    fig = go.Figure(go.Heatmap(z=w, x=labels, y=labels, colorscale="Blues", zmin=0,
                               zmax=max(float(w.max()) if w.size else 1.0, 1e-9), colorbar=dict(title="weight"),
                               name="weights", hovertemplate="query %{y} → key %{x}<br>weight %{z:.3f}<extra></extra>",
                               **_cells(w, "{:.2f}", len(tokens))))
    _token_axes(fig, tokens)
    return _layout(fig, title, height=max(320, 120 + 26 * len(tokens)))


def heads_grid(tokens: Sequence[str], weights: np.ndarray, *, title: str = "Every head's weights, side by side",
               layer: str = "") -> go.Figure:
    """Small multiples: one weights heatmap [L, L] per head (``weights`` [h, L, L]) on one shared
    0 … 1 colour scale, so heads that look sharply stand out from heads that spread out."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 3 or w.shape[1:] != (len(tokens), len(tokens)):
        raise ValueError(f"the weights must be [heads, tokens, tokens] with {len(tokens)} tokens, got {list(w.shape)}")
    h = w.shape[0]
    cols = min(h, 4)
    rows = -(-h // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{layer}head {i + 1}" for i in range(h)],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    labels = _labels(tokens)
    few = len(tokens) <= 20
    for i in range(h):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(go.Heatmap(z=w[i], x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1, showscale=i == 0,
                                 colorbar=dict(title="weight"), name=f"head {i + 1}",
                                 hovertemplate=f"head {i + 1}<br>query %{{y}} → key %{{x}}<br>%{{z:.3f}}<extra></extra>"),
                      row=r, col=c)
        _token_axes(fig, tokens, r, c, x_title=None, y_title="query" if c == 1 else None)
        fig.update_xaxes(showticklabels=few, row=r, col=c)
        fig.update_yaxes(showticklabels=few and c == 1, row=r, col=c)
    side = 330 if cols <= 2 else 270
    return _layout(fig, title, height=rows * side + 100, margin=dict(l=70, r=20, t=80, b=60))


def positions_heatmap(pe: np.ndarray, *, title: str = "Sinusoidal positional encodings PE(pos, i)") -> go.Figure:
    """PE [positions, d_model]: one row per position, one column per dimension, −1 blue … 1 red."""
    z = np.asarray(pe, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"the encodings must be [positions, dimensions], got shape {list(z.shape)}")
    fig = go.Figure(go.Heatmap(z=z, x=list(range(z.shape[1])), y=list(range(z.shape[0])), colorscale="RdBu",
                               reversescale=True, zmin=-1, zmax=1, zmid=0, colorbar=dict(title="PE"),
                               hovertemplate="position %{y}<br>dimension %{x}<br>PE = %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="dimension i (even: sin, odd: cos; the waves get longer to the right)")
    fig.update_yaxes(title_text="position pos", autorange="reversed")
    return _layout(fig, title, height=420)


def order_blindness_bars(tokens: Sequence[str], without: np.ndarray, with_positions: np.ndarray, *,
                         title: str = "How much each word's output changed when the words were reordered") -> go.Figure:
    """Per token of the first order: ‖output here − output of the same token in the other order‖,
    without positions (zero: attention alone cannot tell) and with sinusoidal positions."""
    a, b = np.asarray(without, dtype=float), np.asarray(with_positions, dtype=float)
    if a.shape != (len(tokens),) or b.shape != (len(tokens),):
        raise ValueError(f"give one distance per token ({len(tokens)}), got {list(a.shape)} and {list(b.shape)}")
    labels = _labels(tokens)
    fig = go.Figure()
    for name, z, color in (("without positions", a, PALETTE[1]), ("with sinusoidal positions", b, PALETTE[0])):
        fig.add_bar(x=labels, y=z, name=name, marker_color=color, text=[f"{x:.2g}" if x >= 1e-4 else "≈ 0" for x in z],
                    textposition="outside",
                    hovertemplate=f"{name}<br>%{{x}}: ‖Δ output‖ = %{{y:.3g}}<extra></extra>")
    fig.update_xaxes(tickmode="array", tickvals=labels, ticktext=[_show(t) for t in tokens], tickangle=-45)
    fig.update_yaxes(title_text="‖Δ output‖", rangemode="tozero")
    return _layout(fig, title, height=380, barmode="group", legend=dict(orientation="h", y=1.02, yanchor="bottom",
                                                                        x=1, xanchor="right"),
                   margin=dict(l=60, r=20, t=90, b=80))

"""Figures for the ML strategy page (pure: data in, ``go.Figure`` out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE
from core.plots.curves import curves

GOOD, BAD, NEUTRAL, ACCENT = "#2ca02c", "#d62728", "#7f7f7f", "#1f77b4"
GAP_COLORS = {"avoidable bias": "#ff7f0e", "variance": "#9467bd", "data mismatch": "#8c564b"}


def _layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def error_waterfall(levels: Sequence[tuple[str, float]], gaps: Sequence[str], *, title: str = "Where the error comes from") -> go.Figure:
    """Bars for each error level (e.g. human-level → training → dev) with the gap between
    consecutive levels drawn as a floating bar labelled with its name and size.

    ``levels``: ``(name, error fraction)`` in order; ``gaps``: one name per consecutive pair.
    """
    if len(gaps) != len(levels) - 1:
        raise ValueError("give one gap name per pair of consecutive levels")
    x: list[str] = []
    base: list[float] = []
    height: list[float] = []
    colors: list[str] = []
    text: list[str] = []
    for i, (name, value) in enumerate(levels):
        if i:
            prev = levels[i - 1][1]
            gap = value - prev
            x.append(gaps[i - 1].capitalize().replace(" ", "<br>"))
            base.append(min(prev, value))
            height.append(abs(gap))
            colors.append(GAP_COLORS.get(gaps[i - 1], NEUTRAL) if gap >= 0 else BAD)
            text.append(f"{gap * 100:+.1f} pp")
        x.append(f"{name}<br>error")
        base.append(0.0)
        height.append(value)
        colors.append(ACCENT)
        text.append(f"{value:.1%}")
    fig = go.Figure(go.Bar(
        x=x, y=height, base=base, marker_color=colors, text=text, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{text}<extra></extra>",
    ))
    top = max([v for _, v in levels] + [0.01])
    fig.update_yaxes(tickformat=".0%", range=[0, top * 1.25], title="error")
    fig.update_xaxes(tickangle=0, tickfont=dict(size=11))
    return _layout(fig, title, showlegend=False)


def split_rule(ns: Sequence[int], shares: Sequence[tuple[float, float, float]], *, mark: int | None = None) -> go.Figure:
    """Train/dev/test shares (stacked area) against the dataset size on a log axis, with the
    chosen size marked."""
    fig = go.Figure()
    names = ("train", "dev", "test")
    cols = (ACCENT, "#ff7f0e", "#2ca02c")
    for j, (name, col) in enumerate(zip(names, cols, strict=True)):
        fig.add_scatter(x=list(ns), y=[s[j] for s in shares], name=name, stackgroup="one", line=dict(color=col, width=1),
                        hovertemplate=f"{name}: %{{y:.1%}} of %{{x:,}}<extra></extra>")
    if mark is not None:
        fig.add_vline(x=mark, line=dict(color="black", dash="dash"), annotation_text=f"n = {mark:,}",
                      annotation_position="top left")
    fig.update_xaxes(type="log", title="examples in the whole dataset")
    fig.update_yaxes(tickformat=".0%", range=[0, 1], title="share")
    return _layout(fig, "How the split changes with the amount of data", height=340, legend=dict(orientation="h", y=-0.25))


def mismatch_scatter(
    data: Mapping[str, tuple[np.ndarray, np.ndarray]],
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    title: str = "Training data and the shifted dev data (colour = class)",
) -> go.Figure:
    """Points of each part (``train``, ``train_dev``, ``dev``), classes by marker colour,
    parts by marker symbol; the trained network's P(class 1) as a faint background."""
    fig = go.Figure()
    if grid is not None:
        xs, ys, p = grid
        fig.add_contour(x=xs, y=ys, z=p, colorscale="RdBu_r", opacity=0.35, showscale=False, contours=dict(start=0, end=1, size=0.1),
                        hoverinfo="skip", line=dict(width=0))
        fig.add_contour(x=xs, y=ys, z=p, contours=dict(start=0.5, end=0.5, coloring="none"), line=dict(color="black", width=2),
                        showscale=False, hoverinfo="skip", name="decision boundary")
    style = {"train": ("circle", "training"), "train_dev": ("diamond", "train-dev"), "dev": ("x", "dev (shifted)")}
    class_cols = ("#1f77b4", "#d62728")
    for part, (X, y) in data.items():
        symbol, label = style.get(part, ("circle", part))
        fig.add_scatter(
            x=X[:, 0], y=X[:, 1], mode="markers", name=label,
            marker=dict(symbol=symbol, size=6 if part != "dev" else 7, color=[class_cols[int(c) % 2] for c in y],
                        opacity=0.55 if part == "train" else 0.9, line=dict(width=0.5, color="white") if part != "dev" else None),
            hovertemplate=f"{label}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return _layout(fig, title, height=460, legend=dict(orientation="h", y=-0.12))


def learning_curve(points: Sequence[Mapping[str, float]], *, title: str = "Learning curves") -> go.Figure:
    """Training and dev error against the training-set size (log axis)."""
    pts = sorted(points, key=lambda p: p["size"])
    sizes = [p["size"] for p in pts]
    fig = curves({"training error": (sizes, [p["train_error"] for p in pts]),
                  "dev error": (sizes, [p["dev_error"] for p in pts])},
                 xlabel="training-set size", ylabel="error", title=title, colors={"training error": ACCENT, "dev error": "#ff7f0e"})
    fig.update_traces(mode="lines+markers")
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[f"{s:,}" for s in sizes])
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return fig


def pr_view(curve: Mapping[str, np.ndarray], point: Mapping[str, float], *, title: str = "Precision and recall") -> go.Figure:
    """The precision–recall curve with the current threshold's point marked."""
    r, p, t = curve["recall"], curve["precision"], curve["threshold"]
    fig = go.Figure()
    fig.add_scatter(x=r, y=p, mode="lines", name="all thresholds", line=dict(color=ACCENT, width=2, shape="hv"),
                    customdata=t, hovertemplate="threshold %{customdata:.3f}<br>recall %{x:.1%}<br>precision %{y:.1%}<extra></extra>")
    fig.add_scatter(x=[point["recall"]], y=[point["precision"]], mode="markers+text", name="chosen threshold",
                    marker=dict(color=BAD, size=13, symbol="star"), text=[f"F1 {point['f1']:.3f}"], textposition="bottom left")
    fig.update_xaxes(title="recall", tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(title="precision", tickformat=".0%", range=[0, 1.05])
    return _layout(fig, title, height=400, legend=dict(orientation="h", y=-0.2))


def threshold_sweep(curve: Mapping[str, np.ndarray], threshold: float, *, title: str = "Metrics against the threshold") -> go.Figure:
    """Precision, recall and F1 against the threshold, with the current threshold marked."""
    t = curve["threshold"]
    fig = curves({k: (t, curve[k]) for k in ("precision", "recall", "f1")}, xlabel="threshold", ylabel="value",
                 title=title, colors={"precision": ACCENT, "recall": "#ff7f0e", "f1": GOOD})
    fig.update_traces(line_shape="hv")
    fig.add_vline(x=threshold, line=dict(color="black", dash="dash"))
    fig.update_xaxes(range=[0, 1])
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return fig


def satisficing_scatter(table, max_ms: float, chosen: str | None, *, unit: str = "µs",
                        title: str = "Accuracy against inference time") -> go.Figure:
    """Every candidate run as a point (dev accuracy vs inference time per example, shown in
    ``unit``: "ms" or "µs"; the table and ``max_ms`` are in ms), the feasible region (time ≤
    limit) shaded and the chosen run ringed."""
    scale = {"ms": 1.0, "µs": 1000.0}[unit]
    fig = go.Figure()
    xs = table["ms_per_example"].astype(float).to_numpy() * scale if len(table) else np.zeros(0)
    limit = max_ms * scale
    positive = [v for v in (*xs, limit) if v > 0] or [1.0]
    lo, hi = min(positive) / 2, max(positive) * 2  # log axis: times span orders of magnitude
    fig.add_vrect(x0=lo, x1=max(limit, lo), fillcolor=GOOD, opacity=0.10, line_width=0)
    if limit > 0:
        fig.add_vline(x=limit, line=dict(color=GOOD, dash="dash"))
        fig.add_annotation(x=np.log10(limit), y=1, xref="x", yref="paper", xanchor="right", yanchor="top", showarrow=False,
                           text="meets the time limit ", font=dict(color=GOOD))  # a log axis places text by log10(x)
    if len(table):
        feas = table["feasible"].to_numpy(bool)
        acc = table["dev_accuracy"].astype(float).to_numpy()
        labels = np.array([str(n) for n in (table["run_name"] if "run_name" in table else table["run_id"])])
        for mask, name, col in ((feas, "feasible", ACCENT), (~feas, "too slow", NEUTRAL)):
            if mask.any():
                fig.add_scatter(x=xs[mask], y=acc[mask], mode="markers", name=name, marker=dict(color=col, size=10),
                                text=labels[mask],
                                hovertemplate=f"%{{text}}<br>%{{x:.3g}} {unit} / example<br>dev accuracy %{{y:.1%}}<extra></extra>")
        if chosen is not None:
            i = int(np.flatnonzero(table["run_id"].to_numpy() == chosen)[0])
            fig.add_scatter(x=[xs[i]], y=[acc[i]], mode="markers+text", name="chosen", text=[labels[i]],
                            textposition="top center", hoverinfo="skip",
                            marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(color=BAD, width=3)))
    fig.update_xaxes(title=f"inference time ({unit} per example, log scale)", type="log",
                     range=[np.log10(lo), np.log10(hi)])
    fig.update_yaxes(title="dev accuracy", tickformat=".0%")
    return _layout(fig, title, height=420, legend=dict(orientation="h", y=-0.2))


def tally_bars(counts, dev_error: float, *, title: str = "Share of the examined errors per category") -> go.Figure:
    """Horizontal bars: share of examined errors per category (largest on top), labelled with
    the count and the best dev error a complete fix of that category could reach."""
    rows = list(counts.itertuples())[::-1]
    fig = go.Figure(go.Bar(
        x=[r.share for r in rows], y=[r.category for r in rows], orientation="h",
        marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(rows))][::-1],
        text=[f"{r.errors} · {r.share:.0%} → dev error ≥ {r.ceiling:.1%}" for r in rows], textposition="auto",
        hovertemplate="%{y}: %{x:.0%} of the examined errors<extra></extra>",
    ))
    top = max([r.share for r in rows] + [0.0])
    fig.update_xaxes(tickformat=".0%", range=[0, min(1.0, max(0.25, top * 1.4))],
                     title=f"share of the examined errors (dev error now {dev_error:.1%})")
    return _layout(fig, title, height=120 + 40 * max(len(rows), 1), margin=dict(l=10, r=20, t=60, b=50))


def orthogonalization(goals: Sequence[Any], entangled: Mapping[str, Sequence[int]], *,
                      title: str = "One knob per goal") -> go.Figure:
    """The chain of goals left to right (arrows between them), what a failure of each goal is
    called, and the knobs that act on it below; an entangled knob (early stopping) drawn
    above the chain, wired to every goal it moves."""
    ink = "#1f2937"
    fig = go.Figure()
    n, step, w = len(goals), 1.2, 1.0  # goal i spans x in [i·step, i·step + w]
    for i, g in enumerate(goals):
        x0, cx = i * step, i * step + w / 2
        fig.add_shape(type="rect", x0=x0, x1=x0 + w, y0=2.0, y1=2.5, fillcolor="#e8f0fb", line=dict(color=ACCENT, width=2),
                      layer="below")
        name = g.name if len(g.name) <= 18 else g.name.replace(" the ", "<br>the ", 1).replace(" in ", "<br>in ", 1)
        fig.add_annotation(x=cx, y=2.25, text=f"<b>{i + 1}. {name}</b>", showarrow=False, font=dict(size=13, color=ink))
        fig.add_annotation(x=cx, y=1.86, text=f"fails: <i>{g.problem}</i>", showarrow=False, font=dict(size=12, color=BAD))
        fig.add_annotation(x=cx, y=1.25, text="<b>knobs</b><br>" + "<br>".join(f"• {k}" for k in g.knobs), showarrow=False,
                           align="left", font=dict(size=12, color=ink), bordercolor=ACCENT, borderwidth=1, borderpad=6,
                           bgcolor="white", yanchor="middle")
        if i < n - 1:
            fig.add_annotation(x=(i + 1) * step, y=2.25, ax=x0 + w, ay=2.25, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor=ACCENT, text="")
    for knob, idx in entangled.items():
        xm = sum(i * step + w / 2 for i in idx) / len(idx)
        for i in idx:
            x_end = i * step + (w * 0.8 if i * step + w / 2 < xm else w * 0.2)
            fig.add_shape(type="line", x0=xm, y0=2.78, x1=x_end, y1=2.5, line=dict(color=BAD, width=2, dash="dot"))
        fig.add_annotation(x=xm, y=2.86, text=f"<b>{knob}</b>: moves goals {' and '.join(str(i + 1) for i in idx)} at once",
                           showarrow=False, font=dict(size=12, color=BAD), bordercolor=BAD, borderwidth=1, borderpad=5,
                           bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.1, (n - 1) * step + w + 0.1])
    fig.update_yaxes(visible=False, range=[0.75, 3.05])
    return _layout(fig, title, height=440, margin=dict(l=10, r=10, t=50, b=10))

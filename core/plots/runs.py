"""Figures of the Runs page: metric curves of several runs, mean ± std bands over seeds, parallel
coordinates, param importance bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb

from core.colors import color
from core.plots.curves import curves
from core.runs import METRIC, MISSING, PARAM, metric_direction, natural_key

TEMPLATE = "plotly_white"
GOOD_COLORSCALE = "Viridis"  # bright yellow = good, dark purple = bad (after reversal for "min")


def _better(metric: str) -> str:
    return "lower is better" if metric_direction(metric) == "min" else "higher is better"


def _empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def metric_curves(
    histories: Mapping[str, pd.DataFrame],
    metric: str,
    log_y: bool = False,
    smoothing: float = 0.0,
) -> go.Figure:
    """One line per run of ``metric`` against step, overlaid (see :func:`core.plots.curves.curves`).

    ``histories``: run label -> DataFrame with ``step`` and ``value`` columns (every logged
    value). The title says which way is better for the metric.
    """
    series = {
        label: (hist["step"].to_numpy(), hist["value"].to_numpy(dtype=float))
        for label, hist in histories.items()
        if hist is not None and len(hist)
    }
    fig = curves(series, xlabel="step", ylabel=metric, log_y=log_y, smoothing=smoothing)
    fig.update_layout(
        title=dict(text=f"{metric} <span style='font-size:0.8em;color:gray'>({_better(metric)})</span>", x=0.0,
                   xanchor="left"),
        legend_title_text="run",
    )
    if not fig.data:
        _empty(fig, f"No values of {metric} were logged by these runs.")
    return fig


def _dimension(label: str, values: pd.Series) -> dict:
    """A parcoords dimension: numeric when every value reads as a number, else categories
    mapped to integer ticks that carry their labels."""
    numbers = pd.to_numeric(values, errors="coerce")
    if values.notna().all() and numbers.notna().all():
        return dict(label=label, values=numbers.to_numpy(dtype=float))
    text = values.map(lambda v: MISSING if pd.isna(v) else str(v))
    categories = sorted(text.unique(), key=natural_key)
    codes = {c: i for i, c in enumerate(categories)}
    top = max(len(categories) - 1, 1)
    return dict(
        label=label,
        values=text.map(codes).to_numpy(dtype=float),
        tickvals=list(range(len(categories))),
        ticktext=categories,
        range=[0, top] if len(categories) > 1 else [-1, 1],
    )


def parallel_coordinates(df: pd.DataFrame, params: Sequence[str], metric: str) -> go.Figure:
    """Parallel coordinates: one axis per param (bare names or ``params.`` columns) and a
    last axis for ``metric``; one line per run of ``df`` that has the metric.

    Text params become integer axes labelled with their values. Lines are coloured by the
    metric on Viridis, reversed when lower is better, so the bright yellow end is always
    the good one.
    """
    mcol = metric if metric.startswith(METRIC) else METRIC + metric
    name = mcol[len(METRIC) :]
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, margin=dict(l=60, r=60, t=80, b=40))
    if mcol not in df.columns:
        return _empty(fig, f"No run has the metric {name}.")
    values = pd.to_numeric(df[mcol], errors="coerce")
    rows = df[values.notna()]
    values = values[values.notna()]
    if rows.empty:
        return _empty(fig, f"No run has the metric {name}.")
    dims = []
    for p in params:
        pcol = p if p.startswith(PARAM) else PARAM + p
        if pcol in rows.columns:
            dims.append(_dimension(pcol[len(PARAM) :], rows[pcol]))
    dims.append(dict(label=name, values=values.to_numpy(dtype=float)))
    lower = metric_direction(name) == "min"
    fig.add_trace(
        go.Parcoords(
            dimensions=dims,
            line=dict(
                color=values.to_numpy(dtype=float),
                colorscale=GOOD_COLORSCALE,
                reversescale=lower,
                showscale=True,
                colorbar=dict(title=dict(text=name)),
            ),
            labelangle=-20,
        )
    )
    fig.update_layout(
        title=dict(
            text=f"{len(rows)} runs: params against {name} ({_better(name)}; yellow is best)",
            x=0.0,
            xanchor="left",
        )
    )
    return fig


def seed_bands(stats: Mapping[str, pd.DataFrame], metric: str, log_y: bool = False) -> go.Figure:
    """One line per group of runs (the mean of ``metric`` at each step) in a shaded band of ± one
    sample standard deviation; where only one run has a step there is no band.

    ``stats``: group label -> :func:`core.runs.mean_std_by_step` (``step``, ``mean``, ``std``,
    ``n``). With ``log_y`` non-positive means (and band edges) are left out.
    """
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, hovermode="x unified", legend_title_text="group (runs)",
                      margin=dict(l=60, r=20, t=60, b=50))
    for i, (label, part) in enumerate(stats.items()):
        if part is None or part.empty:
            continue
        step, mean = part["step"].to_numpy(dtype=float), part["mean"].to_numpy(dtype=float)
        std, n = part["std"].to_numpy(dtype=float), part["n"].to_numpy(dtype=int)
        keep = np.isfinite(mean) & ((mean > 0) if log_y else True)
        if not keep.any():
            continue
        hue = color(i)
        band = keep & np.isfinite(std) & (((mean - std) > 0) if log_y else True)
        if band.any():
            r, g, b = hex_to_rgb(hue)
            x = np.concatenate([step[band], step[band][::-1]])
            y = np.concatenate([(mean + std)[band], (mean - std)[band][::-1]])
            fig.add_scatter(x=x, y=y, fill="toself", fillcolor=f"rgba({r},{g},{b},0.18)", line=dict(width=0),
                            hoverinfo="skip", showlegend=False, legendgroup=label, name=f"{label} ± std")
        runs = int(n.max())
        fig.add_scatter(
            x=step[keep], y=mean[keep], mode="lines+markers" if keep.sum() == 1 else "lines",
            name=f"{label} ({runs})", legendgroup=label, line=dict(color=hue, width=2.5),
            customdata=np.stack([std[keep], n[keep]], axis=1),
            hovertemplate="%{y:.4g} ± %{customdata[0]:.2g} (n=%{customdata[1]})<extra>" + label + "</extra>",
        )
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=metric, type="log" if log_y else "linear")
    fig.update_layout(title=dict(text=f"{metric}: mean ± std over seeds "
                                      f"<span style='font-size:0.8em;color:gray'>({_better(metric)})</span>",
                                 x=0.0, xanchor="left"))
    if not fig.data:
        _empty(fig, f"No values of {metric} were logged by these runs.")
    return fig


def importance_bars(scores: pd.DataFrame, metric: str) -> go.Figure:
    """Horizontal bars of :func:`core.runs.param_importance` scores (0 to 1), the largest on top;
    params without a score are left out. The hover tells the measure (η² or R²) and the runs used."""
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, margin=dict(l=140, r=30, t=60, b=50))
    scored = scores[scores["score"].notna()].iloc[::-1]  # plotly draws the first bar at the bottom
    if scored.empty:
        return _empty(fig, "No setting could be scored.")
    measure = ["η² (share explained by the group means)" if k == "categorical" else f"R² of a line ({k})"
               for k in scored["kind"]]
    fig.add_bar(
        x=scored["score"].tolist(), y=scored["param"].tolist(), orientation="h", marker_color=color(0),
        text=[f"{v:.2f}" for v in scored["score"]], textposition="outside", cliponaxis=False,
        customdata=np.stack([measure, scored["runs"], scored["values"]], axis=1),
        hovertemplate="<b>%{y}</b>: %{x:.3f}<br>%{customdata[0]}<br>%{customdata[1]} runs, "
                      "%{customdata[2]} values<extra></extra>",
    )
    fig.update_xaxes(range=[0, 1.08], title_text=f"share of the variance of {metric} explained (0–1)")
    fig.update_layout(height=max(260, 60 + 36 * len(scored)),
                      title=dict(text=f"Which settings moved {metric} most", x=0.0, xanchor="left"))
    return fig

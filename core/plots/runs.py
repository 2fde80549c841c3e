"""Figures of the Runs page: metric curves of several runs, parallel coordinates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from core.plots.curves import curves
from core.runs import METRIC, MISSING, PARAM, metric_direction

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
    categories = sorted(text.unique(), key=_natural_key)
    codes = {c: i for i, c in enumerate(categories)}
    top = max(len(categories) - 1, 1)
    return dict(
        label=label,
        values=text.map(codes).to_numpy(dtype=float),
        tickvals=list(range(len(categories))),
        ticktext=categories,
        range=[0, top] if len(categories) > 1 else [-1, 1],
    )


def _natural_key(text: str) -> tuple:
    """Sort numbers by value before other text: "2" < "10" < "adam"."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


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

"""Figures of the Runs page: metric curves of several runs, parallel coordinates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.runs import METRIC, MISSING, PARAM, metric_direction, smooth

TEMPLATE = "plotly_white"
COLORS = qualitative.Plotly + qualitative.D3
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
    """One line per run of ``metric`` against step, overlaid.

    ``histories``: run label -> DataFrame with ``step`` and ``value`` columns (every logged
    value). With ``smoothing`` > 0 (TensorBoard's weight, in [0, 1)) each run shows its
    smoothed curve with the raw one faint underneath in the same colour; the legend lists
    each run once and clicking it hides both lines. ``log_y`` puts the value axis on a log
    scale (non-positive values are then not drawn).
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    fig = go.Figure()
    drawn = 0
    for i, (label, hist) in enumerate(histories.items()):
        if hist is None or len(hist) == 0:
            continue
        hist = hist.sort_values("step", kind="stable")
        steps = hist["step"].to_numpy()
        values = hist["value"].to_numpy(dtype=float)
        color = COLORS[i % len(COLORS)]
        mode = "lines+markers" if len(hist) <= 1 else "lines"
        hover = f"<b>{label}</b><br>step %{{x}}<br>{metric} %{{y:.4g}}<extra></extra>"
        if smoothing > 0:
            fig.add_trace(
                go.Scatter(
                    x=steps, y=values, mode=mode, name=f"{label} (raw)", legendgroup=label,
                    showlegend=False, opacity=0.25, line=dict(color=color, width=1),
                    hovertemplate=hover.replace("</b>", " (raw)</b>"),
                )
            )  # fmt: skip
            values = smooth(values, smoothing)
        fig.add_trace(
            go.Scatter(
                x=steps, y=values, mode=mode, name=label, legendgroup=label,
                line=dict(color=color, width=2), hovertemplate=hover,
            )
        )  # fmt: skip
        drawn += 1
    title = f"{metric} <span style='font-size:0.8em;color:gray'>({_better(metric)})</span>"
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0.0, xanchor="left"),
        xaxis_title="step",
        yaxis_title=metric + (" (log scale)" if log_y else ""),
        legend_title_text="run",
        hovermode="closest",
        margin=dict(l=60, r=20, t=60, b=50),
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    if drawn == 0:
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

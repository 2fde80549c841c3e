"""Figures for the Face recognition page (pure: data in, ``go.Figure`` out): the triplet
plane with its hard zone and margin band, the loss against ‖A − N‖², a real batch's
triplets by kind, the training curves, the ROC curve with the threshold τ marked, the
distance histograms of same and different pairs, and the 2-D embeddings by identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.colors import PALETTE
from core.plots.curves import curves

KIND_COLORS = {"easy": "#2ca02c", "semi-hard": "#ff7f0e", "hard": "#d62728"}
ZONE_FILL = {"easy": "#eaf5ea", "semi-hard": "#fde3c6", "hard": "#f7cccc"}
POINT_COLORS = {"A": "#1f77b4", "P": "#2ca02c", "N": "#d62728"}
SAME, DIFFERENT = "#2ca02c", "#d62728"
MAX_BATCH_POINTS = 4000

__all__ = [
    "KIND_COLORS",
    "batch_triplets",
    "distance_histograms",
    "embedding_scatter",
    "epoch_losses",
    "loss_vs_negative",
    "roc_figure",
    "triplet_fractions",
    "triplet_plane",
]


def _layout(fig: go.Figure, title: str, height: int = 400, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def _sq(u: Sequence[float], v: Sequence[float]) -> float:
    d = np.asarray(u, float) - np.asarray(v, float)
    return float(d @ d)


def _circle(center: Sequence[float], r: float, fill: str, line: str, dash: str = "solid") -> dict[str, Any]:
    cx, cy = float(center[0]), float(center[1])
    return dict(type="circle", xref="x", yref="y", x0=cx - r, y0=cy - r, x1=cx + r, y1=cy + r, fillcolor=fill,
                line=dict(color=line, width=1.5, dash=dash), layer="below")


def triplet_plane(anchor: Sequence[float], positive: Sequence[float], negative: Sequence[float], margin: float, *,
                  pull: Mapping[str, Sequence[float]] | None = None, extent: float = 1.5,
                  title: str = "Anchor, positive and negative in a 2-D embedding") -> go.Figure:
    """A, P and N as points of the plane, with the zones where N makes the triplet hard
    (the disc of radius ‖A − P‖ around A), semi-hard (the ring out to radius
    √(‖A − P‖² + α): the margin band) and easy (everything beyond).

    ``pull``: optional arrows per point name ("A", "P", "N"), e.g. the negative gradient of
    the loss (where one step of gradient descent moves each point), drawn from the point.
    """
    a, p, n = (np.asarray(v, float).reshape(2) for v in (anchor, positive, negative))
    d_ap, d_an = _sq(a, p), _sq(a, n)
    r_hard, r_band = np.sqrt(d_ap), np.sqrt(d_ap + margin)
    fig = go.Figure()
    fig.update_layout(shapes=[_circle(a, r_band, ZONE_FILL["semi-hard"], KIND_COLORS["semi-hard"], "dash"),
                              _circle(a, r_hard, ZONE_FILL["hard"], KIND_COLORS["hard"])])
    for kind, text in (("hard", "hard zone: N at least as close to A as P"),
                       ("semi-hard", "margin band: semi-hard, 0 ≤ loss < α"),
                       ("easy", "easy: N beyond the margin, loss 0")):
        fig.add_scatter(x=[None], y=[None], mode="markers", name=text, hoverinfo="skip",
                        marker=dict(symbol="square", size=14, color=ZONE_FILL[kind],
                                    line=dict(color=KIND_COLORS[kind], width=1.5)))
    fig.add_scatter(x=[a[0], p[0]], y=[a[1], p[1]], mode="lines", line=dict(color=POINT_COLORS["P"], width=3),
                    name=f"‖A − P‖² = {d_ap:.3f}", hoverinfo="skip")
    fig.add_scatter(x=[a[0], n[0]], y=[a[1], n[1]], mode="lines", line=dict(color=POINT_COLORS["N"], width=3, dash="dot"),
                    name=f"‖A − N‖² = {d_an:.3f}", hoverinfo="skip")
    for name, pt in (("A", a), ("P", p), ("N", n)):
        fig.add_scatter(x=[pt[0]], y=[pt[1]], mode="markers+text", text=[name], textposition="middle center",
                        textfont=dict(color="white", size=13), showlegend=False,
                        marker=dict(size=22, color=POINT_COLORS[name], line=dict(color="white", width=2)),
                        hovertemplate=f"{name} = (%{{x:.2f}}, %{{y:.2f}})<extra></extra>")
    for name, vec in (pull or {}).items():
        start = {"A": a, "P": p, "N": n}[name]
        v = np.asarray(vec, float).reshape(2)
        if float(np.hypot(*v)) < 1e-9:
            continue
        end = start + v
        fig.add_annotation(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=3, arrowsize=1.3, arrowwidth=2.5, arrowcolor="#444", text="")
    lim = [-extent, extent]
    fig.update_xaxes(range=lim, zeroline=False, title="embedding dimension 1", constrain="domain")
    fig.update_yaxes(range=lim, zeroline=False, scaleanchor="x", scaleratio=1, title="embedding dimension 2",
                     constrain="domain")
    return _layout(fig, title, height=600, plot_bgcolor=ZONE_FILL["easy"],
                   legend=dict(orientation="h", y=-0.12, x=0), margin=dict(l=60, r=20, t=50, b=20))


def loss_vs_negative(d_ap: float, d_an: float, margin: float, *,
                     title: str = "The loss as N moves: L = max(0, ‖A − P‖² − ‖A − N‖² + α)") -> go.Figure:
    """The triplet loss as a function of ‖A − N‖² with ‖A − P‖² and α fixed: a hinge that
    reaches 0 at ‖A − P‖² + α; the hard, semi-hard and easy ranges shaded; the current N
    marked."""
    top = max(d_ap + margin, d_an) * 1.35 + 0.1
    x = np.linspace(0, top, 200)
    y = np.maximum(0.0, d_ap - x + margin)
    fig = go.Figure()
    for kind, lo, hi in (("hard", 0, d_ap), ("semi-hard", d_ap, d_ap + margin), ("easy", d_ap + margin, top)):
        if hi > lo:
            fig.add_vrect(x0=lo, x1=hi, fillcolor=ZONE_FILL[kind], line_width=0, layer="below",
                          annotation_text=kind, annotation_position="top left",
                          annotation_font=dict(color=KIND_COLORS[kind], size=12))
    fig.add_scatter(x=x, y=y, mode="lines", line=dict(color="#333", width=2.5), name="loss",
                    hovertemplate="‖A − N‖² %{x:.3f}<br>loss %{y:.3f}<extra></extra>")
    loss = max(0.0, d_ap - d_an + margin)
    fig.add_scatter(x=[d_an], y=[loss], mode="markers", marker=dict(size=14, color=POINT_COLORS["N"],
                                                                    line=dict(color="white", width=2)),
                    name="this N", hovertemplate="‖A − N‖² %{x:.3f}<br>loss %{y:.4f}<extra></extra>")
    fig.update_xaxes(title="‖A − N‖² (squared distance of the negative)", range=[0, top])
    fig.update_yaxes(title="triplet loss", range=[-0.02 * (d_ap + margin + 0.1), (d_ap + margin) * 1.15 + 0.05])
    return _layout(fig, title, height=330, showlegend=False, margin=dict(l=60, r=20, t=50, b=50))


def batch_triplets(d_ap: np.ndarray, d_an: np.ndarray, kinds: np.ndarray, margin: float, *,
                   mined: np.ndarray | None = None, strategy: str = "", seed: int = 0,
                   max_points: int = MAX_BATCH_POINTS, title: str = "Every valid triplet of the batch") -> go.Figure:
    """One dot per valid triplet of a batch at (‖A − P‖², ‖A − N‖²), coloured by kind; the
    lines ‖A − N‖² = ‖A − P‖² (below: hard) and ‖A − N‖² = ‖A − P‖² + α (below: inside the
    margin) separate the kinds. ``mined`` (bool per triplet) rings the triplets the miner
    picks. Above ``max_points`` triplets a random subset is drawn (every mined one kept)."""
    d_ap, d_an, kinds = np.asarray(d_ap, float), np.asarray(d_an, float), np.asarray(kinds)
    mined = np.zeros(len(d_ap), bool) if mined is None else np.asarray(mined, bool)
    shown = np.arange(len(d_ap))
    if len(shown) > max_points:
        rng = np.random.default_rng(seed)
        rest = rng.choice(np.flatnonzero(~mined), size=max(max_points - int(mined.sum()), 0), replace=False)
        shown = np.sort(np.r_[np.flatnonzero(mined), rest])
    fig = go.Figure()
    for kind in KIND_COLORS:
        idx = shown[kinds[shown] == kind]
        fig.add_scattergl(x=d_ap[idx], y=d_an[idx], mode="markers", name=f"{kind} ({int((kinds == kind).sum()):,})",
                          marker=dict(color=KIND_COLORS[kind], size=5, opacity=0.55),
                          hovertemplate=f"{kind}<br>‖A − P‖² %{{x:.3f}}<br>‖A − N‖² %{{y:.3f}}<extra></extra>")
    if mined.any():
        idx = shown[mined[shown]]
        fig.add_scattergl(x=d_ap[idx], y=d_an[idx], mode="markers", name=f"picked by {strategy or 'the miner'} "
                          f"({int(mined.sum()):,})", marker=dict(size=9, color="rgba(0,0,0,0)",
                                                                 line=dict(color="#222", width=1.3)),
                          hovertemplate="picked<br>‖A − P‖² %{x:.3f}<br>‖A − N‖² %{y:.3f}<extra></extra>")
    top = float(max(d_ap.max(initial=0), d_an.max(initial=0))) * 1.05 + 0.05
    line = np.array([0.0, top])
    fig.add_scatter(x=line, y=line, mode="lines", line=dict(color=KIND_COLORS["hard"], width=1.5),
                    name="‖A − N‖² = ‖A − P‖²", hoverinfo="skip")
    fig.add_scatter(x=line, y=line + margin, mode="lines", line=dict(color=KIND_COLORS["semi-hard"], width=1.5, dash="dash"),
                    name="‖A − N‖² = ‖A − P‖² + α", hoverinfo="skip")
    fig.update_xaxes(title="‖A − P‖²", range=[0, top])
    fig.update_yaxes(title="‖A − N‖²", range=[0, top + margin])
    return _layout(fig, title, height=460, legend=dict(orientation="h", y=-0.2, x=0))


def triplet_fractions(rows: Sequence[Mapping[str, float]], *,
                      title: str = "Triplets in the training batches, per epoch") -> go.Figure:
    """The fractions of easy, semi-hard and hard triplets (of every valid triplet in the
    epoch's batches) and of mined triplets with a positive loss ("active"), per epoch."""
    ep = [r["epoch"] for r in rows]
    series = {k: (ep, [r[k] for r in rows]) for k in KIND_COLORS}
    series["active (mined, loss > 0)"] = (ep, [r["active"] for r in rows])
    fig = curves(series, xlabel="epoch", ylabel="fraction", title=title,
                 colors={**KIND_COLORS, "active (mined, loss > 0)": "#555555"})
    fig.update_traces(mode="lines+markers")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_layout(height=360, legend=dict(orientation="h", y=-0.25))
    return fig


def epoch_losses(rows: Sequence[Mapping[str, float]], margin: float, *,
                 title: str = "Triplet loss per epoch") -> go.Figure:
    """The epoch's mean training loss and the loss on the unseen identities (``dev_loss``),
    with a dotted line at α: the loss when every embedding sits at the same point."""
    ep = [r["epoch"] for r in rows]
    series = {"training identities": (ep, [r.get("epoch_train_loss", np.nan) for r in rows]),
              "unseen identities": (ep, [r.get("dev_loss", np.nan) for r in rows])}
    fig = curves(series, xlabel="epoch", ylabel="triplet loss", title=title,
                 colors={"training identities": "#1f77b4", "unseen identities": "#ff7f0e"})
    fig.update_traces(mode="lines+markers")
    fig.add_hline(y=margin, line=dict(color="#888", dash="dot"), annotation_text="α (all embeddings at one point)",
                  annotation_position="top right")
    fig.update_layout(height=360, legend=dict(orientation="h", y=-0.25))
    return fig


def roc_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
               point: tuple[float, float] | None = None, tau: float | None = None,
               title: str = "ROC: one point per threshold τ") -> go.Figure:
    """ROC curves ``name -> (fpr, tpr)`` of "same when d ≤ τ", the chance diagonal, and the
    operating point ``(fpr, tpr)`` of the chosen τ."""
    fig = go.Figure()
    colors = ("#1f77b4", "#9e9e9e", *PALETTE[2:])
    for i, (name, (fpr, tpr)) in enumerate(series.items()):
        fig.add_scatter(x=np.asarray(fpr, float), y=np.asarray(tpr, float), mode="lines", name=name,
                        line=dict(color=colors[i % len(colors)], width=2.5 if i == 0 else 1.8, shape="hv"),
                        hovertemplate=f"{name}<br>false accepts %{{x:.1%}}<br>true accepts %{{y:.1%}}<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(color="#bbb", dash="dash"),
                    hoverinfo="skip")
    if point is not None:
        label = f"τ = {tau:.2f}" if tau is not None else "τ"
        fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers+text", text=[label], textposition="bottom right",
                        marker=dict(size=14, color="#d62728", line=dict(color="white", width=2)), name=label,
                        hovertemplate=f"{label}<br>false accepts %{{x:.1%}}<br>true accepts %{{y:.1%}}<extra></extra>")
    fig.update_xaxes(title="false-accept rate (different pairs judged the same)", range=[-0.01, 1.01], tickformat=".0%",
                     constrain="domain")
    fig.update_yaxes(title="true-accept rate (same pairs judged the same)", range=[-0.01, 1.01], tickformat=".0%",
                     scaleanchor="x", scaleratio=1, constrain="domain")
    return _layout(fig, title, height=460, legend=dict(orientation="h", y=-0.22, x=0))


def distance_histograms(distances: Sequence[float], same: Sequence[bool], tau: float | None = None, *,
                        title: str = "Distances of same and different pairs") -> go.Figure:
    """Overlaid histograms of the squared distances of same-identity and different-identity
    pairs, on the unit sphere's scale [0, 4]; the rule "same when d ≤ τ" is the line τ."""
    d, s = np.asarray(distances, float), np.asarray(same, bool)
    top = max(4.0, float(d.max(initial=0)))
    bins = dict(start=0, end=top, size=top / 50)
    fig = go.Figure()
    fig.add_histogram(x=d[s], xbins=bins, name=f"same identity ({int(s.sum()):,} pairs)", marker_color=SAME,
                      opacity=0.6, hovertemplate="d %{x}<br>%{y} pairs<extra>same</extra>")
    fig.add_histogram(x=d[~s], xbins=bins, name=f"different identities ({int((~s).sum()):,} pairs)",
                      marker_color=DIFFERENT, opacity=0.6, hovertemplate="d %{x}<br>%{y} pairs<extra>different</extra>")
    if tau is not None:
        fig.add_vline(x=tau, line=dict(color="#222", width=2), annotation_text=f"τ = {tau:.2f}",
                      annotation_position="top right")
    fig.update_xaxes(title="squared distance d = ‖f(x₁) − f(x₂)‖²", range=[0, top])
    fig.update_yaxes(title="pairs")
    return _layout(fig, title, height=460, barmode="overlay", legend=dict(orientation="h", y=-0.22, x=0))


def embedding_scatter(points: np.ndarray, labels: Sequence[int], names: Sequence[str], *,
                      title: str = "Embeddings in 2-D (PCA), coloured by identity") -> go.Figure:
    """[N, 2] points, one colour per identity (``names[label]`` in the legend); hover gives
    the image's index."""
    pts, y = np.asarray(points, float), np.asarray(labels)
    fig = go.Figure()
    for i, ident in enumerate(sorted(set(y.tolist()))):
        idx = np.flatnonzero(y == ident)
        name = names[ident] if 0 <= ident < len(names) else str(ident)
        fig.add_scattergl(x=pts[idx, 0], y=pts[idx, 1], mode="markers", name=name, customdata=idx,
                          marker=dict(size=6, color=PALETTE[i % len(PALETTE)], opacity=0.75),
                          hovertemplate=f"{name}<br>image %{{customdata}}<extra></extra>")
    fig.update_xaxes(title="component 1")
    fig.update_yaxes(title="component 2", scaleanchor="x", scaleratio=1)
    return _layout(fig, title, height=440, legend=dict(title="identity"))

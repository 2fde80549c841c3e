"""Figures for the VAE tab (pure: data in, ``go.Figure`` out): the reconstruction and KL
terms per epoch, images tiled into one picture (inputs over their reconstructions, the
latent grid, an interpolation, samples from the prior), and the latent means in 2-D
coloured by class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.colors import PALETTE

__all__ = ["image_mosaic", "latent_scatter", "loss_terms"]

TERM_COLORS = {"recon": PALETTE[0], "kl": PALETTE[1]}
MAX_POINTS = 3000


def _layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    fig.update_layout(template="plotly_white", title=title, height=height, **kw)
    return fig


def loss_terms(rows: Sequence[Mapping[str, float]], beta: float | None = None) -> go.Figure:
    """Per epoch: the reconstruction term −log p(x|z) (left) and KL(q(z|x) ‖ N(0, I))
    (right), on the training steps (dashed) and the dev set (solid); ``rows`` carry
    ``epoch`` and any of ``train_recon``, ``dev_recon``, ``train_kl``, ``dev_kl``."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["Reconstruction −log p(x|z) (nats per image)", "KL(q(z|x) ‖ N(0, I)) (nats)"])
    for col, term in enumerate(("recon", "kl"), start=1):
        for part, dash in (("train", "dash"), ("dev", "solid")):
            key = f"{part}_{term}"
            pts = [(r["epoch"], r[key]) for r in rows if key in r and np.isfinite(r[key])]
            if not pts:
                continue
            x, y = zip(*pts, strict=True)
            fig.add_scatter(x=list(x), y=list(y), mode="lines+markers", name=f"{part} ({'training steps' if part == 'train' else 'dev set'})",
                            line=dict(color=TERM_COLORS[term], dash=dash), legendgroup=part, showlegend=col == 1,
                            row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    title = "The two terms of the loss per epoch" + (f" (loss = recon + {beta:g} × KL)" if beta is not None else "")
    return _layout(fig, title, legend=dict(orientation="h", y=-0.22))


def image_mosaic(picture: np.ndarray, title: str, *, height: int | None = None,
                 row_labels: Sequence[str] = ()) -> go.Figure:
    """One grey picture in [0, 1] (e.g. from :func:`core.artifacts.image_grid`) as an image figure; optional
    labels at the left of its rows (the picture split into that many equal bands)."""
    pic = np.clip(np.asarray(picture, np.float32), 0, 1)
    rgb = np.repeat((pic * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    if row_labels:
        step = pic.shape[0] / len(row_labels)
        for i, label in enumerate(row_labels):
            fig.add_annotation(x=0, y=(i + 0.5) * step, xref="x", yref="y", text=label, showarrow=False,
                               xanchor="right", xshift=-6, font=dict(size=12))
    left = 110 if row_labels else 10
    h = height or int(min(max(pic.shape[0] / pic.shape[1] * 800 + 60, 160), 700))
    return _layout(fig, title, height=h, margin=dict(l=left, r=10, t=50, b=10))


def latent_scatter(coords: np.ndarray, labels: np.ndarray, classes: Sequence[str], *, how: str,
                   highlight: Mapping[str, Sequence[float]] | None = None) -> go.Figure:
    """Latent means in 2-D (``coords`` [N, 2]) coloured by class; ``how`` says what the
    axes are (the two latent dimensions or the first two principal components);
    ``highlight``: named points drawn as large stars (e.g. the two interpolation ends).
    The title says "PCA of μ" when ``how`` mentions principal components."""
    coords, labels = np.asarray(coords, float), np.asarray(labels)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(labels):
        raise ValueError("give coordinates [N, 2] and N labels")
    keep = np.arange(len(coords))[:MAX_POINTS]
    fig = go.Figure()
    for k, name in enumerate(classes):
        idx = keep[labels[keep] == k]
        if len(idx):
            fig.add_scattergl(x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=str(name),
                              marker=dict(size=5, color=PALETTE[k % len(PALETTE)], opacity=0.75))
    for i, (name, xy) in enumerate((highlight or {}).items()):
        fig.add_scatter(x=[xy[0]], y=[xy[1]], mode="markers+text", name=name, text=[name], textposition="top center",
                        marker=dict(size=16, symbol="star", color="black" if i == 0 else PALETTE[13],
                                    line=dict(color="white", width=1)))
    pca = "principal" in how
    fig.update_xaxes(title_text="PC 1" if pca else "z₁")
    fig.update_yaxes(title_text="PC 2" if pca else "z₂", scaleanchor="x")
    return _layout(fig, f"Dev images in latent space ({'PCA of μ' if pca else 'μ as it is'})", height=480,
                   legend=dict(title="class"))

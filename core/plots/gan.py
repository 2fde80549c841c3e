"""Figures for the GAN tabs (pure: data in, ``go.Figure`` out): the two losses and the two means
of D per generator step, the Fréchet distance per epoch, a sample grid, the class coverage
bars, and the 2-D toy's frames (decision surface D(x) with real and generated points) with a
step slider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.colors import color
from core.plots.curves import curves

REAL, FAKE = color(10), color(13)  # D3 blue and red (core.colors)

__all__ = ["class_coverage_bars", "d_output_curves", "fd_curve", "gan_loss_curves", "sample_grid", "toy_frames"]


def _smoothing(n: int) -> float:
    return 0.9 if n > 300 else 0.6 if n > 50 else 0.0


def gan_loss_curves(rows: Sequence[Mapping[str, float]], *, title: str = "Losses per generator step") -> go.Figure:
    """D's loss (−V) and G's loss against the generator step."""
    steps = [r["step"] for r in rows]
    fig = curves({"D loss (−V)": (steps, [r["d_loss"] for r in rows]), "G loss": (steps, [r["g_loss"] for r in rows])},
                 xlabel="generator step", ylabel="loss", title=title, smoothing=_smoothing(len(rows)),
                 colors={"D loss (−V)": REAL, "G loss": FAKE})
    fig.update_layout(height=340)
    return fig


def d_output_curves(rows: Sequence[Mapping[str, float]], *, title: str = "What D says: mean D(x) and mean D(G(z))") -> go.Figure:
    """Mean D(x) on real batches and mean D(G(z)) on fakes; 0.5 (D cannot tell) dotted."""
    steps = [r["step"] for r in rows]
    fig = curves({"mean D(x), real": (steps, [r["d_real"] for r in rows]),
                  "mean D(G(z)), fake": (steps, [r["d_fake"] for r in rows])},
                 xlabel="generator step", ylabel="D", title=title, smoothing=_smoothing(len(rows)),
                 colors={"mean D(x), real": REAL, "mean D(G(z)), fake": FAKE})
    fig.add_hline(y=0.5, line=dict(color="grey", dash="dot", width=1))
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(height=340)
    return fig


def fd_curve(epochs: Sequence[Mapping[str, float]], *, title: str = "Fréchet distance to real digits (lower is better)") -> go.Figure:
    rows = [r for r in epochs if "fd" in r]
    fig = curves({"FD": ([r["epoch"] for r in rows], [r["fd"] for r in rows])}, xlabel="epoch", ylabel="FD", title=title,
                 log_y=True, colors={"FD": color(12)})
    fig.update_layout(height=340, showlegend=False)
    return fig


def sample_grid(grid: np.ndarray, *, title: str = "", height: int = 420) -> go.Figure:
    """A uint8 grey picture (GAN samples tiled with :func:`core.artifacts.image_grid`, × 255) as an image figure."""
    fig = go.Figure(go.Heatmap(z=np.asarray(grid)[::-1], colorscale="gray", zmin=0, zmax=255, showscale=False,
                               hoverinfo="skip"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(template="plotly_white", title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def class_coverage_bars(counts: Sequence[int], classes: Sequence[str], *, entropy_bits: float | None = None,
                        title: str = "Predicted classes of the samples") -> go.Figure:
    total = max(sum(counts), 1)
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=[c / total for c in counts], marker_color=color(14),
                           text=[str(c) for c in counts], textposition="outside",
                           hovertemplate="class %{x}<br>%{y:.1%} of the samples<extra></extra>"))
    fig.add_hline(y=1 / max(len(classes), 1), line=dict(color="grey", dash="dot", width=1),
                  annotation_text="uniform", annotation_position="top left")
    sub = f" · entropy {entropy_bits:.2f} of {np.log2(max(len(classes), 1)):.2f} bits" if entropy_bits is not None else ""
    fig.update_layout(template="plotly_white", title=title + sub, height=340, margin=dict(l=60, r=20, t=60, b=50),
                      xaxis_title="predicted class", yaxis_title="share of samples", yaxis_tickformat=".0%")
    return fig


def _frame_traces(frame: Any, extent: float) -> list[go.BaseTraceType]:
    n = frame.surface.shape[0]
    axis = np.linspace(-extent, extent, n)
    return [
        go.Heatmap(x=axis.round(3), y=axis.round(3), z=np.round(frame.surface, 3), zmin=0, zmax=1, colorscale="RdBu", reversescale=False, opacity=0.55,
                   colorbar=dict(title="D(x)", len=0.7, y=0.62), hovertemplate="x %{x:.2f}, y %{y:.2f}<br>D(x) = %{z:.2f}<extra></extra>"),
        go.Scatter(x=frame.fake[:, 0].round(3), y=frame.fake[:, 1].round(3), mode="markers", name="generated G(z)",
                   marker=dict(color=FAKE, size=7, opacity=0.85, line=dict(color="black", width=0.6))),
    ]


def _toy_title(title: str, frame: Any) -> str:
    return f"{title} · step {frame.step} · {frame.covered} mode{'' if frame.covered == 1 else 's'} covered"


def toy_frames(frames: Sequence[Any], real: np.ndarray, extent: float, *,
               title: str = "Real points, generated points and D's decision surface") -> go.Figure:
    """The toy's frames (each with ``step``, ``fake`` [N, 2], ``surface`` [n, n], ``covered``) as
    Plotly animation frames with a step slider; real points stay put (blue), generated points red,
    D(x) as the background (blue: "real", red: "fake")."""
    if not frames:
        raise ValueError("no frames to draw")
    real_trace = go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real x",
                            marker=dict(color=REAL, size=3, opacity=0.35))
    first = frames[-1]
    surface, fake = _frame_traces(first, extent)
    fig = go.Figure(data=[surface, real_trace, fake],  # generated points drawn last, on top of the real ones
                    frames=[go.Frame(data=_frame_traces(f, extent), traces=[0, 2], name=str(f.step),
                                     layout=go.Layout(title=_toy_title(title, f)))
                            for f in frames])
    steps = [dict(method="animate", label=str(f.step),
                  args=[[str(f.step)], dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
             for f in frames]
    fig.update_layout(
        template="plotly_white", height=660, title=_toy_title(title, first),
        margin=dict(l=40, r=20, t=60, b=40), legend=dict(x=1.02, y=0.2, yanchor="top", xanchor="left"),
        sliders=[dict(active=len(frames) - 1, steps=steps, currentvalue=dict(prefix="generator step "), pad=dict(t=50),
                      x=0.12, len=0.88)],
        updatemenus=[dict(type="buttons", showactive=False, x=0.1, y=0, xanchor="right", yanchor="top", pad=dict(t=75),
                          direction="left",
                          buttons=[dict(label="▶ Play", method="animate",
                                        args=[None, dict(frame=dict(duration=150, redraw=True), fromcurrent=False,
                                                         transition=dict(duration=0))])])],
    )
    fig.update_xaxes(range=[-extent, extent], constrain="domain")
    fig.update_yaxes(range=[-extent, extent], scaleanchor="x")
    return fig

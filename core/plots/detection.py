"""Figures for the Object detection page: boxes drawn over images (or a blank canvas) as Plotly
shapes, grid lines, anchors as dashed boxes, each round of non-max suppression as a small
multiple, and the reported speeds of the R-CNN family against YOLO.

Boxes are xyxy in pixels with pixel (row i, column j) covering [j, j + 1) × [i, i + 1); an image
is drawn so that its pixels sit exactly there (y grows downwards, as in the image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import colors

KEPT_COLOR = "#00c853"
DROP_COLOR = "#d62728"
LEFT_COLOR = "#7f7f7f"
CANVAS_COLOR = "#f4f4f4"
ANCHOR_COLOR = "#d62728"


def class_color(label: int) -> str:
    """The colour of class ``label`` (the one :func:`core.artifacts.annotate_boxes` uses too)."""
    return colors.color(int(label))


@dataclass(frozen=True)
class Drawn:
    """One box to draw: ``box`` xyxy in pixels, outline ``color``, an optional ``label`` tag at its
    top-left corner (under its bottom-left corner with ``tag_below``), a line ``dash`` ("solid", "dash",
    "dot"), line ``width``, an optional ``fill`` colour (drawn at ``opacity``)."""

    box: Sequence[float]
    color: str = KEPT_COLOR
    label: str = ""
    dash: str = "solid"
    width: float = 2.0
    fill: str | None = None
    opacity: float = 1.0
    tag_below: bool = False


def _translucent(color: str, alpha: float = 0.25) -> str:
    """A ``#rrggbb`` colour as an rgba() string with opacity ``alpha`` (for fills)."""
    c = color.lstrip("#")
    return f"rgba({int(c[0:2], 16)}, {int(c[2:4], 16)}, {int(c[4:6], 16)}, {alpha})"


def _rgb(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] or [3, H, W] in [0, 1] (float) or 0–255 (uint8) → [H, W, 3] uint8."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"the image must be [H, W, 3], [3, H, W] or [H, W], got {list(a.shape)}")
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    return a


class _Marks:
    """Shapes and annotations gathered in plain dicts and added to the figure in one go (adding them one
    by one through Plotly's validators costs milliseconds each, seconds for a grid of small multiples)."""

    def __init__(self) -> None:
        self.shapes: list[dict] = []
        self.notes: list[dict] = []

    @staticmethod
    def _refs(axis: int) -> dict:
        suffix = "" if axis <= 1 else str(axis)
        return {"xref": f"x{suffix}", "yref": f"y{suffix}"}

    def rect(self, x0: float, y0: float, x1: float, y1: float, axis: int = 1, **style) -> None:
        self.shapes.append({"type": "rect", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "layer": "above", **self._refs(axis),
                            **style})

    def line(self, x0: float, y0: float, x1: float, y1: float, axis: int = 1, **style) -> None:
        self.shapes.append({"type": "line", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "layer": "above", **self._refs(axis),
                            **style})

    def note(self, axis: int = 1, **spec) -> None:
        self.notes.append({"showarrow": False, **self._refs(axis), **spec})

    def box(self, d: Drawn, axis: int = 1, font: int = 11, halo: bool = False) -> None:
        """Draw ``d``; with ``halo`` a dark line under the outline keeps it visible on any picture."""
        x1, y1, x2, y2 = (float(v) for v in d.box)
        if halo:
            self.rect(x1, y1, x2, y2, axis, line={"color": "rgba(0,0,0,0.55)", "width": d.width + 2}, opacity=d.opacity)
        self.rect(x1, y1, x2, y2, axis, line={"color": d.color, "width": d.width, "dash": d.dash}, fillcolor=d.fill,
                  opacity=d.opacity)
        if d.label:
            self.note(axis, x=x1, y=y2 if d.tag_below else y1, text=d.label, xanchor="left",
                      yanchor="top" if d.tag_below else "bottom", font={"size": font, "color": "white"}, bgcolor=d.color,
                      borderpad=1, opacity=min(1.0, d.opacity + 0.2))

    def grid(self, S: int, height: int, width: int, axis: int = 1, color: str = "rgba(255,255,255,0.85)") -> None:
        for k in range(1, S):
            x, y = k * width / S, k * height / S
            self.line(x, 0, x, height, axis, line={"color": color, "width": 1.2})
            self.line(0, y, width, y, axis, line={"color": color, "width": 1.2})

    def add_to(self, fig: go.Figure) -> go.Figure:
        fig.update_layout(shapes=list(fig.layout.shapes) + self.shapes,
                          annotations=list(fig.layout.annotations) + self.notes)
        return fig


def _background(fig: go.Figure, marks: _Marks, image: np.ndarray | None, height: int, width: int,
                row: int | None = None, col: int | None = None, axis: int = 1) -> None:
    where = {} if row is None else {"row": row, "col": col}
    if image is not None:
        fig.add_trace(go.Image(z=_rgb(image), x0=0.5, y0=0.5, dx=1, dy=1,
                               hovertemplate="x %{x:.0f}, y %{y:.0f}<extra></extra>"), **where)
    else:
        marks.rect(0, 0, width, height, axis, fillcolor=CANVAS_COLOR, line={"color": "#999", "width": 1}, layer="below")
        # an invisible point per corner so hovering the canvas shows coordinates and the axes span it
        fig.add_trace(go.Scatter(x=[0, width], y=[0, height], mode="markers", marker=dict(opacity=0),
                                 hoverinfo="skip", showlegend=False), **where)


def _image_axes(fig: go.Figure, height: int, width: int, show_ticks: bool = False) -> None:
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, showticklabels=show_ticks, constrain="domain")
    fig.update_yaxes(range=[height, 0], autorange=False, showgrid=False, zeroline=False, showticklabels=show_ticks,
                     scaleanchor="x", constrain="domain")


def _scene(image: np.ndarray | None, drawn: Sequence[Drawn] = (), *, size: tuple[int, int] | None = None,
           grid: int | None = None, cells: Sequence[tuple[int, int]] = (), points: Sequence[tuple[float, float, str]] = (),
           title: str = "", height: int = 380, ticks: bool = False) -> tuple[go.Figure, _Marks]:
    if image is not None:
        h, w = _rgb(image).shape[:2]
    elif size is not None:
        h, w = int(size[0]), int(size[1])
    else:
        raise ValueError("give an image or a canvas size")
    fig, marks = go.Figure(), _Marks()
    _background(fig, marks, image, h, w)
    if grid:
        for r, c in cells:
            marks.rect(c * w / grid, r * h / grid, (c + 1) * w / grid, (r + 1) * h / grid,
                       fillcolor="rgba(255, 200, 0, 0.35)", line={"color": "#f0a500", "width": 2})
        marks.grid(grid, h, w, color="rgba(255,255,255,0.85)" if image is not None else "#9a9a9a")
    for d in drawn:
        marks.box(d, halo=image is not None)
    for x, y, color in points:
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", marker=dict(size=9, color=color, line=dict(color="white", width=1.5)),
                                 hovertemplate="centre (%{x:.1f}, %{y:.1f})<extra></extra>", showlegend=False))
    _image_axes(fig, h, w, ticks)
    fig.update_layout(template="plotly_white", title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      showlegend=False)
    return fig, marks


def scene_figure(image: np.ndarray | None, drawn: Sequence[Drawn] = (), *, size: tuple[int, int] | None = None,
                 grid: int | None = None, cells: Sequence[tuple[int, int]] = (), points: Sequence[tuple[float, float, str]] = (),
                 title: str = "", height: int = 380, ticks: bool = False) -> go.Figure:
    """An image (or, with ``image=None``, a blank canvas of ``size`` = (height, width)) with ``drawn`` boxes.

    ``grid``: draw an S × S grid; ``cells``: (row, column) of grid cells to shade; ``points``: markers
    (x, y, colour), e.g. box centres. Boxes are drawn in order (later ones on top).
    """
    fig, marks = _scene(image, drawn, size=size, grid=grid, cells=cells, points=points, title=title, height=height,
                        ticks=ticks)
    return marks.add_to(fig)


def localization_figure(image: np.ndarray | None, box: Sequence[float] | None, label: str, color: str, *,
                        size: int, title: str = "") -> go.Figure:
    """A one-object picture with its box, the box centre (b_x, b_y) marked with dotted guides from the
    left and top edges, and arrows for the height b_h and width b_w."""
    drawn = [] if box is None else [Drawn(box, color, label, width=2.5)]
    if box is None:
        return scene_figure(image, drawn, size=(size, size), title=title, ticks=True)
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    fig, marks = _scene(image, drawn, size=(size, size), points=[(cx, cy, color)], title=title, ticks=True)
    guide = {"color": "white", "width": 1.5, "dash": "dot"}
    marks.line(0, cy, cx, cy, line=guide)
    marks.line(cx, 0, cx, cy, line=guide)
    label = {"font": {"color": "black", "size": 12}, "bgcolor": "rgba(255,255,255,0.85)"}
    for text, (ax, ay, x, y) in {
        "b_w": (x1, y2 + 0.06 * size, x2, y2 + 0.06 * size),
        "b_h": (x2 + 0.06 * size, y1, x2 + 0.06 * size, y2),
    }.items():
        for a, b in (((ax, ay), (x, y)), ((x, y), (ax, ay))):  # a double-headed arrow
            marks.note(x=b[0], y=b[1], ax=a[0], ay=a[1], axref="x", ayref="y", text="", showarrow=True, arrowhead=2,
                       arrowwidth=1.5, arrowcolor="white")
        marks.note(x=(ax + x) / 2, y=(ay + y) / 2, text=text, **label)
    marks.note(x=cx, y=cy, text="(b_x, b_y)", yshift=14, **label)
    return marks.add_to(fig)


def iou_figure(box_a: Sequence[float], box_b: Sequence[float], size: int, *, title: str = "") -> go.Figure:
    """Two boxes on a blank canvas: A in blue, B in orange, their overlap filled green."""
    a = [float(v) for v in box_a]
    b = [float(v) for v in box_b]
    drawn = [Drawn(a, "#1f77b4", "A", width=2.5, fill="rgba(31,119,180,0.12)"),
             Drawn(b, "#ff7f0e", "B", width=2.5, fill="rgba(255,127,14,0.12)")]
    ix1, iy1, ix2, iy2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    if ix2 > ix1 and iy2 > iy1:
        drawn.append(Drawn((ix1, iy1, ix2, iy2), KEPT_COLOR, "", width=1, dash="dot", fill="rgba(44,160,44,0.55)"))
    return scene_figure(None, drawn, size=(size, size), title=title, height=420, ticks=True)


def anchor_figure(size: int, S: int, box: Sequence[float], cell: tuple[int, int], anchors_px: Sequence[tuple[float, float]],
                  best: int, color: str, *, image: np.ndarray | None = None, title: str = "") -> go.Figure:
    """The S × S grid with the cell that holds the box's centre shaded, the box, its centre, and every
    anchor shape (width, height in pixels) as a dashed box centred on the same point; the chosen anchor
    is drawn thicker, in red, and labelled."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    drawn = [Drawn(box, color, "object", width=2.5, fill=_translucent(color))]
    for k, (w, h) in enumerate(anchors_px):
        if k != best:
            drawn.append(Drawn((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), "#8c8c8c", dash="dash", width=1.3))
    w, h = anchors_px[best]
    drawn.append(Drawn((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), ANCHOR_COLOR, f"anchor {best}", dash="dash",
                       width=2.8, tag_below=True))
    return scene_figure(image, drawn, size=(size, size), grid=S, cells=[cell], points=[(cx, cy, color)], title=title,
                        height=500, ticks=True)


def nms_overview(image: np.ndarray | None, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                 keep: Sequence[int] | None = None, *, names: Sequence[str] = (), size: int | None = None,
                 title: str = "") -> go.Figure:
    """Candidate boxes in their class colours, tagged "#index score". With ``keep`` only those are drawn."""
    idx = range(len(scores)) if keep is None else list(keep)
    drawn = []
    for i in sorted(idx, key=lambda i: float(scores[i])):  # the best on top
        tag = f"#{i} {float(scores[i]):.2f}" + (f" {names[int(labels[i])]}" if keep is not None and names else "")
        drawn.append(Drawn(boxes[i], class_color(int(labels[i])), tag, width=2.5 if keep is not None else 1.5,
                           opacity=1.0 if keep is not None else 0.45 + 0.55 * float(scores[i])))
    return scene_figure(image, drawn, size=None if image is not None else (size, size), title=title, height=470)


def nms_rounds_figure(image: np.ndarray | None, boxes: np.ndarray, scores: np.ndarray, rounds: Sequence, *,
                      groups: Sequence[str] | None = None, size: int | None = None, cols: int = 4) -> go.Figure:
    """One small picture per NMS round (``rounds``: :class:`core.detection.boxes.NmsRound` with indices into
    ``boxes``). In each: boxes kept in earlier rounds faint green, the box kept now thick green, the boxes it
    removes red and dashed, boxes still in play thin grey (the title lists the kept and removed numbers).
    ``groups``: a prefix per round for its title (e.g. the class, for per-class NMS)."""
    if image is not None:
        h, w = _rgb(image).shape[:2]
    else:
        h = w = int(size)
    n = max(1, len(rounds))
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    titles = []
    for k, r in enumerate(rounds):
        prefix = f"{groups[k]}, " if groups else ""
        dropped = " ".join(f"#{i}" for i in r.suppressed) or "none"
        titles.append(f"{prefix}round {k + 1}: keep #{r.kept} ({r.score:.2f})<br>remove {dropped}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles or ["nothing above the score threshold"],
                        horizontal_spacing=0.02, vertical_spacing=0.08 if rows > 1 else 0.1)
    marks = _Marks()
    kept_before: list[int] = []
    halo = image is not None
    for k, r in enumerate(rounds):
        row, col = k // cols + 1, k % cols + 1
        axis = k + 1  # make_subplots numbers the axes row by row
        _background(fig, marks, image, h, w, row, col, axis)
        for i in r.remaining:
            marks.box(Drawn(boxes[i], LEFT_COLOR, width=1, opacity=0.8), axis)
        for i in kept_before:
            marks.box(Drawn(boxes[i], KEPT_COLOR, width=1.2, opacity=0.5), axis)
        for i in r.suppressed:
            marks.box(Drawn(boxes[i], DROP_COLOR, dash="dash", width=1.8), axis, halo=halo)
        marks.box(Drawn(boxes[r.kept], KEPT_COLOR, f"#{r.kept}", width=3), axis, font=9, halo=halo)
        kept_before.append(r.kept)
    _image_axes(fig, h, w)
    for a in fig.layout.annotations[: len(titles)]:
        a.font = dict(size=11)
    fig.update_layout(template="plotly_white", height=40 + rows * 290, margin=dict(l=5, r=5, t=50, b=5), showlegend=False)
    return marks.add_to(fig)


def speed_bars(names: Sequence[str], fps: Sequence[float], notes: Sequence[str], *, title: str = "") -> go.Figure:
    """Horizontal bars of images per second on a log scale, one per method, each with its note on hover."""
    fig = go.Figure(go.Bar(
        y=list(names), x=list(fps), orientation="h", text=[f"{v:.3g} per s" for v in fps], textposition="outside",
        customdata=list(notes), marker_color=["#9ecae1" if v < 10 else "#3182bd" for v in fps],
        hovertemplate="%{y}: %{x:.3g} images per second<br>%{customdata}<extra></extra>",
    ))
    fig.update_layout(template="plotly_white", title=title, height=90 + 42 * len(names), margin=dict(l=10, r=40, t=50, b=40),
                      xaxis=dict(type="log", title="images per second (log scale), as reported", range=[-2.2, 2.8]),
                      yaxis=dict(autorange="reversed"))
    return fig

"""Classification with localization and the YOLO grid target, written out as the course describes.

**One object per image** (classification with localization). The network's output is the vector

    y = (p_c, b_x, b_y, b_h, b_w, c_1, …, c_n)

``p_c`` = 1 when there is an object, ``(b_x, b_y)`` its box centre and ``(b_h, b_w)`` its height and
width, all as fractions of the image (top-left corner (0, 0), bottom-right (1, 1)), and ``c_1…c_n``
the one-hot class. With no object ``p_c`` = 0 and the other entries do not matter (set to 0 here).

**YOLO** (Redmon et al., 2016, "You Only Look Once: Unified, Real-Time Object Detection"; anchor
boxes from Redmon & Farhadi, 2017, "YOLO9000: Better, Faster, Stronger"). The image is cut into an
S × S grid; each cell has A anchor boxes (pre-defined shapes), and each (cell, anchor) slot holds its
own vector (p_c, b_x, b_y, b_h, b_w, c_1…c_n), so the target is a tensor [S, S, A, 5 + C]. An object
goes to the cell that contains its centre and, within that cell, to the anchor whose shape has the
highest IoU with the object's shape (both centred on the same point). In that slot:

* ``b_x, b_y`` — the centre relative to the cell: 0 at the cell's left/top edge, → 1 at its
  right/bottom edge (in [0, 1));
* ``b_h, b_w`` — the height and width as fractions of the whole image (so in (0, 1]). This lab keeps
  the course's plain form; YOLOv2+ predict a log-ratio to the anchor instead. The anchor only decides
  which slot holds the object.

Boxes in pixels are xyxy ``(x1, y1, x2, y2)``; ``image_size`` is an int (square image) or
``(height, width)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from core.detection.boxes import Detections, _as_boxes
from core.settings import Settings, setting

__all__ = [
    "DEFAULT_ANCHORS",
    "Assignment",
    "GridSpec",
    "Localization",
    "activate",
    "anchor_iou",
    "assign",
    "collisions",
    "decode",
    "encode",
    "localization_decode",
    "localization_fields",
    "localization_target",
]

DEFAULT_ANCHORS: tuple[tuple[float, float], ...] = ((0.40, 0.20), (0.28, 0.28), (0.20, 0.40))
"""Anchor shapes (width, height) as fractions of the image: wide, square, tall."""


def _image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    """``image_size`` (an int for a square image, or (height, width)) → (height, width)."""
    if isinstance(image_size, int | float):
        h = w = image_size
    else:
        if len(image_size) != 2:
            raise ValueError(f"image_size must be one number or (height, width), got {image_size!r}")
        h, w = image_size
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"image height and width must be whole numbers of at least 1, got {image_size!r}")
    return int(h), int(w)


def localization_fields(n_classes: int) -> list[str]:
    """Names of the entries of the output vector: ``["p_c", "b_x", "b_y", "b_h", "b_w", "c_1", …]``."""
    return ["p_c", "b_x", "b_y", "b_h", "b_w"] + [f"c_{k + 1}" for k in range(n_classes)]


def localization_target(box: Tensor | Sequence[float] | None, label: int | None, n_classes: int,
                        image_size: int | Sequence[int]) -> Tensor:
    """The target vector y = (p_c, b_x, b_y, b_h, b_w, c_1…c_n) for an image with at most one object.

    ``box``: xyxy in pixels (shape [4]), or ``None`` for an image without an object (then y has
    p_c = 0 and zeros elsewhere). ``label``: the class index in [0, n_classes). Returns float32 [5 + n].
    """
    if n_classes < 1:
        raise ValueError(f"there must be at least one class, got {n_classes}")
    h, w = _image_hw(image_size)
    y = torch.zeros(5 + n_classes)
    if box is None:
        return y
    b = _as_boxes(torch.as_tensor(box, dtype=torch.float32).reshape(1, -1))[0].double()
    if label is None or not 0 <= int(label) < n_classes:
        raise ValueError(f"the label must be a class index from 0 to {n_classes - 1}, got {label}")
    y[0] = 1.0
    y[1] = float((b[0] + b[2]) / 2 / w)  # b_x: centre, fraction of the width
    y[2] = float((b[1] + b[3]) / 2 / h)  # b_y: centre, fraction of the height
    y[3] = float((b[3] - b[1]) / h)  # b_h
    y[4] = float((b[2] - b[0]) / w)  # b_w
    y[5 + int(label)] = 1.0
    return y


class Localization(NamedTuple):
    """A read-out vector: ``p_c`` (object probability), ``box`` xyxy in pixels [4], ``label`` (argmax class)."""

    p_c: float
    box: Tensor
    label: int


def localization_decode(y: Tensor, image_size: int | Sequence[int]) -> Localization:
    """The inverse of :func:`localization_target`: y [5 + n] → (p_c, box xyxy in pixels, label).

    The box and label are read whatever ``p_c`` is; a caller decides with ``p_c`` whether to show them.
    """
    y = torch.as_tensor(y)
    if y.ndim != 1 or y.shape[0] < 6:
        raise ValueError(f"y must be a vector (p_c, b_x, b_y, b_h, b_w, c_1, …) with at least one class, got shape {list(y.shape)}")
    h, w = _image_hw(image_size)
    yd = y.detach().double()
    cx, cy, bh, bw = yd[1] * w, yd[2] * h, yd[3] * h, yd[4] * w
    box = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]).float()
    return Localization(float(yd[0]), box, int(torch.argmax(yd[5:])))


@dataclass(frozen=True)
class GridSpec(Settings):
    """A YOLO output layout: an ``S`` × ``S`` grid over an image of ``image_size`` pixels (int or
    (height, width)), ``anchors`` as (width, height) fractions of the image, and ``n_classes`` classes.
    The target/output tensor has shape ``[S, S, A, 5 + C]`` (:attr:`shape`)."""

    S: int = setting(4, options=tuple(range(1, 9)), label="Grid size S")
    anchors: tuple[tuple[float, float], ...] = DEFAULT_ANCHORS
    n_classes: int = setting(3, lo=1, label="Number of classes")
    image_size: int | tuple[int, int] = 64

    def check(self) -> None:
        try:
            anchors = tuple((float(a[0]), float(a[1])) for a in self.anchors if len(a) == 2)
        except TypeError:
            anchors = ()
        if not anchors or len(anchors) != len(self.anchors):
            raise ValueError("anchors must be a non-empty list of (width, height) pairs")
        if any(not (0 < v <= 1) for a in anchors for v in a):
            raise ValueError("anchor widths and heights are fractions of the image: each must be in (0, 1]")
        if int(self.n_classes) != self.n_classes:
            raise ValueError(f"there must be a whole number of classes, got {self.n_classes}")
        _image_hw(self.image_size)
        object.__setattr__(self, "S", int(self.S))
        object.__setattr__(self, "anchors", anchors)
        object.__setattr__(self, "n_classes", int(self.n_classes))
        if not isinstance(self.image_size, int):
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))

    @property
    def A(self) -> int:
        """Number of anchors per cell."""
        return len(self.anchors)

    @property
    def depth(self) -> int:
        """Length of one slot's vector: 5 + C."""
        return 5 + self.n_classes

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Shape of the target/output tensor: (S, S, A, 5 + C)."""
        return (self.S, self.S, self.A, self.depth)

    @property
    def height(self) -> int:
        return _image_hw(self.image_size)[0]

    @property
    def width(self) -> int:
        return _image_hw(self.image_size)[1]

    @property
    def cell_size(self) -> tuple[float, float]:
        """(height, width) of one grid cell in pixels."""
        return self.height / self.S, self.width / self.S


class Assignment(NamedTuple):
    """Where an object goes: grid ``row`` and ``col`` (of the cell holding its centre) and ``anchor`` index."""

    row: int
    col: int
    anchor: int


def anchor_iou(box_xyxy: Tensor | Sequence[float], grid: GridSpec) -> Tensor:
    """IoU between the box's shape and each anchor's shape, both centred on the same point: [A].

    Only widths and heights count (as fractions of the image): IoU = min(w)·min(h) / (w·h + w_a·h_a − min(w)·min(h)).
    """
    b = _as_boxes(torch.as_tensor(box_xyxy, dtype=torch.float64).reshape(1, -1), "box")[0].double()
    w, h = (b[2] - b[0]) / grid.width, (b[3] - b[1]) / grid.height
    anchors = torch.tensor(grid.anchors, dtype=torch.float64)  # (A, 2) as (w, h)
    overlap = torch.minimum(anchors[:, 0], w) * torch.minimum(anchors[:, 1], h)
    return overlap / (anchors[:, 0] * anchors[:, 1] + w * h - overlap)


def assign(box_xyxy: Tensor | Sequence[float], grid: GridSpec) -> Assignment:
    """The slot for one object: the cell that contains the box centre, and the anchor with the best shape IoU.

    ``box_xyxy``: [4] in pixels; its centre must lie inside the image. Ties between anchors go to the first.
    """
    b = _as_boxes(torch.as_tensor(box_xyxy, dtype=torch.float64).reshape(1, -1), "box")[0].double()
    cx, cy = float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2
    if not (0 <= cx <= grid.width and 0 <= cy <= grid.height):
        raise ValueError(f"the box centre ({cx:g}, {cy:g}) is outside the {grid.width}×{grid.height} image")
    cell_h, cell_w = grid.cell_size
    row = min(int(cy // cell_h), grid.S - 1)
    col = min(int(cx // cell_w), grid.S - 1)
    return Assignment(row, col, int(torch.argmax(anchor_iou(b, grid))))


def _check_objects(boxes: Tensor, labels: Tensor, grid: GridSpec) -> tuple[Tensor, Tensor]:
    b = _as_boxes(boxes)
    lab = torch.as_tensor(labels).reshape(-1)
    if lab.shape[0] != b.shape[0]:
        raise ValueError(f"there must be one label per box: {b.shape[0]} boxes, {lab.shape[0]} labels")
    if lab.numel() and (lab.min() < 0 or lab.max() >= grid.n_classes):
        raise ValueError(f"labels must be class indices from 0 to {grid.n_classes - 1}")
    return b, lab.long()


def collisions(boxes: Tensor, grid: GridSpec) -> list[int]:
    """Indices of the boxes that lose their slot because an earlier box took the same (cell, anchor).

    YOLO can hold one object per (cell, anchor); :func:`encode` keeps the first and drops these.
    """
    seen: set[Assignment] = set()
    lost = []
    for i, box in enumerate(_as_boxes(boxes)):
        slot = assign(box, grid)
        if slot in seen:
            lost.append(i)
        seen.add(slot)
    return lost


def encode(boxes: Tensor, labels: Tensor, grid: GridSpec) -> Tensor:
    """The YOLO target for one image: [K, 4] xyxy boxes in pixels and [K] labels → [S, S, A, 5 + C].

    Each object fills its slot (see :func:`assign`) with p_c = 1, (b_x, b_y) its centre relative to the
    cell in [0, 1), (b_h, b_w) its size as fractions of the image, and its one-hot class. Every other slot
    is all zeros. When two objects want the same slot the first one keeps it (see :func:`collisions`).
    """
    b, lab = _check_objects(boxes, labels, grid)
    target = torch.zeros(grid.shape)
    cell_h, cell_w = grid.cell_size
    for box, label in zip(b.double(), lab):
        row, col, a = assign(box, grid)
        if target[row, col, a, 0] == 1:
            continue
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        target[row, col, a, 0] = 1.0
        target[row, col, a, 1] = float(cx / cell_w - col)  # b_x in [0, 1) inside the cell
        target[row, col, a, 2] = float(cy / cell_h - row)  # b_y
        target[row, col, a, 3] = float((box[3] - box[1]) / grid.height)  # b_h, fraction of the image
        target[row, col, a, 4] = float((box[2] - box[0]) / grid.width)  # b_w
        target[row, col, a, 5 + int(label)] = 1.0
    return target


def activate(raw: Tensor) -> Tensor:
    """Turn a network's raw output [..., 5 + C] into the target's form: a sigmoid on p_c, b_x, b_y,
    b_h, b_w (all live in [0, 1]) and a softmax over the class scores."""
    if raw.shape[-1] < 6:
        raise ValueError(f"the last dimension must be 5 + C with at least one class, got {raw.shape[-1]}")
    return torch.cat([torch.sigmoid(raw[..., :5]), torch.softmax(raw[..., 5:], dim=-1)], dim=-1)


def decode(output: Tensor, grid: GridSpec, score_threshold: float = 0.5) -> Detections:
    """Read the boxes out of a YOLO output (or target) [S, S, A, 5 + C] for one image.

    For every slot: score = p_c · (largest class probability), label = that class, and the box in
    pixels from (b_x, b_y) relative to the cell and (b_h, b_w) relative to the image. Slots whose score
    is not above ``score_threshold`` are dropped. Sorted by decreasing score; no non-max suppression
    (apply :func:`~core.detection.boxes.batched_nms` to the result).
    """
    out = torch.as_tensor(output)
    if tuple(out.shape) != grid.shape:
        raise ValueError(f"the output must have shape {list(grid.shape)} (S, S, A, 5 + C), got {list(out.shape)}")
    out = out.detach().double()
    cell_h, cell_w = grid.cell_size
    rows = torch.arange(grid.S, dtype=torch.float64).view(-1, 1, 1)  # (S, 1, 1)
    cols = torch.arange(grid.S, dtype=torch.float64).view(1, -1, 1)  # (1, S, 1)
    cx = (cols + out[..., 1]) * cell_w  # (S, S, A)
    cy = (rows + out[..., 2]) * cell_h
    h = out[..., 3] * grid.height
    w = out[..., 4] * grid.width
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1).reshape(-1, 4)
    class_prob, labels = out[..., 5:].max(dim=-1)
    scores = (out[..., 0] * class_prob).reshape(-1)
    keep = torch.nonzero(scores > float(score_threshold)).flatten()
    keep = keep[torch.sort(scores[keep], descending=True, stable=True).indices]
    return Detections(boxes[keep].float(), scores[keep].float(), labels.reshape(-1)[keep])

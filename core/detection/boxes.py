"""Bounding boxes: intersection over union, non-max suppression and format conversions.

Every box here is a row ``(x1, y1, x2, y2)`` in pixels ("xyxy"): the top-left corner, then the
bottom-right one, with ``x1 <= x2`` and ``y1 <= y2`` (``x`` grows to the right, ``y`` downwards).
A set of ``N`` boxes is a float tensor of shape ``[N, 4]``. The contracts follow torchvision's
``ops/boxes.py`` (``box_iou``, ``nms``, ``batched_nms``, ``box_convert``) so the two can be compared
one to one; the code follows the course:

* IoU = area of overlap / area of union;
* non-max suppression: (1) select the box with the highest confidence, (2) remove every remaining box
  whose IoU with it is above the threshold, (3) repeat with the boxes that are left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "Detections",
    "NmsRound",
    "area",
    "batched_nms",
    "cxcywh_to_xyxy",
    "iou",
    "nms",
    "nms_steps",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
]


@dataclass(frozen=True)
class Detections:
    """Boxes found in one image, sorted by decreasing score: what a detector returns, the YOLO grid's
    decoder (:func:`core.detection.yolo.decode`) and a pretrained COCO detector
    (:func:`core.detection.pretrained.detect`) alike.

    boxes [N, 4] float32 xyxy in pixels · scores [N] in [0, 1] · labels [N] int64 class ids ·
    names: the class name of each box, or ``()`` when the boxes carry class ids only ·
    inference_ms: the model's wall time (0 for hand-made or decoded sets) ·
    score_floor: every candidate the model scored above this is in the set, so
    :func:`~core.detection.pretrained.refilter` with a score threshold at or above it gives exactly the
    model's own result (0 for a set that was not cut).
    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor
    names: tuple[str, ...] = ()
    inference_ms: float = 0.0
    score_floor: float = 0.0

    def __post_init__(self) -> None:
        n = self.scores.shape[0] if self.scores.ndim == 1 else -1
        names_ok = len(self.names) == n or (not self.names and n >= 0)
        if self.boxes.shape != (n, 4) or self.labels.shape != (n,) or not names_ok:
            raise ValueError(
                f"detections need boxes [N, 4], scores [N], labels [N] and N names; got {tuple(self.boxes.shape)}, "
                f"{tuple(self.scores.shape)}, {tuple(self.labels.shape)} and {len(self.names)} names"
            )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, keep: Tensor) -> Detections:
        """The detections at indices ``keep`` (in that order), same inference time and score floor."""
        names = tuple(self.names[i] for i in keep.tolist()) if self.names else ()
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep], names, self.inference_ms,
                          self.score_floor)

    def rows(self) -> list[dict[str, object]]:
        """One dict per box (label, score, x1, y1, x2, y2), for a results table or a CSV."""
        names = self.names or tuple(str(i) for i in self.labels.tolist())
        return [
            {"label": name, "score": round(float(s), 4), **{k: round(float(v), 1) for k, v in zip(("x1", "y1", "x2", "y2"), b)}}
            for name, s, b in zip(names, self.scores, self.boxes)
        ]


def _as_boxes(boxes: Tensor | Sequence, name: str = "boxes", *, check_order: bool = True) -> Tensor:
    """``boxes`` as a floating tensor of shape [N, 4]; ``ValueError`` with a plain message otherwise."""
    t = boxes if isinstance(boxes, Tensor) else torch.as_tensor(boxes, dtype=torch.float32)
    if t.ndim == 1 and t.numel() == 0:
        t = t.reshape(0, 4)
    if t.ndim != 2 or t.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (one box per row), got {list(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    if check_order and t.numel() and bool(((t[:, 2] < t[:, 0]) | (t[:, 3] < t[:, 1])).any()):
        raise ValueError(f"{name} must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2")
    return t


def _upcast(t: Tensor) -> Tensor:
    """``t`` in float32 when it is a floating tensor of lower precision (float16, bfloat16), else unchanged.

    Areas and overlaps are products of two side lengths: in float16 a box of 300 × 300 pixels already
    overflows (the largest float16 is 65504), so they are computed in float32, as torchvision's
    ``_upcast`` in ``ops/boxes.py`` does. Integer boxes never get here: :func:`_as_boxes` makes them float32.
    """
    return t if not t.is_floating_point() or t.dtype in (torch.float32, torch.float64) else t.float()


def _as_scores(scores: Tensor | Sequence, n: int, name: str = "scores", *, where: str = "",
               noun: str = "score") -> Tensor:
    """``scores`` as a tensor of shape [n]; ``ValueError`` with a plain message when the shape is wrong or a
    value is NaN (NaN has no place in a ranking). ``where`` (e.g. ``" of image 2"``) and ``noun`` only
    word the message: "scores must not contain NaN (box 3 of image 2 has a NaN score)"."""
    s = scores if isinstance(scores, Tensor) else torch.as_tensor(scores, dtype=torch.float32)
    if s.ndim == 0 and n == 1:
        s = s.reshape(1)
    if s.ndim != 1 or s.shape[0] != n:
        raise ValueError(f"{name} must hold one value per box: expected shape [{n}], got {list(s.shape)}")
    if s.is_floating_point() or s.is_complex():
        nan = torch.isnan(s)
        if bool(nan.any()):
            first = int(torch.nonzero(nan)[0, 0])
            raise ValueError(f"{name} must not contain NaN (box {first}{where} has a NaN {noun})")
    return s


def _check_threshold(iou_threshold: float) -> float:
    value = float(iou_threshold)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the IoU threshold must be between 0 and 1, got {iou_threshold}")
    return value


def area(boxes: Tensor) -> Tensor:
    """Area (x2 − x1)·(y2 − y1) of each xyxy box: [N, 4] → [N].

    Computed in float32 for float16/bfloat16 boxes (and for integer boxes), float64 for float64 —
    ``torchvision.ops.box_area`` upcasts the same way, so a 300 × 300 half-precision box has area 90000,
    not infinity.
    """
    b = _upcast(_as_boxes(boxes))
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: [N, 4] and [M, 4] xyxy boxes → [N, M].

    IoU = area of overlap / area of union, where union = area₁ + area₂ − overlap. It is 1 for two
    identical boxes and 0 for boxes that do not overlap. Two boxes of zero area have IoU 0 (not NaN).
    Same result as ``torchvision.ops.box_iou`` wherever that one is defined.

    Computed in float32 when the boxes are float16, bfloat16 or integers (a half-precision area of a
    few hundred pixels squared overflows), in float64 when either set is float64; the result has that
    dtype — float32 for half-precision input, as ``torchvision.ops.box_iou`` returns.
    """
    b1 = _as_boxes(boxes1, "boxes1")
    b2 = _as_boxes(boxes2, "boxes2")
    dtype = torch.promote_types(b1.dtype, b2.dtype)
    return _pairwise_iou(b1.to(dtype), b2.to(dtype))


def _pairwise_iou(b1: Tensor, b2: Tensor) -> Tensor:
    """:func:`iou` without the argument checks (both already [N, 4] xyxy of one floating dtype).

    Half-precision boxes are upcast to float32 first (see :func:`_upcast`); the result is [N, M] in
    float32 or float64.
    """
    b1, b2 = _upcast(b1), _upcast(b2)
    dtype = b1.dtype
    # Overlap rectangle of each pair: the larger top-left corner, the smaller bottom-right corner.
    top_left = torch.maximum(b1[:, None, :2], b2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(b1[:, None, 2:], b2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2); no overlap → 0
    overlap = wh[..., 0] * wh[..., 1]  # (N, M)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    union = area1[:, None] + area2[None, :] - overlap  # (N, M)
    return torch.where(union > 0, overlap / union.clamp(min=torch.finfo(dtype).tiny), torch.zeros_like(overlap))


def _score_order(scores: Tensor) -> Tensor:
    """Indices that sort ``scores`` from highest to lowest (ties keep their input order)."""
    return torch.sort(scores, descending=True, stable=True).indices


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-max suppression: the indices of the boxes that survive, by decreasing score.

    ``boxes``: [N, 4] xyxy; ``scores``: [N] confidences; ``iou_threshold`` in [0, 1].
    Repeat until no box is left: keep the box with the highest score, then remove every other box
    whose IoU with it is greater than ``iou_threshold``. Returns an int64 tensor [K] (empty when
    ``boxes`` is empty) — the same contract as ``torchvision.ops.nms``. IoUs are computed in float32 for
    float16/bfloat16 boxes. ``ValueError`` when a score is NaN (it has no rank).
    """
    b = _upcast(_as_boxes(boxes))
    s = _as_scores(scores, b.shape[0])
    threshold = _check_threshold(iou_threshold)
    order = _score_order(s)
    kept: list[int] = []
    while order.numel():
        best = order[0]
        kept.append(int(best))
        rest = order[1:]
        overlaps = _pairwise_iou(b[best][None], b[rest])[0]  # (len(rest),)
        order = rest[overlaps <= threshold]
    return torch.tensor(kept, dtype=torch.int64, device=b.device)


@dataclass(frozen=True)
class NmsRound:
    """One round of non-max suppression.

    ``kept``: index of the box selected (the highest score left) and ``score`` its score;
    ``suppressed``: indices of the boxes removed in this round, with ``ious`` their IoU with the
    kept box (same order); ``remaining``: indices still in play after the round, by decreasing score.
    """

    kept: int
    score: float
    suppressed: tuple[int, ...]
    ious: tuple[float, ...]
    remaining: tuple[int, ...]


def nms_steps(boxes: Tensor, scores: Tensor, iou_threshold: float, score_threshold: float = 0.0) -> list[NmsRound]:
    """Non-max suppression round by round, for a step-by-step view.

    Boxes whose score is not above ``score_threshold`` are discarded first (as the course's YOLO
    recipe does with p_c); the others go through :func:`nms`. Returns one :class:`NmsRound` per kept
    box, in the order they were kept, so ``[r.kept for r in rounds]`` equals ``nms(...)`` on the boxes
    above the score threshold. Indices refer to the input rows. IoUs are computed in float32 for
    float16/bfloat16 boxes; ``ValueError`` when a score is NaN.
    """
    b = _upcast(_as_boxes(boxes))
    s = _as_scores(scores, b.shape[0])
    threshold = _check_threshold(iou_threshold)
    order = _score_order(s)
    order = order[s[order] > float(score_threshold)]
    rounds: list[NmsRound] = []
    while order.numel():
        best, rest = order[0], order[1:]
        overlaps = _pairwise_iou(b[best][None], b[rest])[0]
        drop = overlaps > threshold
        order = rest[~drop]
        rounds.append(
            NmsRound(
                kept=int(best),
                score=float(s[best]),
                suppressed=tuple(int(i) for i in rest[drop]),
                ious=tuple(float(v) for v in overlaps[drop]),
                remaining=tuple(int(i) for i in order),
            )
        )
    return rounds


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """Non-max suppression run separately for each class: boxes of different classes never suppress
    each other. ``boxes`` [N, 4] xyxy, ``scores`` [N], ``labels`` [N] integer class ids.

    Returns the kept indices (int64 [K]) sorted by decreasing score, like ``torchvision.ops.batched_nms``.
    IoUs are computed in float32 for float16/bfloat16 boxes; ``ValueError`` when a score or label is NaN.
    """
    b = _upcast(_as_boxes(boxes))
    s = _as_scores(scores, b.shape[0])
    lab = _as_scores(labels, b.shape[0], "labels", noun="label")
    _check_threshold(iou_threshold)
    kept = [torch.nonzero(lab == c).flatten()[nms(b[lab == c], s[lab == c], iou_threshold)] for c in torch.unique(lab)]
    if not kept:
        return torch.empty(0, dtype=torch.int64, device=b.device)
    keep = torch.cat(kept)
    return keep[_score_order(s[keep])]


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(x, y, w, h) with (x, y) the top-left corner → (x1, y1, x2, y2). [N, 4] → [N, 4]."""
    b = _as_boxes(boxes, check_order=False)
    return torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], dim=1)


def xyxy_to_xywh(boxes: Tensor) -> Tensor:
    """(x1, y1, x2, y2) → (x, y, w, h) with (x, y) the top-left corner. [N, 4] → [N, 4]."""
    b = _as_boxes(boxes, check_order=False)
    return torch.cat([b[:, :2], b[:, 2:] - b[:, :2]], dim=1)


def cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(cx, cy, w, h) with (cx, cy) the centre → (x1, y1, x2, y2). [N, 4] → [N, 4]."""
    b = _as_boxes(boxes, check_order=False)
    half = b[:, 2:] / 2
    return torch.cat([b[:, :2] - half, b[:, :2] + half], dim=1)


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """(x1, y1, x2, y2) → (cx, cy, w, h) with (cx, cy) the centre. [N, 4] → [N, 4]."""
    b = _as_boxes(boxes, check_order=False)
    return torch.cat([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], dim=1)


def batched_nms_steps(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float,
                      score_threshold: float = 0.0) -> tuple[list[NmsRound], list[int]]:
    """:func:`nms_steps` run per class (boxes of different classes never suppress each other):
    the rounds of each class in turn, in increasing class order, with indices into ``boxes``, and
    the class of each round. The kept boxes are those of :func:`batched_nms`. ``ValueError`` when a
    score or label is NaN (the message names the first such box)."""
    b = _upcast(_as_boxes(boxes))
    s = _as_scores(scores, b.shape[0])
    labels = torch.as_tensor(labels)
    if labels.shape != s.shape:
        raise ValueError(f"need one label per score, got {tuple(labels.shape)} and {tuple(s.shape)}")
    _as_scores(labels, b.shape[0], "labels", noun="label")
    rounds: list[NmsRound] = []
    classes: list[int] = []
    for c in sorted(set(labels.tolist())):
        idx = torch.nonzero(labels == c).flatten().tolist()
        for r in nms_steps(b[idx], s[idx], iou_threshold, score_threshold):
            rounds.append(NmsRound(idx[r.kept], r.score, tuple(idx[i] for i in r.suppressed), r.ious,
                                   tuple(idx[i] for i in r.remaining)))
            classes.append(int(c))
    return rounds, classes

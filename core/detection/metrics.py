"""Evaluating a detector: precision-recall curve, average precision (AP) and mean AP (mAP).

For one class, over a set of images:

1. sort every prediction of that class, from all images, by decreasing score;
2. walk down the list: a prediction is a **true positive** when its best-overlapping ground-truth box
   in the same image has IoU ≥ ``iou_threshold`` (and > 0) and has not been matched yet; otherwise it is a
   **false positive** (no overlap good enough, or a duplicate of an already-found object). Each
   ground-truth box is matched at most once (greedy matching as in PASCAL VOC, Everingham et al., 2010,
   "The PASCAL Visual Object Classes (VOC) Challenge");
3. after each prediction, precision = TP / (TP + FP) and recall = TP / (number of ground-truth boxes);
4. AP = area under the interpolated precision-recall curve (all points, VOC 2010+): the precision at
   recall r is replaced by the best precision at any recall ≥ r, and the area of that staircase is summed.

mAP is the mean of the per-class APs. A class with no ground-truth box in the whole set is **skipped**
(its recall is undefined) and listed in ``skipped``; the matching uses IoU ≥ threshold, as COCO does
(PASCAL VOC's ``>`` differs only at an exact tie).

Boxes are xyxy in pixels; per-image predictions and ground truths follow torchvision's detection
format: ``{"boxes": [N, 4], "scores": [N], "labels": [N]}`` and ``{"boxes": [G, 4], "labels": [G]}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from core.detection.boxes import _as_boxes, _as_scores, _pairwise_iou

__all__ = [
    "MAPResult",
    "PRCurve",
    "ap_from_curve",
    "average_precision",
    "mean_average_precision",
    "precision_recall_curve",
]


@dataclass(frozen=True)
class PRCurve:
    """The precision-recall points of one class, one per prediction in order of decreasing score.

    ``precision`` and ``recall`` [P] (float64), ``scores`` [P] (the prediction's score), ``is_tp`` [P]
    (bool: true or false positive), ``n_gt`` (number of ground-truth boxes) and ``ap``.
    """

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    is_tp: np.ndarray
    n_gt: int
    ap: float


def ap_from_curve(precision: Sequence[float] | np.ndarray, recall: Sequence[float] | np.ndarray) -> float:
    """Area under the interpolated precision-recall curve (all-point interpolation, VOC 2010+).

    ``precision``/``recall``: the points in order of decreasing score (recall non-decreasing). The curve is
    closed at recall 0 and 1 with precision 0, precision is made non-increasing from the right
    (p_interp(r) = max over r' ≥ r of p(r')), and AP = Σ (r_{k+1} − r_k) · p_interp(r_{k+1}).
    """
    p = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    if p.shape != r.shape or p.ndim != 1:
        raise ValueError("precision and recall must be two lists of the same length")
    mrec = np.concatenate([[0.0], r, [1.0]])
    mpre = np.concatenate([[0.0], p, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the envelope: best precision at this recall or beyond
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]  # where recall moves
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _per_image(values: Sequence, n_images: int, name: str) -> None:
    if len(values) != n_images:
        raise ValueError(f"{name} must have one entry per image: expected {n_images}, got {len(values)}")


def precision_recall_curve(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], gt_boxes: Sequence[Tensor],
                           iou_threshold: float = 0.5) -> PRCurve:
    """Match the predictions of one class to its ground truth over a set of images (see the module doc).

    ``pred_boxes[i]`` [N_i, 4] xyxy and ``pred_scores[i]`` [N_i] are the predictions in image i;
    ``gt_boxes[i]`` [G_i, 4] its ground-truth boxes. Returns the :class:`PRCurve` with its AP
    (0.0 when there is a ground-truth box but no prediction; NaN when there is no ground-truth box).
    ``ValueError`` when a score is NaN (it cannot be ranked); the message names the box and the image.
    """
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"the IoU threshold must be between 0 and 1, got {iou_threshold}")
    n_images = len(gt_boxes)
    _per_image(pred_boxes, n_images, "pred_boxes")
    _per_image(pred_scores, n_images, "pred_scores")
    gts = [_as_boxes(g, "gt_boxes").double() for g in gt_boxes]
    preds = [_as_boxes(b, "pred_boxes").double() for b in pred_boxes]
    scores = [_as_scores(s, p.shape[0], "pred_scores", where=f" of image {i}").double()
              for i, (s, p) in enumerate(zip(pred_scores, preds))]
    n_gt = sum(g.shape[0] for g in gts)

    # Every prediction as (image, row), in order of decreasing score (ties keep image order).
    image_of = np.concatenate([np.full(p.shape[0], i) for i, p in enumerate(preds)] + [np.zeros(0, int)]).astype(int)
    row_of = np.concatenate([np.arange(p.shape[0]) for p in preds] + [np.zeros(0, int)]).astype(int)
    all_scores = np.concatenate([s.numpy() for s in scores] + [np.zeros(0)])
    order = np.argsort(-all_scores, kind="stable")

    ious = [_pairwise_iou(p, g).numpy() for p, g in zip(preds, gts)]  # per image (N_i, G_i)
    matched = [np.zeros(g.shape[0], dtype=bool) for g in gts]
    is_tp = np.zeros(order.shape[0], dtype=bool)
    for k, j in enumerate(order):
        i, row = image_of[j], row_of[j]
        if gts[i].shape[0] == 0:
            continue  # nothing to find in this image: a false positive
        best = int(np.argmax(ious[i][row]))
        if ious[i][row, best] >= iou_threshold and ious[i][row, best] > 0 and not matched[i][best]:
            matched[i][best] = True
            is_tp[k] = True
    tp = np.cumsum(is_tp)
    fp = np.cumsum(~is_tp)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_gt if n_gt else np.full(tp.shape, np.nan)
    ap = ap_from_curve(precision, recall) if n_gt else math.nan
    return PRCurve(precision.astype(np.float64), np.asarray(recall, dtype=np.float64), all_scores[order], is_tp, n_gt, ap)


def average_precision(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], gt_boxes: Sequence[Tensor],
                      iou_threshold: float = 0.5) -> float:
    """AP of one class over a set of images: the area under the interpolated precision-recall curve.

    Same arguments as :func:`precision_recall_curve`. 1.0 for perfect predictions, 0.0 with no
    prediction, NaN when the class has no ground-truth box; ``ValueError`` when a score is NaN.
    """
    return precision_recall_curve(pred_boxes, pred_scores, gt_boxes, iou_threshold).ap


@dataclass(frozen=True)
class MAPResult:
    """``map``: mean of the per-class APs (NaN when no class has a ground-truth box); ``per_class``:
    class index → AP, for the classes that have ground truth; ``curves``: class index → :class:`PRCurve`
    for plotting; ``skipped``: classes with no ground-truth box (left out of the mean)."""

    map: float
    per_class: dict[int, float] = field(default_factory=dict)
    curves: dict[int, PRCurve] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


def mean_average_precision(predictions: Sequence[Mapping[str, Tensor]], ground_truths: Sequence[Mapping[str, Tensor]],
                           n_classes: int, iou_threshold: float = 0.5) -> MAPResult:
    """mAP over a set of images: the mean over classes of :func:`average_precision`.

    ``predictions[i]``: ``{"boxes": [N, 4] xyxy, "scores": [N], "labels": [N]}`` for image i;
    ``ground_truths[i]``: ``{"boxes": [G, 4] xyxy, "labels": [G]}``. Labels are class indices in
    [0, n_classes). Classes without any ground-truth box are skipped (see :class:`MAPResult`).
    ``ValueError`` when a score or a label is NaN; the message names the box and the image.
    """
    if n_classes < 1:
        raise ValueError(f"there must be at least one class, got {n_classes}")
    _per_image(predictions, len(ground_truths), "predictions")

    def split(item: Mapping[str, Tensor], what: str, with_scores: bool, i: int) -> tuple[Tensor, Tensor, Tensor | None]:
        if "boxes" not in item or "labels" not in item or (with_scores and "scores" not in item):
            keys = '"boxes", "scores" and "labels"' if with_scores else '"boxes" and "labels"'
            raise ValueError(f"each {what} entry must be a dict with {keys}")
        boxes = _as_boxes(item["boxes"], f"{what} boxes")
        labels = _as_scores(torch.as_tensor(item["labels"]).reshape(-1), boxes.shape[0], f"{what} labels",
                            where=f" of image {i}", noun="label").long()
        if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"{what} labels must be class indices from 0 to {n_classes - 1}")
        scores = (_as_scores(item["scores"], boxes.shape[0], f"{what} scores", where=f" of image {i}")
                  if with_scores else None)
        return boxes, labels, scores

    preds = [split(p, "prediction", True, i) for i, p in enumerate(predictions)]
    gts = [split(g, "ground-truth", False, i) for i, g in enumerate(ground_truths)]
    per_class: dict[int, float] = {}
    curves: dict[int, PRCurve] = {}
    skipped: list[int] = []
    for c in range(n_classes):
        gt_c = [b[lab == c] for b, lab, _ in gts]
        if sum(g.shape[0] for g in gt_c) == 0:
            skipped.append(c)
            continue
        curve = precision_recall_curve([b[lab == c] for b, lab, _ in preds], [s[lab == c] for _, lab, s in preds],
                                       gt_c, iou_threshold)
        per_class[c] = curve.ap
        curves[c] = curve
    value = float(np.mean(list(per_class.values()))) if per_class else math.nan
    return MAPResult(value, per_class, curves, skipped)

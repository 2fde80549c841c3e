"""The Object detection page's non-max suppression tab: candidate boxes on a generated scene, a
score threshold and an IoU threshold, and every round (keep the best, remove the boxes that overlap
it too much) drawn as a small multiple; class-agnostic or per class. The rounds come from
:func:`core.detection.nms_steps`; the figures from :mod:`core.plots.detection`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch
import torchvision

from core.detection import batched_nms, nms, nms_steps
from core.detection.boxes import NmsRound
from core.detection.scenes import DEFAULT_CLASSES, make_scene
from core.plots.detection import nms_overview, nms_rounds_figure
from ui.tables import table_with_csv

PAGE = "detection"
NMS_SIZE = 128
WRONG_CLASS = 0.15  # share of candidates that name another class (what per-class NMS keeps apart)


def candidates(seed: int, per_object: int, size: int = NMS_SIZE):
    """A scene and candidate boxes around its objects, as a detector before NMS would give them.

    Each object gets ``per_object`` jittered copies of its box whose score grows with their IoU with
    the true box (plus noise); a few name another class, and two low-scoring boxes land on the
    background. Boxes are rounded to 0.1 px and scores to 0.001 (all distinct), sorted by decreasing
    score. Returns ``(image [H, W, 3], boxes [N, 4], scores [N], labels [N])`` as NumPy arrays.
    """
    image, truth, truth_labels = make_scene(int(seed), size=size, n_objects=(2, 4), classes=DEFAULT_CLASSES,
                                            clutter=0.3, object_size=(0.22, 0.45), max_overlap=0.5)
    rng = np.random.default_rng(10_000 + int(seed))
    boxes, scores, labels = [], [], []
    for gt, label in zip(truth.double().numpy(), truth_labels.tolist()):
        w, h = gt[2] - gt[0], gt[3] - gt[1]
        for k in range(per_object):
            spread = 0.04 if k == 0 else 0.13
            b = gt + rng.normal(0, spread, 4) * np.array([w, h, w, h])
            b = np.clip(np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]), 0, size)
            overlap = float(torchvision.ops.box_iou(torch.from_numpy(b[None]), torch.from_numpy(gt[None]))[0, 0])
            boxes.append(b)
            scores.append(np.clip(0.25 + 0.7 * overlap + rng.normal(0, 0.06), 0.02, 0.99))
            wrong = k > 0 and rng.random() < WRONG_CLASS
            labels.append(int((label + rng.integers(1, len(DEFAULT_CLASSES))) % len(DEFAULT_CLASSES)) if wrong else label)
    for _ in range(2):  # background false positives
        c = rng.uniform(0.15, 0.85, 2) * size
        s = rng.uniform(0.1, 0.25, 2) * size
        boxes.append(np.clip(np.concatenate([c - s / 2, c + s / 2]), 0, size))
        scores.append(rng.uniform(0.1, 0.4))
        labels.append(int(rng.integers(len(DEFAULT_CLASSES))))
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes_a = np.round(np.asarray(boxes)[order], 1)
    scores_a = np.round(np.asarray(scores)[order], 3)
    for i in range(1, len(scores_a)):  # distinct scores: no ties for NMS to break
        if scores_a[i] >= scores_a[i - 1]:
            scores_a[i] = round(scores_a[i - 1] - 0.001, 3)
    return image.permute(1, 2, 0).numpy(), boxes_a, scores_a, np.asarray(labels)[order]


@st.cache_data(max_entries=64, show_spinner=False)
def _candidates(seed: int, per_object: int):
    return candidates(seed, per_object)


def rounds_for(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float, score_threshold: float,
               per_class: bool) -> tuple[list[NmsRound], list[str]]:
    """The NMS rounds (indices into ``boxes``) and, per round, the class it belongs to ("all classes" when
    class-agnostic). Per class, each class runs its own rounds on its own boxes, in class order."""
    b, s = torch.tensor(boxes), torch.tensor(scores)
    if not per_class:
        rounds = nms_steps(b, s, iou_threshold, score_threshold)
        return rounds, ["all classes"] * len(rounds)
    out: list[NmsRound] = []
    groups: list[str] = []
    for c in sorted(set(labels.tolist())):
        idx = np.nonzero(labels == c)[0]
        for r in nms_steps(b[idx], s[idx], iou_threshold, score_threshold):
            out.append(NmsRound(int(idx[r.kept]), r.score, tuple(int(idx[i]) for i in r.suppressed), r.ious,
                                tuple(int(idx[i]) for i in r.remaining)))
            groups.append(DEFAULT_CLASSES[c])
    return out, groups


def render() -> None:
    """The "Non-max suppression" tab."""
    st.markdown(
        "A detector proposes many overlapping boxes for the same object. **Non-max suppression** keeps one: first "
        "drop every box whose score is not above the score threshold, then (1) take the box with the highest score "
        "and keep it, (2) remove every remaining box whose IoU with it is above the IoU threshold, (3) repeat with "
        "what is left. **Per-class NMS** runs this separately for each class, so a box never removes a box of "
        "another class. **What you see:** the candidates (each tagged with its number and score), every round as a "
        "small picture (green: kept now, faint green: kept earlier, red dashed: removed now, grey: still in "
        "play; the table lists each IoU), and what survives. **Try:** a low IoU threshold (neighbouring objects start removing each "
        "other), a high one (duplicates survive), and per-class NMS on a scene with boxes of the wrong class."
    )
    c = st.columns([1, 1, 1, 1, 0.8])
    seed = c[0].slider("NMS scene", 0, 49, 2, key=f"{PAGE}.nms_seed")
    per_object = c[1].slider("Candidate boxes per object", 2, 10, 5, key=f"{PAGE}.nms_per_object")
    iou_t = c[2].slider("NMS IoU threshold", 0.0, 1.0, 0.5, 0.05, key=f"{PAGE}.nms_iou",
                        help="A box is removed when its IoU with a kept box is above this.")
    score_t = c[3].slider("Score threshold", 0.0, 0.95, 0.3, 0.05, key=f"{PAGE}.nms_score",
                          help="Boxes scoring at or below this are dropped before NMS starts.")
    c[4].space(12)
    per_class = c[4].toggle("Per-class NMS", False, key=f"{PAGE}.nms_per_class",
                            help="Run NMS separately for each class (torchvision's batched_nms).")
    image, boxes, scores, labels = _candidates(seed, per_object)
    rounds, groups = rounds_for(boxes, scores, labels, iou_t, score_t, per_class)
    kept = [r.kept for r in rounds]
    above = int((scores > score_t).sum())
    left, right = st.columns(2)
    left.plotly_chart(nms_overview(image, boxes, scores, labels, title=f"Before: {len(scores)} candidates, "
                                   f"{above} above the score threshold"), key=f"{PAGE}.nms_before")
    right.plotly_chart(nms_overview(image, boxes, scores, labels, kept, names=DEFAULT_CLASSES,
                                    title=f"After NMS: {len(kept)} kept"), key=f"{PAGE}.nms_after")
    st.plotly_chart(nms_rounds_figure(image, boxes, scores, rounds, groups=groups if per_class else None),
                    key=f"{PAGE}.nms_rounds")
    rows = [{"round": k + 1, "class": g, "kept box": r.kept, "score": r.score,
             "removed (IoU with the kept box)": ", ".join(f"#{i} ({v:.2f})" for i, v in zip(r.suppressed, r.ious)) or "none",
             "still in play": len(r.remaining)} for k, (r, g) in enumerate(zip(rounds, groups))]
    table_with_csv(pd.DataFrame(rows, columns=["round", "class", "kept box", "score", "removed (IoU with the kept box)",
                                               "still in play"]),
                   "Download the rounds (CSV)", "nms_rounds.csv", f"{PAGE}.nms_rounds_csv")
    _check(boxes, scores, labels, iou_t, score_t, per_class, kept)
    with st.expander("The candidate boxes as numbers"):
        table_with_csv(pd.DataFrame({"box": np.arange(len(scores)), "class": [DEFAULT_CLASSES[c] for c in labels],
                                     "score": scores, "x1": boxes[:, 0], "y1": boxes[:, 1], "x2": boxes[:, 2],
                                     "y2": boxes[:, 3]}),
                       "Download the candidates (CSV)", "nms_candidates.csv", f"{PAGE}.nms_candidates_csv")


def _check(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_t: float, score_t: float, per_class: bool,
           kept: list[int]) -> None:
    """One caption comparing the rounds with torchvision, and per-class against class-agnostic NMS."""
    idx = np.nonzero(scores > score_t)[0]
    b, s, lab = torch.tensor(boxes[idx]), torch.tensor(scores[idx]), torch.tensor(labels[idx])
    if per_class:
        ref = idx[torchvision.ops.batched_nms(b, s, lab, iou_t).numpy()].tolist()
        other = idx[nms(b, s, iou_t).numpy()].tolist()
        diff = len(kept) - len(other)
        extra = (f" Class-agnostic NMS would keep {len(other)}: per class, {diff} more box{'es' if diff != 1 else ''} "
                 "survive because they overlap only boxes of another class." if diff
                 else " Class-agnostic NMS would keep the same boxes here.")
        name = "torchvision.ops.batched_nms"
    else:
        ref = idx[torchvision.ops.nms(b, s, iou_t).numpy()].tolist()
        other = idx[batched_nms(b, s, lab, iou_t).numpy()].tolist()
        extra = (f" Per-class NMS would keep {len(other)}." if len(other) != len(kept) else "")
        name = "torchvision.ops.nms"
    same = sorted(ref) == sorted(kept)
    st.caption(f"{name} on the boxes above the score threshold keeps "
               f"{'the same boxes' if same else 'different boxes: ' + str(sorted(ref))}"
               f" ({', '.join(f'#{i}' for i in ref) or 'none'}).{extra}")

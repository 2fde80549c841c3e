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
from core.detection.boxes import NmsRound, batched_nms_steps
from core.detection.scenes import DEFAULT_CLASSES, candidate_boxes
from core.plots.detection import nms_overview, nms_rounds_figure
from ui.tables import table_with_csv

PAGE = "detection"
NMS_SIZE = 128


@st.cache_data(max_entries=64, show_spinner=False)
def _candidates(seed: int, per_object: int):
    return candidate_boxes(seed, per_object, size=NMS_SIZE)


def rounds_for(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float, score_threshold: float,
               per_class: bool) -> tuple[list[NmsRound], list[str]]:
    """The NMS rounds (indices into ``boxes``) and, per round, the class name it belongs to."""
    b, s, lab = torch.tensor(boxes), torch.tensor(scores), torch.as_tensor(labels)
    if not per_class:
        rounds = nms_steps(b, s, iou_threshold, score_threshold)
        return rounds, ["all classes"] * len(rounds)
    rounds, classes = batched_nms_steps(b, s, lab, iou_threshold, score_threshold)
    return rounds, [DEFAULT_CLASSES[c] for c in classes]


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

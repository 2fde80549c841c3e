"""The Object detection page's "Train a detector" tab: a small YOLO-style network trained on generated
shape scenes as a tracked job, then its predictions on held-out scenes with the grid drawn over them,
before and after non-max suppression, and mAP@0.5. The engine is :mod:`core.detection.training`."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from core.artifacts import detection_examples, detection_scene
from core.detection.training import DetectorConfig, DetectorResult, run_detector
from core.experiment import FINISHED, series_with_suffix
from core.plots.curves import curves
from core.plots.training import lane_curves
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.tables import table_with_csv

PAGE = "detection"
TRAIN_JOB = f"{PAGE}.train"
SHOWN_SCENES = 4
FORM_KEYS = {name: f"{PAGE}.train_{key}" for name, key in (
    ("n_train", "n"), ("n_test", "n_test"), ("width", "width"), ("classes", "classes"), ("max_objects", "objects"),
    ("clutter", "clutter"), ("S", "S"), ("epochs", "epochs"), ("optimizer", "opt"), ("lr", "lr"))}


GHOST = dict(key=f"{PAGE}.ghost")  # ghost box: before training and live


def render() -> None:
    """The "Train a detector" tab."""
    st.markdown(
        "Train a small YOLO-style network from scratch on generated scenes: coloured shapes on a cluttered "
        "background, with exact boxes. The network maps a 64 × 64 scene to the S × S × A × (5 + C) grid of the "
        "*Anchors and the grid* tab in one pass; its loss compares every slot with the encoded target. Held-out "
        "scenes (never trained on) measure it: their boxes are decoded, filtered by score, cleaned by per-class NMS "
        "and matched to the truth for **mAP@0.5**, the mean over classes of the area under the precision-recall "
        "curve, where a box counts as found at IoU ≥ 0.5. **What you see:** the loss falling, then held-out scenes "
        "before and after NMS with the grid over them. **Try:** more scenes or epochs, a finer grid, more shapes "
        "per scene, and the two thresholds under the results (they re-score the saved outputs, no new training)."
    )
    with st.form(f"{PAGE}.train_form", border=True):
        c1, c2, c3 = st.columns(3)
        values = form.fields(DetectorConfig, (
            (c1, "n_train"), (c1, "n_test"), (c1, "width"), (c2, "classes"), (c2, "max_objects"), (c2, "clutter"),
            (c3, "S"), (c3, "epochs"), (c3, "optimizer"), (c3, "lr")), keys=FORM_KEYS)
        go = form.submit("Train the detector", TRAIN_JOB)
    if go:
        form.start(TRAIN_JOB, run_detector, lambda: DetectorConfig(**values, seed=shell.global_seed()),
                   name=lambda cfg: f"TinyYOLO on {len(cfg.classes)} shapes")
    ghost_ui.before(TRAIN_JOB, PAGE, **GHOST)
    jobs.panel(TRAIN_JOB, _view, every=1.5)


def _view(snap) -> None:
    steps = {k: v for k, v in snap.metrics.items() if "/" not in k}
    epochs = series_with_suffix(snap.metrics, "/epochs")
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves(steps, smoothing=0.8, title="YOLO loss per step (training)"),
                                         ghost, "train_loss", smoothing=0.8), key=f"{PAGE}.train_loss")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay(lane_curves(epochs, x="epoch", y="dev_loss",
                                                     title="YOLO loss on the held-out scenes"), ghost, "dev_loss"),
                        key=f"{PAGE}.train_dev")
    result: DetectorResult | None = snap.result
    if result is None or result.lane.status != FINISHED or result.test_outputs is None:
        return
    _results(result)


def _results(result: DetectorResult) -> None:
    lane, grid, classes = result.lane, result.grid, result.classes
    m = st.columns(4)
    m[0].metric("mAP@0.5 (held-out scenes)", "n/a" if result.map50 is None else f"{result.map50:.3f}",
                help=f"At score threshold {result.score_threshold:g} and NMS IoU {result.nms_iou:g}, as tracked.")
    m[1].metric("Held-out scenes", f"{result.sizes.get('n_test', 0):,}",
                help=f"{result.sizes.get('objects_test', 0):,} objects; generated with another seed than the "
                     f"{result.sizes.get('n_train', 0):,} training scenes.")
    m[2].metric("Training objects without a slot", f"{result.sizes.get('dropped', 0):,}",
                help="Objects whose cell and anchor were already taken by another object: YOLO cannot learn them.")
    m[3].metric("Seconds per epoch", f"{lane.seconds_per_epoch or 0:.2f}")
    c1, c2 = st.columns(2)
    score = form.field(c1, DetectorConfig, "score_threshold", key=f"{PAGE}.train_score", value=float(result.score_threshold))
    iou_t = form.field(c2, DetectorConfig, "nms_iou", key=f"{PAGE}.train_iou", value=float(result.nms_iou))
    ev = result.rescore(score, iou_t)
    left, right = st.columns([2, 3])
    with left:
        rows = [{"class": classes[c], "AP@0.5": ap, "objects": ev.curves[c].n_gt} for c, ap in ev.per_class.items()]
        table_with_csv(pd.DataFrame(rows), "Download the per-class AP (CSV)", "detector_ap.csv", f"{PAGE}.train_ap_csv",
                       column_config={"AP@0.5": st.column_config.NumberColumn(format="%.3f")},
                       caption=f"mAP@0.5 at these thresholds: {ev.map:.3f} (the mean of the column).")
    with right:
        series = {f"{classes[c]} (AP {curve.ap:.2f})": (curve.recall, curve.precision) for c, curve in ev.curves.items()}
        st.plotly_chart(curves(series, xlabel="recall", ylabel="precision", title="Precision-recall, held-out scenes"),
                        key=f"{PAGE}.train_pr")
    st.markdown("**Held-out scenes**: the truth, every box above the score threshold (before NMS), and what NMS keeps. "
                "The white lines are the grid: each box comes from the cell that holds its centre. Lower the score "
                "threshold to see the weaker duplicates from neighbouring cells and anchors that NMS removes.")
    for ex in result.examples[:SHOWN_SCENES]:
        raw, _, kept = ex.detections(score, iou_t)
        truth = detection_scene(ex.image, classes, grid, truth=(ex.truth_boxes, ex.truth_labels))
        images = [truth, detection_scene(ex.image, classes, grid, raw), detection_scene(ex.image, classes, grid, kept)]
        captions = [f"scene {ex.index}: {len(ex.truth_labels)} true", f"before NMS: {len(raw.scores)} boxes",
                    f"after NMS: {len(kept.scores)} boxes"]
        for col, img, cap in zip(st.columns(3), images, captions):
            col.image(img, caption=cap, width="stretch")
    if result.examples:
        buf = io.BytesIO()
        detection_examples(result.examples[:SHOWN_SCENES], classes, grid).save(buf, format="PNG")
        st.download_button("Download these scenes (PNG)", buf.getvalue(), "detector_scenes.png", "image/png",
                           key=f"{PAGE}.train_png", icon=":material/download:",
                           help=f"At the thresholds of the run (score {result.score_threshold:g}, NMS IoU {result.nms_iou:g}).")
    st.caption(f"Tracked as run `{lane.run_id}` in the *detection* experiment, with its loss curves, mAP@0.5, the "
               "per-class APs and a picture of these scenes.")

"""The Object detection page's explainer tabs: classification with localization (the output vector on a
generated picture), the IoU explorer, and the R-CNN family against YOLO. The arithmetic lives in
:mod:`core.detection`, the figures in :mod:`core.plots.detection`."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch
import torchvision

from core.detection import area, iou
from core.detection.scenes import DEFAULT_CLASSES, make_scene
from core.detection.yolo import localization_decode, localization_fields, localization_target
from core.plots.detection import class_color, iou_figure, localization_figure, speed_bars
from ui.tables import csv_button, table_with_csv

PAGE = "detection"
LOC_SIZE = 128
IOU_SIZE = 100


# --------------------------------------------------------------------------- classification with localization


@st.cache_data(max_entries=64, show_spinner=False)
def _one_object_scene(seed: int, empty: bool):
    image, boxes, labels = make_scene(int(seed), size=LOC_SIZE, n_objects=0 if empty else 1, classes=DEFAULT_CLASSES,
                                      clutter=0.3, object_size=(0.25, 0.6))
    return image.permute(1, 2, 0).numpy(), boxes, labels


def _meaning(field: str, n_classes: int) -> str:
    meanings = {
        "p_c": "is there an object? 1 = yes, 0 = no",
        "b_x": "centre, left to right, as a fraction of the width",
        "b_y": "centre, top to bottom, as a fraction of the height",
        "b_h": "box height as a fraction of the image height",
        "b_w": "box width as a fraction of the image width",
    }
    if field in meanings:
        return meanings[field]
    k = int(field.split("_")[1]) - 1
    return f"1 if the object is a {DEFAULT_CLASSES[k]}" if k < n_classes else ""


def render_localization() -> None:
    """The "Localization" tab: one object, its box, and the vector y a network is trained to output."""
    st.markdown(
        "A classifier answers *what*; **classification with localization** also answers *where*. For a picture "
        "with at most one object, the network ends in one output vector y = (p_c, b_x, b_y, b_h, b_w, c_1, …, c_n): "
        "p_c says whether there is an object at all, (b_x, b_y) is the centre of its box and (b_h, b_w) its height "
        "and width, all as fractions of the image (top-left corner = (0, 0)), and c_1…c_n is the class, one-hot. "
        "**What you see:** a generated picture with one shape, its box, and the vector that is its training target. "
        "**Try:** other scenes and watch b_x, b_y follow the centre; tick *no object* to see p_c = 0, when the other "
        "entries no longer matter."
    )
    left, right = st.columns([3, 2])
    with right:
        seed = st.slider("Example scene", 0, 99, 3, key=f"{PAGE}.loc_seed")
        empty = st.checkbox("A picture with no object", key=f"{PAGE}.loc_empty")
    image, boxes, labels = _one_object_scene(seed, empty)
    n = len(DEFAULT_CLASSES)
    box = boxes[0] if len(boxes) else None
    label = int(labels[0]) if len(labels) else None
    y = localization_target(box, label, n, LOC_SIZE)
    name = DEFAULT_CLASSES[label] if label is not None else ""
    with left:
        fig = localization_figure(image, None if box is None else box.tolist(), name, class_color(label or 0), size=LOC_SIZE,
                                  title=f"{LOC_SIZE}×{LOC_SIZE} picture" + (f" with a {name}" if name else " without an object"))
        st.plotly_chart(fig, key=f"{PAGE}.loc_figure")
    with right:
        rows = [{"entry": f, "value": round(float(v), 4) if (box is not None or f == "p_c") else None,
                 "meaning": _meaning(f, n) if (box is not None or f == "p_c") else "does not matter (no object)"}
                for f, v in zip(localization_fields(n), y.tolist())]
        table_with_csv(pd.DataFrame(rows), "Download the vector (CSV)", "localization_vector.csv", f"{PAGE}.loc_csv",
                       column_config={"entry": st.column_config.TextColumn(width="small"),
                                      "value": st.column_config.NumberColumn(width="small"),
                                      "meaning": st.column_config.TextColumn(width="large")})
    if box is None:
        st.caption("With p_c = 0 the loss only looks at p_c: nothing is learned about a box that is not there.")
        return
    back = localization_decode(y, LOC_SIZE)
    x1, y1, x2, y2 = box.tolist()
    st.markdown(
        f"In pixels the box is x from {x1:.0f} to {x2:.0f} and y from {y1:.0f} to {y2:.0f}, so "
        f"b_x = ({x1:.0f} + {x2:.0f}) / 2 / {LOC_SIZE} = {float(y[1]):.3f} and b_w = ({x2:.0f} − {x1:.0f}) / {LOC_SIZE} "
        f"= {float(y[4]):.3f}. Reading the vector back gives the box "
        f"({', '.join(f'{v:.1f}' for v in back.box.tolist())}) and the class *{DEFAULT_CLASSES[back.label]}*: "
        "the encoding loses nothing."
    )


# --------------------------------------------------------------------------- IoU explorer


def _iou_numbers(a: list[float], b: list[float]) -> dict[str, float]:
    boxes_a, boxes_b = torch.tensor([a]), torch.tensor([b])
    area_a, area_b = float(area(boxes_a)[0]), float(area(boxes_b)[0])
    value = float(iou(boxes_a, boxes_b)[0, 0])
    wx = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    wy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = wx * wy
    return {"area_a": area_a, "area_b": area_b, "overlap": overlap, "union": area_a + area_b - overlap, "iou": value,
            "torchvision": float(torchvision.ops.box_iou(boxes_a, boxes_b)[0, 0])}


def render_iou() -> None:
    """The "IoU" tab: two boxes moved by sliders, their areas, overlap, union and IoU."""
    st.markdown(
        "**Intersection over union** measures how well two boxes agree: the area they share divided by the area "
        "they cover together. It is 1 for identical boxes and 0 for boxes that do not touch; a predicted box whose "
        "IoU with the true one is above 0.5 usually counts as a correct detection. **What you see:** box A (blue) and "
        "box B (orange) on a 100 × 100 canvas, the overlap in green. **Try:** slide B over A, make one box much "
        "larger than the other (a big box that contains a small one still has a low IoU), or pull them apart."
    )
    left, right = st.columns([3, 2])
    with right:
        ax = st.slider("Box A: left and right edges (x₁, x₂)", 0, IOU_SIZE, (10, 60), key=f"{PAGE}.iou_ax")
        ay = st.slider("Box A: top and bottom edges (y₁, y₂)", 0, IOU_SIZE, (15, 65), key=f"{PAGE}.iou_ay")
        bx = st.slider("Box B: left and right edges (x₁, x₂)", 0, IOU_SIZE, (35, 90), key=f"{PAGE}.iou_bx")
        by = st.slider("Box B: top and bottom edges (y₁, y₂)", 0, IOU_SIZE, (40, 85), key=f"{PAGE}.iou_by")
    a = [float(ax[0]), float(ay[0]), float(ax[1]), float(ay[1])]
    b = [float(bx[0]), float(by[0]), float(bx[1]), float(by[1])]
    n = _iou_numbers(a, b)
    with left:
        st.plotly_chart(iou_figure(a, b, IOU_SIZE), key=f"{PAGE}.iou_figure")
    with right:
        c1, c2 = st.columns(2)
        c1.metric("Area of A", f"{n['area_a']:.0f}")
        c2.metric("Area of B", f"{n['area_b']:.0f}")
        c1.metric("Overlap", f"{n['overlap']:.0f}")
        c2.metric("Union", f"{n['union']:.0f}")
        st.metric("IoU", f"{n['iou']:.4f}")
    st.latex(rf"\mathrm{{IoU}} = \frac{{\text{{overlap}}}}{{\text{{area}}_A + \text{{area}}_B - \text{{overlap}}}} = "
             rf"\frac{{{n['overlap']:.0f}}}{{{n['area_a']:.0f} + {n['area_b']:.0f} - {n['overlap']:.0f}}} = {n['iou']:.4f}")
    if abs(n["iou"] - 0.5) < 1e-9:
        verdict = ("sits exactly on the 0.5 line: a strict \"above 0.5\" rejects it, while mAP@0.5 as computed in the "
                   "training tab (COCO's IoU ≥ 0.5) counts it")
    else:
        verdict = f"would {'' if n['iou'] > 0.5 else 'not '}count as a correct detection (IoU above 0.5)"
    reference = (f"torchvision.ops.box_iou gives {n['torchvision']:.4f} for the same two boxes" if n["union"] > 0 else
                 "two boxes of zero area have no union: torchvision.ops.box_iou answers NaN (0 / 0), this lab 0")
    st.caption(f"If A were the true box and B a prediction, B {verdict}. Check: {reference}.")


# --------------------------------------------------------------------------- R-CNN family against YOLO

FAMILY = [
    {"method": "R-CNN", "paper": "Girshick, Donahue, Darrell & Malik, CVPR 2014",
     "where the boxes come from": "Selective Search, outside the network: about 2,000 candidate regions per image, "
                                  "grown by merging neighbouring segments of similar colour, texture and size",
     "what the CNN sees": "every region separately, cut out and warped to a fixed size; one SVM per class scores "
                          "its features and a regressor nudges the box",
     "reported speed": "13 s per image on a GPU (its own paper); 47 s per image with VGG16 (timed in the Fast R-CNN paper)"},
    {"method": "Fast R-CNN", "paper": "Girshick, ICCV 2015",
     "where the boxes come from": "still Selective Search (about 2 s per image on a CPU, per the Faster R-CNN paper)",
     "what the CNN sees": "the whole image once; each region's features are cut from the shared feature map "
                          "(RoI pooling) and one network outputs class scores and box corrections",
     "reported speed": "0.32 s per image with VGG16, not counting the proposals; 213× faster than R-CNN at test time "
                       "once its fully connected layers are compressed by truncated SVD"},
    {"method": "Faster R-CNN", "paper": "Ren, He, Girshick & Sun, NeurIPS 2015",
     "where the boxes come from": "a Region Proposal Network on the same feature map: at every position, 9 anchors "
                                  "(3 sizes × 3 aspect ratios) get an objectness score and box offsets; about 300 "
                                  "proposals are kept after NMS, at about 10 ms per image",
     "what the CNN sees": "the whole image once; proposals and detection share the convolutional features, "
                          "trained end to end",
     "reported speed": "5 frames per second with VGG-16 on a GPU, every step included"},
    {"method": "YOLO", "paper": "Redmon, Divvala, Girshick & Farhadi, CVPR 2016",
     "where the boxes come from": "no proposals: the image is cut into a 7 × 7 grid and each cell predicts 2 boxes "
                                  "with confidences plus one set of class probabilities; NMS cleans up",
     "what the CNN sees": "the whole image once, a single network from pixels to boxes",
     "reported speed": "45 frames per second; the smaller Fast YOLO 155 frames per second"},
    {"method": "SSD", "paper": "Liu et al., ECCV 2016",
     "where the boxes come from": "no proposals: default boxes (anchors) of several aspect ratios on feature maps "
                                  "of several resolutions, each scored and adjusted",
     "what the CNN sees": "the whole image once",
     "reported speed": "59 frames per second for the 300 × 300 model"},
]
SPEEDS = [("R-CNN (VGG16)", 1 / 47, "47 s per image, timed in the Fast R-CNN paper"),
          ("Fast R-CNN (VGG16), network only", 1 / 0.32, "0.32 s per image; add about 2 s of Selective Search"),
          ("Faster R-CNN (VGG-16)", 5.0, "5 fps, every step included"),
          ("SSD300", 59.0, "59 fps"),
          ("YOLO", 45.0, "45 fps"),
          ("Fast YOLO", 155.0, "155 fps")]
SOURCES = [
    ("R. Girshick, J. Donahue, T. Darrell, J. Malik (2014). Rich feature hierarchies for accurate object detection "
     "and semantic segmentation. CVPR.", "https://arxiv.org/abs/1311.2524"),
    ("R. Girshick (2015). Fast R-CNN. ICCV.", "https://arxiv.org/abs/1504.08083"),
    ("S. Ren, K. He, R. Girshick, J. Sun (2015). Faster R-CNN: Towards Real-Time Object Detection with Region "
     "Proposal Networks. NeurIPS.", "https://arxiv.org/abs/1506.01497"),
    ("J. Redmon, S. Divvala, R. Girshick, A. Farhadi (2016). You Only Look Once: Unified, Real-Time Object "
     "Detection. CVPR.", "https://arxiv.org/abs/1506.02640"),
    ("W. Liu et al. (2016). SSD: Single Shot MultiBox Detector. ECCV.", "https://arxiv.org/abs/1512.02325"),
]


def render_families() -> None:
    """The "R-CNN vs YOLO" tab: how each family finds its regions, and how fast its authors reported it."""
    st.markdown(
        "Two ways to build a detector. **Two-stage** detectors (the R-CNN family) first propose regions that might "
        "hold an object, then classify each region and refine its box. **Single-shot** detectors (YOLO, SSD) skip "
        "the proposals: one pass of one network predicts boxes and classes for a fixed set of places at once, the "
        "grid and anchors of the *Anchors and the grid* tab. The history is a hunt for shared work: R-CNN ran the "
        "network once per region, Fast R-CNN once per image, Faster R-CNN made the proposals inside that same "
        "network, and YOLO dropped the proposal stage altogether. **What you see:** the table in our own words and "
        "the speeds the authors reported. **Try:** in *Detect in a photo*, run the two-stage Faster R-CNN and the "
        "single-shot SSDlite on the same photo and compare their inference times."
    )
    table = pd.DataFrame(FAMILY)
    st.table(table.set_index("method"))
    st.caption("Speeds as reported by the authors on their GPUs, which differ from paper to paper and are years apart: "
               "compare orders of magnitude, not decimals.")
    csv_button(st, "Download the comparison (CSV)", table, "rcnn_vs_yolo.csv", f"{PAGE}.family_csv")
    names, fps, notes = zip(*SPEEDS)
    st.plotly_chart(speed_bars(names, fps, notes, title="Reported images per second (authors' GPUs)"),
                    key=f"{PAGE}.family_speed")
    st.markdown(
        "The price of speed, at the time: YOLO's first version was less accurate than Faster R-CNN, placed boxes "
        "less precisely, and struggled with small objects close together, since each grid cell predicts only two "
        "boxes and one class. Anchors (YOLO9000, Redmon & Farhadi 2017) and predictions at several scales closed "
        "most of that gap in later versions."
    )
    st.markdown("**Sources**\n\n" + "\n".join(f"- {text} [{url}]({url})" for text, url in SOURCES))

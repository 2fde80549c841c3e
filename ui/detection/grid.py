"""The Object detection page's "Anchors and the grid" tab: an S × S grid, anchors of several aspect
ratios, which cell and anchor a ground-truth box goes to, and the target slot it fills (encoded and
decoded back). The rules live in :mod:`core.detection.yolo`, the figures in :mod:`core.plots.detection`."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from core.detection.scenes import DEFAULT_CLASSES, make_scene
from core.detection.yolo import DEFAULT_ANCHORS, GridSpec, anchor_iou, assign, collisions, decode, encode
from core.plots.detection import Drawn, anchor_figure, class_color, scene_figure
from ui import form
from ui.tables import table_with_csv

PAGE = "detection"
GRID_SIZE = 128
ANCHOR_SETS: dict[str, tuple[tuple[float, float], ...]] = {
    "3 anchors: wide, square, tall": DEFAULT_ANCHORS,
    "5 anchors: adds a very wide and a very tall one": DEFAULT_ANCHORS + ((0.60, 0.15), (0.15, 0.60)),
    "1 square anchor (one object per cell)": ((0.28, 0.28),),
}


def _anchor_name(w: float, h: float) -> str:
    ratio = w / h
    return "square" if 0.8 <= ratio <= 1.25 else ("very wide" if ratio >= 3 else "wide") if ratio > 1 else (
        "very tall" if ratio <= 1 / 3 else "tall")


def _slot_meaning(field: str) -> str:
    return {"p_c": "an object is in this slot", "b_x": "centre inside the cell: 0 = its left edge, 1 = its right edge",
            "b_y": "centre inside the cell: 0 = its top edge, 1 = its bottom edge",
            "b_h": "height as a fraction of the image", "b_w": "width as a fraction of the image"}.get(field, "class, one-hot")


def render() -> None:
    """The "Anchors and the grid" tab."""
    st.markdown(
        "YOLO cuts the image into an **S × S grid**. The object belongs to the cell that contains the **centre** of "
        "its box, and each cell has a few **anchor boxes**, fixed shapes (wide, square, tall, …); the object goes to "
        "the anchor whose shape overlaps its own shape best (IoU with both centred on the same point). That "
        "(cell, anchor) slot holds the object's vector (p_c, b_x, b_y, b_h, b_w, c_1…c_n), with the centre measured "
        "inside the cell; every other slot is zero. With anchors, two objects centred in the same cell can both be "
        "found, as long as their shapes differ. **What you see:** the grid, the chosen cell shaded, every anchor as a "
        "dashed box (the chosen one red), and the numbers of the slot. Indices count from 0, as in the tensor. "
        "**Try:** move the centre across a cell border, stretch the box from wide to tall, and change S."
    )
    left, right = st.columns([3, 2])
    with right:
        S = form.field(st, GridSpec, "S", key=f"{PAGE}.grid_S")
        anchors_name = st.selectbox("Anchor boxes", list(ANCHOR_SETS), key=f"{PAGE}.grid_anchors")
        c1, c2 = st.columns(2)
        cx = c1.slider("Object centre x (px)", 0, GRID_SIZE, 70, key=f"{PAGE}.grid_cx")
        cy = c2.slider("Object centre y (px)", 0, GRID_SIZE, 45, key=f"{PAGE}.grid_cy")
        w = c1.slider("Object width (px)", 4, GRID_SIZE, 56, key=f"{PAGE}.grid_w")
        h = c2.slider("Object height (px)", 4, GRID_SIZE, 30, key=f"{PAGE}.grid_h")
        label = st.selectbox("Object class", range(len(DEFAULT_CLASSES)), format_func=lambda k: DEFAULT_CLASSES[k],
                             key=f"{PAGE}.grid_class")
    grid = GridSpec(S=S, anchors=ANCHOR_SETS[anchors_name], n_classes=len(DEFAULT_CLASSES), image_size=GRID_SIZE)
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    slot = assign(box, grid)
    shape_iou = anchor_iou(box, grid).tolist()
    target = encode(torch.tensor([box]), torch.tensor([label]), grid)
    vector = target[slot.row, slot.col, slot.anchor]
    back = decode(target, grid, score_threshold=0.5)
    anchors_px = [(aw * GRID_SIZE, ah * GRID_SIZE) for aw, ah in grid.anchors]
    with left:
        st.plotly_chart(anchor_figure(GRID_SIZE, S, box, (slot.row, slot.col), anchors_px, slot.anchor,
                                      class_color(label), title=f"{S} × {S} grid on a {GRID_SIZE} × {GRID_SIZE} image"),
                        key=f"{PAGE}.grid_figure")
    with right:
        c1, c2 = st.columns(2)
        c1.metric("Cell (row, column)", f"({slot.row}, {slot.col})")
        c2.metric("Anchor", f"{slot.anchor} ({_anchor_name(*grid.anchors[slot.anchor])})")
    cell_h, cell_w = grid.cell_size
    rows = [{"anchor": k, "shape": _anchor_name(aw, ah), "width (px)": round(aw * GRID_SIZE, 1),
             "height (px)": round(ah * GRID_SIZE, 1), "shape IoU": round(v, 4),
             "chosen": "yes" if k == slot.anchor else ""} for k, ((aw, ah), v) in enumerate(zip(grid.anchors, shape_iou))]
    a, b = st.columns(2)
    with a:
        st.markdown("**Anchors against the object's shape**")
        table_with_csv(pd.DataFrame(rows), "Download the anchor table (CSV)", "anchors.csv", f"{PAGE}.grid_anchor_csv")
    with b:
        st.markdown(f"**The slot's vector**: target[{slot.row}, {slot.col}, {slot.anchor}]")
        fields = ["p_c", "b_x", "b_y", "b_h", "b_w"] + [f"c_{k + 1} ({n})" for k, n in enumerate(DEFAULT_CLASSES)]
        table_with_csv(pd.DataFrame({"entry": fields, "value": [round(float(v), 4) for v in vector],
                                     "meaning": [_slot_meaning(f) for f in fields]}),
                       "Download the slot vector (CSV)", "slot_vector.csv", f"{PAGE}.grid_slot_csv",
                       column_config={"value": st.column_config.NumberColumn(width="small"),
                                      "meaning": st.column_config.TextColumn(width="large")})
    n_numbers = S * S * grid.A * grid.depth
    st.markdown(
        f"The whole target is a tensor of shape S × S × A × (5 + C) = {S} × {S} × {grid.A} × {grid.depth} = "
        f"{n_numbers:,} numbers; this object fills one slot. Each cell is {cell_w:g} px wide, so "
        f"b_x = {cx} / {cell_w:g} − {slot.col} = {float(vector[1]):.4f} and b_y = {cy} / {cell_h:g} − {slot.row} = "
        f"{float(vector[2]):.4f}; b_h = {h} / {GRID_SIZE} = {float(vector[3]):.4f} and b_w = {w} / {GRID_SIZE} = "
        f"{float(vector[4]):.4f}."
    )
    decoded = back.boxes[0].tolist() if len(back.boxes) else [float("nan")] * 4
    table_with_csv(pd.DataFrame({"which box": ["the object's box", "decoded from the target"],
                                 **{k: [round(v, 3), round(d, 3)] for k, v, d in zip(("x1", "y1", "x2", "y2"), box, decoded)}}),
                   "Download the box check (CSV)", "encode_decode.csv", f"{PAGE}.grid_decode_csv",
                   caption="Decoding reads the centre back as ((column + b_x) · cell width, (row + b_y) · cell height) "
                           "and the size as (b_w · image width, b_h · image height): the same box.")
    _scene_section(grid)


@st.cache_data(max_entries=32, show_spinner=False)
def _scene(seed: int):
    image, boxes, labels = make_scene(int(seed), size=GRID_SIZE, n_objects=(3, 7), classes=DEFAULT_CLASSES, clutter=0.3,
                                      object_size=(0.12, 0.32), max_overlap=0.5)
    return image.permute(1, 2, 0).numpy(), boxes, labels


def _scene_section(grid: GridSpec) -> None:
    st.subheader("A whole scene", divider="gray")
    st.markdown(
        "The same rule for every object of a generated scene, with the grid and anchors chosen above. **What you "
        "see:** each object's cell shaded and its anchor dashed over the object. When two objects want the same "
        "cell *and* the same anchor, only the first is kept: YOLO then cannot learn the second. **Try:** S = 1 or a "
        "single anchor, and count the objects that lose their slot."
    )
    seed = st.slider("Grid scene", 0, 49, 0, key=f"{PAGE}.grid_scene")
    image, boxes, labels = _scene(seed)
    lost = set(collisions(boxes, grid))
    target = encode(boxes, labels, grid)
    drawn, cells, rows = [], [], []
    for i, (box, label) in enumerate(zip(boxes.tolist(), labels.tolist())):
        r, c, a = assign(box, grid)
        cells.append((r, c))
        bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        aw, ah = grid.anchors[a][0] * GRID_SIZE, grid.anchors[a][1] * GRID_SIZE
        colour = class_color(label)
        drawn.append(Drawn((bx - aw / 2, by - ah / 2, bx + aw / 2, by + ah / 2), colour, dash="dash", width=1.2))
        drawn.append(Drawn(box, colour, f"{i}: {DEFAULT_CLASSES[label]}" + (" (lost)" if i in lost else ""), width=2.2))
        v = target[r, c, a]
        rows.append({"object": i, "class": DEFAULT_CLASSES[label], "row": r, "column": c, "anchor": a,
                     "b_x": round(float(v[1]), 4), "b_y": round(float(v[2]), 4), "b_h": round(float(v[3]), 4),
                     "b_w": round(float(v[4]), 4), "slot": "lost" if i in lost else "own"})
    points = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, class_color(lab)) for b, lab in zip(boxes.tolist(), labels.tolist())]
    left, right = st.columns([1, 1])
    left.plotly_chart(scene_figure(image, drawn, grid=grid.S, cells=cells, points=points, height=440,
                                   title=f"{len(boxes)} objects, {grid.S} × {grid.S} grid, {grid.A} anchor(s)"),
                      key=f"{PAGE}.grid_scene_figure")
    with right:
        n_decoded = len(decode(target, grid, score_threshold=0.5).boxes)
        table_with_csv(pd.DataFrame(rows), "Download the scene's slots (CSV)", "scene_slots.csv", f"{PAGE}.grid_scene_csv",
                       caption=f"{len(boxes) - len(lost)} of {len(boxes)} objects have a slot of their own; decoding "
                               f"the target gives back {n_decoded} box{'es' if n_decoded != 1 else ''}.")

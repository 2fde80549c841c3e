"""Object detection: classification with localization, IoU, non-max suppression, anchors and the YOLO
grid, a small YOLO trained on generated scenes, a pretrained COCO detector on a photo, and the R-CNN
family against YOLO."""

import streamlit as st

from ui import detection_grid, detection_nms, detection_photo, detection_training, detection_views

PAGE = "detection"

st.title("Object detection")
st.markdown(
    "Detection answers two questions at once: *what* is in the picture and *where*, as a box around each object. "
    "**Try:** start with one object and its output vector, learn the two tools every detector needs (IoU to compare "
    "boxes, non-max suppression to remove duplicates), see how YOLO lays its predictions on a grid with anchors, "
    "train such a detector here, then run a pretrained one on a photo of your own."
)

localization, iou, nms, grid, train, photo, families = st.tabs(
    ["Localization", "IoU", "Non-max suppression", "Anchors and the grid", "Train a detector", "Detect in a photo",
     "R-CNN vs YOLO"]
)
with localization:
    detection_views.render_localization()
with iou:
    detection_views.render_iou()
with nms:
    detection_nms.render()
with grid:
    detection_grid.render()
with train:
    detection_training.render()
with photo:
    detection_photo.render()
with families:
    detection_views.render_families()

"""Object detection: classification with localization, IoU, non-max suppression, anchors and the YOLO
grid, a small YOLO trained on generated scenes, a pretrained COCO detector on a photo, and the R-CNN
family against YOLO."""

from ui import shell
from ui.detection import grid, nms, photo, training, views

shell.topic_page(
    "Object detection",
    "Detection answers two questions at once: *what* is in the picture and *where*, as a box around each object. "
    "**Try:** start with one object and its output vector, learn the two tools every detector needs (IoU to compare "
    "boxes, non-max suppression to remove duplicates), see how YOLO lays its predictions on a grid with anchors, "
    "train such a detector here, then run a pretrained one on a photo of your own.",
    {
        "Localization": views.render_localization,
        "IoU": views.render_iou,
        "Non-max suppression": nms.render,
        "Anchors and the grid": grid.render,
        "Train a detector": training.render,
        "Detect in a photo": photo.render,
        "R-CNN vs YOLO": views.render_families,
    },
)

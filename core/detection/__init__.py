"""Object detection: boxes and IoU, non-max suppression, the YOLO grid target, average precision, and
synthetic scenes to train on (the Object Detection page's engine). Boxes are xyxy in pixels."""

from core.detection.boxes import (
    NmsRound,
    area,
    batched_nms,
    cxcywh_to_xyxy,
    iou,
    nms,
    nms_steps,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)

__all__ = [
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

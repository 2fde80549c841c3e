"""Object detection: boxes and IoU, non-max suppression, the YOLO grid target, average precision, and
synthetic scenes to train on (the Object Detection page's engine). Boxes are xyxy in pixels."""

from core.detection.boxes import *  # noqa: F403 - the package's own names are the box tools'
from core.detection.boxes import __all__ as __all__

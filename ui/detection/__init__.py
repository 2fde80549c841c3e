"""The Object detection page's tabs: localization and IoU, non-max suppression, anchors and the YOLO grid, training a detector, a pretrained detector on a photo."""

"""Pretrained torchvision COCO detectors for uploaded photos: load once, detect once, re-filter at will.

The model runs a single time per image with its own score threshold and NMS opened wide
(:data:`RAW_SCORE_THRESHOLD`, NMS IoU 1.0), so it returns every candidate box. The score and
IoU sliders then call :func:`refilter` (a score filter and per-class NMS on those raw boxes),
which takes milliseconds and never re-runs the network. With the same thresholds this gives
the boxes the model's own post-processing would have given.

Weights come through torch hub's cache (``torch.hub.get_dir()/checkpoints/<file>``, under
``TORCH_HOME``): downloaded once, read from disk afterwards. When they are not there and
cannot be downloaded, :func:`load_detector` raises :class:`WeightsUnavailable` with one
sentence the page can show; a detector with random weights is never returned.

Detectors (Howard et al. 2019, "Searching for MobileNetV3", as the backbone of both):

- Faster R-CNN (Ren et al. 2015, "Faster R-CNN: Towards Real-Time Object Detection with
  Region Proposal Networks") with an FPN (Lin et al. 2017), at 320 px or full resolution;
- SSDlite (Liu et al. 2016, "SSD: Single Shot MultiBox Detector"; Sandler et al. 2018).

Boxes are ``(x1, y1, x2, y2)`` in pixels of the input image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models import detection as tvd
from torchvision.ops.misc import FrozenBatchNorm2d

from core import pretrained
from core.detection.boxes import Detections, batched_nms  # the course's NMS (checked against torchvision in its tests)
from core.device import pick_device, synchronize
from core.pretrained import WeightsUnavailable as WeightsUnavailable  # re-exported for the page
from core.pretrained import hub_path

RAW_SCORE_THRESHOLD = 0.01  # the model keeps every class score above this; the slider decides the rest
RAW_MAX_DETECTIONS = 3000  # raw boxes kept per image (the top scores); see Detections.score_floor
DEFAULT_MAX_DETECTIONS = 100  # what refilter keeps at most (torchvision's own default)


@dataclass(frozen=True)
class DetectorSpec(pretrained.TorchvisionWeights):
    """One pretrained detector: how to build it and where its COCO weights live."""

    name: str  # display name
    builder: Callable[..., nn.Module]  # torchvision builder, e.g. tvd.ssdlite320_mobilenet_v3_large
    weights: torchvision.models.WeightsEnum  # e.g. SSDLite320_MobileNet_V3_Large_Weights.COCO_V1
    frozen_batch_norm: bool  # torchvision builds the pretrained model with FrozenBatchNorm2d
    description: str

    @property
    def box_map(self) -> float:
        """COCO val2017 box mAP (%) as published by torchvision."""
        return float(self.weights.meta["_metrics"]["COCO-val2017"]["box_map"])


DETECTORS: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        DetectorSpec(
            "Faster R-CNN MobileNetV3 (320 px, fast)",
            tvd.fasterrcnn_mobilenet_v3_large_320_fpn,
            tvd.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1,
            True,
            "two-stage detector on a 320-pixel copy of the photo: fast on a CPU, misses small objects",
        ),
        DetectorSpec(
            "Faster R-CNN MobileNetV3 (full size)",
            tvd.fasterrcnn_mobilenet_v3_large_fpn,
            tvd.FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
            True,
            "the same network on an 800-pixel copy: finds smaller objects, about ten times slower on a CPU",
        ),
        DetectorSpec(
            "SSDlite MobileNetV3 (320 px)",
            tvd.ssdlite320_mobilenet_v3_large,
            tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
            False,
            "single-shot detector: one pass, no proposals, the smallest download",
        ),
    )
}
DEFAULT_DETECTOR = next(iter(DETECTORS))

# COCO's 91 category slots (index = model label): "__background__" at 0, "N/A" for unused ids.
COCO_LABELS: tuple[str, ...] = tuple(DETECTORS[DEFAULT_DETECTOR].weights.meta["categories"])


def _spec(name: str) -> DetectorSpec:
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}") from None


def weights_path(name: str = DEFAULT_DETECTOR) -> Path:
    """Where torch hub keeps (or will keep) the detector's COCO weights file.

    ``torch.hub.get_dir()/checkpoints/<file name from the weights URL>``; ``TORCH_HOME`` moves it.
    """
    return hub_path(_spec(name).url)


def weights_cached(name: str = DEFAULT_DETECTOR) -> bool:
    """True when the weights file is already on disk (loading then needs no internet)."""
    return weights_path(name).is_file()


def _freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by a FrozenBatchNorm2d, as torchvision does for pretrained Faster R-CNN."""
    for child_name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, child_name, FrozenBatchNorm2d(child.num_features, eps=child.eps))
        else:
            _freeze_batch_norm(child)
    return module


def _open_thresholds(model: nn.Module) -> None:
    """Make the model keep every candidate: tiny score threshold, no NMS, many boxes (idempotent)."""
    if hasattr(model, "roi_heads"):  # Faster R-CNN
        model.roi_heads.score_thresh = RAW_SCORE_THRESHOLD
        model.roi_heads.nms_thresh = 1.0  # IoU > 1 never happens: NMS keeps everything
        model.roi_heads.detections_per_img = RAW_MAX_DETECTIONS
    elif hasattr(model, "topk_candidates"):  # SSD / SSDlite
        model.score_thresh = RAW_SCORE_THRESHOLD
        model.nms_thresh = 1.0
        model.detections_per_img = RAW_MAX_DETECTIONS
        # topk_candidates (per class, before NMS) stays: a top-k of the scores commutes with a score cut
    else:
        raise ValueError(f"{type(model).__name__} is not a torchvision Faster R-CNN or SSD detector")


def build_detector(name: str = DEFAULT_DETECTOR) -> nn.Module:
    """The detector's architecture exactly as torchvision builds it for its COCO weights, randomly initialised.

    Only :func:`load_detector` should hand a model to a page: this one has no trained weights.
    """
    spec = _spec(name)
    model = spec.builder(weights=None, weights_backbone=None, num_classes=len(spec.weights.meta["categories"]))
    if spec.frozen_batch_norm:
        _freeze_batch_norm(model)
    return model


_FALLBACK = "the shapes detector trained here works offline"


def load_detector(
    name: str = DEFAULT_DETECTOR, device: torch.device | str | None = None, allow_download: bool = True
) -> nn.Module:
    """The pretrained COCO detector ``name`` in eval mode, on ``device`` (default: :func:`pick_device`).

    Weights come from the torch hub cache, downloaded there first when missing and ``allow_download``
    (``torch.hub.load_state_dict_from_url``, socket timeout ``DOWNLOAD_TIMEOUT_S``, hash checked on
    download), read with ``weights_only=True`` (tensors only, no pickled code) and loaded with
    ``strict=True``. The model is set to return raw detections (see :func:`detect`).

    Raises :class:`WeightsUnavailable` (one sentence) when the file is missing and cannot be
    downloaded, is unreadable, or does not fit the architecture; ``ValueError`` for an unknown name.
    """
    spec = _spec(name)
    what = f"the pretrained COCO weights for {spec.name}"
    state = pretrained.load_state_dict(spec.url, what=what, fallback=_FALLBACK, allow_download=allow_download)
    model = build_detector(name)
    pretrained.load_into(model, state, url=spec.url, what=what, fallback=_FALLBACK)
    _open_thresholds(model)
    model.requires_grad_(False)
    return model.eval().to(torch.device(device) if device is not None else pick_device())


def _names_for(labels: torch.Tensor, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(names[i] if 0 <= i < len(names) else str(i) for i in labels.tolist())


def _to_tensor(image: Image.Image | torch.Tensor) -> torch.Tensor:
    if isinstance(image, Image.Image):
        return torchvision.transforms.functional.pil_to_tensor(image.convert("RGB")).float().div_(255.0)  # (3, H, W)
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] not in (1, 3) or min(image.shape[1:]) < 1:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"detect needs a PIL image or a [3, H, W] float tensor with values in [0, 1]; got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"the image tensor must be float with values in [0, 1], not {image.dtype}")
    return image.float().expand(3, -1, -1)


@torch.inference_mode()
def detect(model: nn.Module, image: Image.Image | torch.Tensor, device: torch.device | str | None = None) -> Detections:
    """Run ``model`` once on ``image`` and return every raw detection, sorted by decreasing score.

    ``image``: a PIL image (any mode, converted to RGB) or a [3, H, W] float tensor in [0, 1]
    (a [1, H, W] grey tensor is repeated to 3 channels). ``device`` defaults to the model's.
    The model's own thresholds are opened first (score > ``RAW_SCORE_THRESHOLD``, no NMS, up to
    ``RAW_MAX_DETECTIONS`` boxes) so that :func:`refilter` decides; boxes are in input pixels.
    """
    _open_thresholds(model)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    x = _to_tensor(image).to(dev)
    model.eval()
    synchronize(dev)
    start = time.perf_counter()
    out = model([x])[0]
    synchronize(dev)
    ms = (time.perf_counter() - start) * 1000.0
    boxes, scores, labels = out["boxes"].float().cpu(), out["scores"].float().cpu(), out["labels"].cpu()
    order = torch.argsort(scores, descending=True, stable=True)  # torchvision already sorts; make it a contract
    boxes, scores, labels = boxes[order], scores[order], labels[order]
    floor = float(scores[-1]) if len(scores) >= RAW_MAX_DETECTIONS else RAW_SCORE_THRESHOLD
    return Detections(boxes, scores, labels, _names_for(labels, COCO_LABELS), ms, floor)


def refilter(
    dets: Detections, score_threshold: float, iou_threshold: float, max_detections: int | None = DEFAULT_MAX_DETECTIONS
) -> Detections:
    """Keep the boxes scoring above ``score_threshold``, then per-class NMS at ``iou_threshold`` (no model run).

    A box is dropped when it overlaps (IoU > ``iou_threshold``) a higher-scoring box of the same
    class. At most ``max_detections`` boxes (None: all), sorted by decreasing score. For a threshold
    at or above ``dets.score_floor`` the result equals the model's own post-processing with the same
    thresholds; below it, only the raw detections take part.
    """
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"the score threshold must lie in [0, 1], not {score_threshold}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"the IoU threshold must lie in [0, 1], not {iou_threshold}")
    if max_detections is not None and max_detections < 0:
        raise ValueError(f"max_detections must be 0 or more, not {max_detections}")
    idx = torch.nonzero(dets.scores > score_threshold).flatten()
    keep = idx[batched_nms(dets.boxes[idx], dets.scores[idx], dets.labels[idx], iou_threshold)]
    if max_detections is not None:
        keep = keep[:max_detections]
    return dets.select(keep)

"""A small YOLO-style detector and its loss, for the generated shape scenes.

:class:`TinyYolo` is a plain convolutional network (Redmon et al., 2016, "You Only Look Once: Unified,
Real-Time Object Detection"; anchor boxes from Redmon & Farhadi, 2017, "YOLO9000: Better, Faster,
Stronger"): conv–batch-norm–leaky-ReLU blocks with stride-2 steps take the image down to the S × S grid,
and a 1 × 1 convolution gives each cell A·(5 + C) numbers, one vector (p_c, b_x, b_y, b_h, b_w,
c_1…c_C) per anchor. Its output is raw (logits); :func:`core.detection.yolo.activate` turns it into the
target's form (sigmoids on p_c and the box, a softmax over the classes), which
:func:`core.detection.yolo.decode` reads boxes from.

:func:`yolo_loss` is the YOLOv1 sum-squared loss for the box, with YOLOv2/v3's logistic (binary
cross-entropy) objectness and softmax cross-entropy for the class; see its docstring for the exact form.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.detection.yolo import GridSpec

__all__ = ["TinyYolo", "downsampling_steps", "yolo_loss", "yolo_loss_terms"]


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """3 × 3 convolution (no bias: batch norm has one) → batch norm → leaky ReLU (slope 0.1, as in YOLO)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.1, inplace=True),
    )


def downsampling_steps(image_size: int, S: int) -> int:
    """How many stride-2 steps take an ``image_size`` image to an ``S`` × ``S`` grid: log₂(image_size / S).

    ``ValueError`` unless image_size / S is a whole power of two (so each output cell sees exactly its
    grid cell of the image)."""
    if int(S) != S or S < 1 or int(image_size) != image_size or image_size < 1:
        raise ValueError(f"the image size and S must be whole numbers of at least 1, got {image_size} and {S}")
    ratio = image_size / S
    k = round(math.log2(ratio)) if ratio >= 1 else -1
    if k < 0 or S * 2**k != image_size:
        raise ValueError(f"the image size divided by S must be a power of two (e.g. 64 px with S = 4 or 8), "
                         f"got {image_size} px and S = {S}")
    return k


class TinyYolo(nn.Module):
    """A small YOLO-style network: [B, 3, H, W] images → raw outputs [B, S, S, A, 5 + C].

    Layout (``w`` = ``width``): a stride-1 block with ``w`` channels, then log₂(H / S) stages, each a
    stride-2 block (doubling the channels up to 8·w) followed by a stride-1 block, then a 3 × 3 block and
    the 1 × 1 convolution to A·(5 + C) channels. Every block is conv 3 × 3 → batch norm → leaky ReLU(0.1).
    The output of cell (row i, column j) sees the whole image through its receptive field but is laid
    out over grid cell (i, j), the cell that owns the objects whose centre falls in it.

    ``grid``: the :class:`~core.detection.yolo.GridSpec` (square image whose side / S is a power of two).
    The output is raw: apply :func:`~core.detection.yolo.activate` before reading boxes.
    """

    def __init__(self, grid: GridSpec, width: int = 16) -> None:
        super().__init__()
        if grid.height != grid.width:
            raise ValueError(f"TinyYolo takes square images, got {grid.height}×{grid.width}")
        if int(width) != width or width < 1:
            raise ValueError(f"the width must be a whole number of channels of at least 1, got {width}")
        steps = downsampling_steps(grid.height, grid.S)
        self.grid = grid
        width = int(width)
        layers: list[nn.Module] = [_block(3, width, 1)]
        c = width
        for _ in range(steps):
            c_out = min(2 * c, 8 * width)
            layers += [_block(c, c_out, 2), _block(c_out, c_out, 1)]  # halve the side, then look around
            c = c_out
        layers.append(_block(c, c, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, grid.A * grid.depth, 1)  # 1 × 1 conv: A·(5 + C) numbers per cell

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.grid.height, self.grid.width):
            raise ValueError(f"TinyYolo expects images [B, 3, {self.grid.height}, {self.grid.width}], got {list(x.shape)}")
        out = self.head(self.features(x))  # (B, A·(5+C), S, S)
        out = out.unflatten(1, (self.grid.A, self.grid.depth))  # (B, A, 5+C, S, S)
        return out.permute(0, 3, 4, 1, 2)  # (B, S, S, A, 5+C): rows, columns, anchors, vector


def yolo_loss_terms(raw: Tensor, target: Tensor, lambda_coord: float = 5.0, lambda_noobj: float = 0.5) -> dict[str, Tensor]:
    """The four terms of :func:`yolo_loss` (each weighted, summed over slots and averaged over the batch):
    ``coord`` (box), ``obj`` (objectness of object slots), ``noobj`` (objectness of empty slots), ``class``;
    and ``total``, their sum (= :func:`yolo_loss`)."""
    if raw.shape != target.shape:
        raise ValueError(f"raw output and target must have the same shape [B, S, S, A, 5 + C], "
                         f"got {list(raw.shape)} and {list(target.shape)}")
    if raw.ndim != 5 or raw.shape[-1] < 6:
        raise ValueError(f"raw output must be [B, S, S, A, 5 + C] with at least one class, got {list(raw.shape)}")
    if lambda_coord < 0 or lambda_noobj < 0:
        raise ValueError("lambda_coord and lambda_noobj must be 0 or more")
    raw = raw.float()
    target = target.to(raw.dtype)
    batch = raw.shape[0]
    obj = target[..., 0]  # (B, S, S, A): 1 where the slot holds an object, else 0
    noobj = 1.0 - obj
    # Box: sigmoid(raw) against (b_x, b_y, b_h, b_w), squared error, object slots only.
    box_err = ((torch.sigmoid(raw[..., 1:5]) - target[..., 1:5]) ** 2).sum(-1)  # (B, S, S, A)
    # Objectness: −[t log σ(z) + (1 − t) log(1 − σ(z))], computed from the logit z (stable).
    bce = F.binary_cross_entropy_with_logits(raw[..., 0], obj, reduction="none")  # (B, S, S, A)
    # Class: −log softmax(raw classes)[true class], object slots only.
    true_class = target[..., 5:].argmax(-1)  # (B, S, S, A)
    ce = F.cross_entropy(raw[..., 5:].flatten(0, -2), true_class.flatten(), reduction="none").view_as(obj)
    terms = {
        "coord": lambda_coord * (obj * box_err).sum() / batch,
        "obj": (obj * bce).sum() / batch,
        "noobj": lambda_noobj * (noobj * bce).sum() / batch,
        "class": (obj * ce).sum() / batch,
    }
    terms["total"] = terms["coord"] + terms["obj"] + terms["noobj"] + terms["class"]
    return terms


def yolo_loss(raw: Tensor, target: Tensor, lambda_coord: float = 5.0, lambda_noobj: float = 0.5) -> Tensor:
    """The YOLO loss of raw outputs against :func:`~core.detection.yolo.encode` targets, both [B, S, S, A, 5 + C].

    With 1ᵒᵇʲ = target p_c (1 in the slot that holds an object, else 0), σ the sigmoid and the activated
    prediction (p̂, x̂, ŷ, ĥ, ŵ) = σ(raw[..., :5]), ĉ = softmax(raw[..., 5:]):

        L = (1/B) Σ_images Σ_cells Σ_anchors [
              λ_coord · 1ᵒᵇʲ · ((x̂ − b_x)² + (ŷ − b_y)² + (ĥ − b_h)² + (ŵ − b_w)²)
            + 1ᵒᵇʲ · (−log p̂)
            + λ_noobj · (1 − 1ᵒᵇʲ) · (−log(1 − p̂))
            + 1ᵒᵇʲ · (−log ĉ_k)  with k the true class ]

    The box term is YOLOv1's sum-squared error (λ_coord = 5) on the course's form of the box: centre
    relative to the cell, height and width as fractions of the image, so it is plain (no square roots
    of the sizes as in YOLOv1, no log-ratio to the anchor as in YOLOv2). Objectness is logistic (binary
    cross-entropy against 1 / 0, as in YOLOv3) with empty slots down-weighted by λ_noobj = 0.5
    (YOLOv1); the class term is softmax cross-entropy (YOLOv2). Objectness and class terms are computed
    from the logits (log-sum-exp), which equals the formula on the activated values without overflow.
    Returns a scalar; the sum over slots is averaged over the batch.
    """
    return yolo_loss_terms(raw, target, lambda_coord, lambda_noobj)["total"]

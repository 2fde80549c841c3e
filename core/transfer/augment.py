"""Data augmentation on the device, one random draw per image per step, inside the network.

:class:`Augment` is a module that :class:`core.transfer.backbones.TransferNet` applies to its input
batch in training mode only (like dropout, it is the identity in eval mode), so the shared
:func:`core.training.fit` needs no data loader and a mini-batch of images on the GPU is augmented
there. Each image gets its own draw of:

- ``flip``: a horizontal mirror with probability ½;
- ``crop``: a random zoom into 70–100 % of the side at a random position (a "random resized crop"
  that keeps the aspect ratio);
- ``rotate``: a turn of up to ±15°;
- ``colour``: brightness, contrast and saturation each scaled by a factor in [0.7, 1.3].

Which changes are drawn comes from the lab's one :class:`core.data.augment.AugmentSpec` (none by default,
as on the page: a frozen body then trains on cached features); the strengths are this module's (the
spec's strengths and ``copies`` are for the Regularization page's precomputed copies; ``noise`` is not
drawn here).

Crop and rotation are one affine resampling (``F.affine_grid`` / ``F.grid_sample``, bilinear,
border pixels repeated).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.data.augment import AugmentSpec

MIN_ZOOM = 0.7
MAX_DEGREES = 15.0
COLOR_RANGE = 0.3


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of [B, 3, H, W] RGB → [B, 1, H, W], with the weights torchvision's rgb_to_grayscale uses."""
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def adjust_colors(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor,
                  saturation: torch.Tensor) -> torch.Tensor:
    """Per-image colour factors [B] applied in torchvision's order and formulas, clamped to [0, 1]:
    brightness x·b; contrast blend with the image's mean grey; saturation blend with its grey image."""
    view = (-1, 1, 1, 1)
    x = (x * brightness.view(view)).clamp(0, 1)
    mean = grayscale(x).mean((1, 2, 3), keepdim=True)
    c = contrast.view(view)
    x = (c * x + (1 - c) * mean).clamp(0, 1)
    s = saturation.view(view)
    return (s * x + (1 - s) * grayscale(x)).clamp(0, 1)


def affine_matrices(zoom: torch.Tensor, shift: torch.Tensor, degrees: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """[B, 2, 3] matrices for ``F.affine_grid`` that map output to input coordinates in [−1, 1]:
    look at a window ``zoom`` times the side, turned by ``degrees``, centred at ``shift`` [B, 2],
    mirrored left–right where ``flip``."""
    t = degrees * math.pi / 180
    cos, sin = torch.cos(t) * zoom, torch.sin(t) * zoom
    sign = 1 - 2 * flip.to(zoom.dtype)  # −1 mirrors the x axis
    row0 = torch.stack([cos * sign, -sin, shift[:, 0]], 1)
    row1 = torch.stack([sin * sign, cos, shift[:, 1]], 1)
    return torch.stack([row0, row1], 1)


class Augment(nn.Module):
    """Random flips, crops, turns and colour changes of a [B, 3, H, W] batch in [0, 1] (training mode only)."""

    def __init__(self, spec: AugmentSpec, seed: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.seed = seed
        self._gen: torch.Generator | None = None

    def _generator(self, device: torch.device) -> torch.Generator:
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device).manual_seed(self.seed)
        return self._gen

    def _uniform(self, n: int, lo: float, hi: float, like: torch.Tensor) -> torch.Tensor:
        u = torch.rand(n, generator=self._generator(like.device), device=like.device, dtype=like.dtype)
        return lo + (hi - lo) * u

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.spec.any:
            return x
        s, b = self.spec, len(x)
        if s.crop or s.rotate:
            zoom = self._uniform(b, MIN_ZOOM, 1.0, x) if s.crop else torch.ones(b, device=x.device, dtype=x.dtype)
            room = (1 - zoom).unsqueeze(1)  # the window may move as far as it stays inside the image
            shift = (self._uniform(2 * b, -1.0, 1.0, x).view(b, 2) * room) if s.crop else torch.zeros(b, 2, device=x.device, dtype=x.dtype)
            degrees = self._uniform(b, -MAX_DEGREES, MAX_DEGREES, x) if s.rotate else torch.zeros_like(zoom)
            flip = self._uniform(b, 0.0, 1.0, x) < 0.5 if s.flip else torch.zeros(b, dtype=torch.bool, device=x.device)
            theta = affine_matrices(zoom, shift, degrees, flip)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        elif s.flip:
            flip = self._uniform(b, 0.0, 1.0, x) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        if s.colour:
            lo, hi = 1 - COLOR_RANGE, 1 + COLOR_RANGE
            x = adjust_colors(x, self._uniform(b, lo, hi, x), self._uniform(b, lo, hi, x), self._uniform(b, lo, hi, x))
        return x

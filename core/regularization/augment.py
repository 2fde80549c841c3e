"""Data augmentation: modified copies of the training images (flip, rotate, crop, colour,
noise), added to a small training set to get more examples without collecting any.

Images are float tensors [N, C, H, W] with values in [0, 1]; every transform keeps the
shape and the range. Random draws come from an explicit ``torch.Generator``, so a preview
and a training with the same seed see the same copies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.data.augment import AUGMENTATIONS, AugmentSpec

__all__ = ["AUGMENTATIONS", "DEFAULT_TRANSFORMS", "DESCRIPTIONS", "AugmentSpec", "add_noise", "adjust_colour", "augment",
           "augment_spec", "augmented_training_set", "crop", "hflip", "preview", "rotate"]

DEFAULT_TRANSFORMS = ("rotate", "crop", "noise")
DESCRIPTIONS = {
    "flip": "mirror left-right (half of the copies)",
    "rotate": "turn by a random angle",
    "crop": "cut out a random square and scale it back up",
    "colour": "random brightness and contrast (grey images)",
    "noise": "add Gaussian pixel noise",
}


def augment_spec(transforms: Iterable[str] = DEFAULT_TRANSFORMS, **strengths: Any) -> AugmentSpec:
    """The page's augmentation: ``transforms`` (at least one, from :data:`AUGMENTATIONS`) at
    ``strengths`` (the other fields of :class:`AugmentSpec`)."""
    spec = AugmentSpec.of(transforms, **strengths)
    if not spec.any:
        raise ValueError("choose at least one transformation")
    return spec


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError("images must be a [N, C, H, W] tensor")


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror every image left-right: [N, C, H, W] → same shape."""
    _check(x)
    return x.flip(-1)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` [N, C, H, W] through the affine maps ``theta`` [N, 2, 3] (output →
    input, in normalised coordinates); outside the image counts as 0 (black)."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x: torch.Tensor, degrees: torch.Tensor | float) -> torch.Tensor:
    """Turn each image counter-clockwise by ``degrees`` (one per image, or one for all)
    about its centre (bilinear; corners that come from outside are black)."""
    _check(x)
    deg = torch.as_tensor(degrees, dtype=torch.float32).expand(len(x))
    rad = deg * (math.pi / 180)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(rad)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (N, 2, 3)
    return _affine(x, theta.to(x.device))


def crop(x: torch.Tensor, scale: torch.Tensor | float, cx: torch.Tensor | float = 0.0,
         cy: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Cut out a square window of ``scale`` × each side centred at (``cx``, ``cy``) (in
    [-1, 1], the image centre is 0) and stretch it back to the full size."""
    _check(x)
    n = len(x)
    s = torch.as_tensor(scale, dtype=torch.float32).expand(n)
    tx = torch.as_tensor(cx, dtype=torch.float32).expand(n)
    ty = torch.as_tensor(cy, dtype=torch.float32).expand(n)
    if (s <= 0).any() or (s > 1).any():
        raise ValueError("the crop scale must be in (0, 1]")
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([s, zero, tx], 1), torch.stack([zero, s, ty], 1)], 1)  # (N, 2, 3)
    return _affine(x, theta.to(x.device))


def adjust_colour(x: torch.Tensor, brightness: torch.Tensor | float = 0.0,
                  contrast: torch.Tensor | float = 1.0) -> torch.Tensor:
    """x' = clip((x − mean)·contrast + mean + brightness, 0, 1), with each image's own mean
    (one value per image, or one for all)."""
    _check(x)
    b = torch.as_tensor(brightness, dtype=x.dtype, device=x.device).expand(len(x)).view(-1, 1, 1, 1)
    c = torch.as_tensor(contrast, dtype=x.dtype, device=x.device).expand(len(x)).view(-1, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean + b).clamp(0, 1)


def add_noise(x: torch.Tensor, std: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """x + σ·ε with ε ~ N(0, 1) per pixel, clipped to [0, 1]."""
    _check(x)
    eps = torch.randn(x.shape, generator=gen).to(x.device, x.dtype)
    return (x + std * eps).clamp(0, 1)


def augment(x: torch.Tensor, spec: AugmentSpec, gen: torch.Generator) -> torch.Tensor:
    """One random modified copy of every image: the chosen transforms in the order flip,
    rotate, crop, colour, noise, each with its own random strength per image."""
    _check(x)
    n = len(x)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    out = x
    if "flip" in spec.transforms:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device).view(-1, 1, 1, 1)
        out = torch.where(flip, hflip(out), out)
    if "rotate" in spec.transforms:
        out = rotate(out, uniform(-spec.max_degrees, spec.max_degrees))
    if "crop" in spec.transforms:
        s = uniform(spec.crop_scale, 1.0)
        out = crop(out, s, (1 - s) * uniform(-1, 1), (1 - s) * uniform(-1, 1))
    if "colour" in spec.transforms:
        out = adjust_colour(out, uniform(-spec.brightness, spec.brightness), uniform(1 - spec.contrast, 1 + spec.contrast))
    if "noise" in spec.transforms:
        out = add_noise(out, spec.noise_std, gen)
    return out.clamp(0, 1)


def augmented_training_set(
    X: torch.Tensor, y: torch.Tensor, spec: AugmentSpec, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set with ``spec.copies`` modified copies of every image appended:
    [N(1 + copies), C, H, W] images and their (unchanged) labels."""
    gen = torch.Generator().manual_seed(seed)
    xs = [X] + [augment(X, spec, gen) for _ in range(spec.copies)]
    return torch.cat(xs), y.repeat(spec.copies + 1)


def preview(X: torch.Tensor, spec: AugmentSpec, n_examples: int = 4, seed: int = 0) -> np.ndarray:
    """The first ``n_examples`` images and their copies, exactly as
    :func:`augmented_training_set` makes them with the same seed: [rows, 1 + copies, C, H, W]."""
    _check(X)
    Xa, _ = augmented_training_set(X, torch.zeros(len(X), dtype=torch.long), spec, seed)
    n = len(X)
    rows = [Xa[i::n][: spec.copies + 1] for i in range(min(n_examples, n))]
    return torch.stack(rows).cpu().numpy()

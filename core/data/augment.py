"""Which data augmentation to apply, and how strong: the one :class:`AugmentSpec` of the lab.

Two engines read it: the Regularization page appends modified copies of a small image set
(:mod:`core.regularization.augment`, ``copies`` per image at the strengths below), and the Transfer
learning page draws one change per picture per step on the device, inside the network
(:mod:`core.transfer.augment`, at its own fixed strengths; it uses flip, crop, rotate and colour).
Each transformation is a switch, so a tracked run's params say ``augment.flip = true``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.settings import Settings, setting

AUGMENTATIONS = ("flip", "rotate", "crop", "colour", "noise")  # also the order they are applied in


@dataclass(frozen=True)
class AugmentSpec(Settings):
    """Which transforms to chain (none by default), how strong, and how many copies per training image."""

    flip: bool = setting(False, label="Mirror", widget="checkbox")
    rotate: bool = setting(False, label="Turn ±15°", widget="checkbox")
    crop: bool = setting(False, label="Zoom and crop", widget="checkbox")
    colour: bool = setting(False, label="Colour", widget="checkbox")
    noise: bool = setting(False, label="Noise", widget="checkbox")
    copies: int = setting(3, lo=1, hi=8, label="Copies per training image", widget="slider",
                          name="augmented copies per example")
    max_degrees: float = setting(15, lo=0, hi=60, label="Largest rotation (°)", widget="slider",
                                 name="the largest rotation (°)")
    # the crop keeps at least this fraction of each side
    crop_scale: float = setting(0.8, lo=0.5, hi=1.0, step=0.05, label="Crop keeps at least", widget="slider",
                                name="the share of each side the crop keeps")
    # added offset drawn from [-b, b]
    brightness: float = setting(0.2, lo=0.0, hi=0.5, step=0.05, label="Brightness change ±", widget="slider",
                                name="the brightness change")
    # contrast factor drawn from [1 - c, 1 + c]
    contrast: float = setting(0.3, lo=0.0, hi=0.9, step=0.05, label="Contrast change ±", widget="slider",
                              name="the contrast change")
    noise_std: float = setting(0.1, lo=0.0, hi=0.5, step=0.01, label="Noise σ", widget="slider", name="the noise σ")

    @classmethod
    def of(cls, transforms: Iterable[str], **strengths: Any) -> AugmentSpec:
        """The spec that switches on ``transforms`` (names from :data:`AUGMENTATIONS`)."""
        transforms = tuple(transforms)
        unknown = [t for t in transforms if t not in AUGMENTATIONS]
        if unknown:
            raise ValueError(f"unknown transformation(s): {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
        return cls(**{t: True for t in transforms}, **strengths)

    @property
    def transforms(self) -> tuple[str, ...]:
        """The transforms switched on, in the order they are applied."""
        return tuple(t for t in AUGMENTATIONS if getattr(self, t))

    @property
    def any(self) -> bool:
        return bool(self.transforms)

    @property
    def label(self) -> str:
        return f"{'+'.join(self.transforms)} ×{self.copies}"

    def describe(self) -> str:
        on = [n for n, v in (("mirror", self.flip), ("zoom/crop", self.crop), ("turn", self.rotate),
                             ("colour", self.colour), ("noise", self.noise)) if v]
        return ", ".join(on) if on else "none"

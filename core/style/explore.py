"""Compare two images the way style transfer does: their activations at a layer of VGG-19, their
Gram matrices, the content cost between them there, and the style cost at each of Gatys et al.'s
five style layers (the numbers behind the page's "Costs and Gram matrices" tab).

Image B is scaled and cropped to image A's shape (:func:`core.style.transfer.prepare_pair`) so that
every layer gives both images the same n_H × n_W grid and the costs are defined. B can first be
changed into a variant (blurred, mirrored, shifted, grey) to see which costs notice what.

Everything runs in float32 (no bf16): the page shows the numbers, so they should be the course's
formulas to the last digit that float32 keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from core.style import vgg
from core.style.costs import content_cost, gram_matrix, layer_style_cost_from_grams
from core.style.transfer import image_tensor, prepare_pair

VARIANTS = ("as it is", "blurred", "mirrored", "shifted", "grey")
"""What can be done to image B after it is cropped to A's shape: nothing; a Gaussian blur (radius 1 % of the longer side);
a left–right mirror; a circular shift by a third of its width; its grey values in all three channels."""

MIN_SIDE = 16  # four poolings halve the grid before conv5_1: a side of 16 px leaves it 1 × 1
SIZES = (64, 96, 128, 160, 192, 224, 256)
STYLE_WEIGHT = 1.0 / len(vgg.STYLE_LAYERS_GATYS)  # λ^[l] of each style layer, as in Gatys et al. (equal weights)


def layers_for(layer: str) -> tuple[str, ...]:
    """The layers :func:`compare` reads: ``layer`` and Gatys et al.'s five style layers, in network order."""
    vgg.check_layers([layer])
    wanted = {layer, *vgg.STYLE_LAYERS_GATYS}
    return tuple(name for name in vgg.LAYERS if name in wanted)


def extractor(features_module: torch.nn.Sequential, layer: str, pooling: str = "max") -> vgg.Extractor:
    """A VGG-19 extractor for :func:`compare` at ``layer`` (build it once and pass it to every call)."""
    return vgg.Extractor(features_module, layers_for(layer), pooling=pooling)


def variant(image: Image.Image, kind: str) -> Image.Image:
    """``image`` changed as ``kind`` (one of :data:`VARIANTS`) says; the size stays the same."""
    if kind not in VARIANTS:
        raise ValueError(f"the variant must be one of {', '.join(VARIANTS)}, got {kind!r}")
    image = image.convert("RGB")
    if kind == "blurred":
        return image.filter(ImageFilter.GaussianBlur(radius=max(1.0, max(image.size) / 100)))
    if kind == "mirrored":
        return ImageOps.mirror(image)
    if kind == "shifted":
        return Image.fromarray(np.roll(np.asarray(image), image.width // 3, axis=1))
    if kind == "grey":
        return image.convert("L").convert("RGB")
    return image.copy()


def prepare_comparison(image_a: Image.Image, image_b: Image.Image, size: int, kind: str = "as it is") -> tuple[Image.Image, Image.Image]:
    """A at ``size`` pixels on its longer side; B cover-cropped to A's shape, then changed as ``kind`` says."""
    if not 16 <= int(size) <= 1024:
        raise ValueError(f"the size must be between 16 and 1024 pixels, got {size}")
    a, b = prepare_pair(image_a, image_b, int(size))
    if min(a.size) < MIN_SIDE:
        raise ValueError(f"Image A is too narrow: at {size} px on its longer side it is {a.width}×{a.height} px, and "
                         f"VGG-19's fifth block needs at least {MIN_SIDE} px on each side; pick a larger size or another picture.")
    return a, variant(b, kind)


@dataclass(frozen=True)
class LayerCosts:
    """The two images compared at one layer: its shape and both costs between them."""

    layer: str
    n_c: int
    n_h: int
    n_w: int
    j_content: float  # ½ Σ (a^(A) − a^(B))²
    j_style: float  # 1/(2 n_H n_W n_C)² Σ (G^(A) − G^(B))²


@dataclass(frozen=True)
class StyleComparison:
    """Everything the page shows about two images at one layer, plus the style costs of the five style layers."""

    layer: str
    size: int
    kind: str  # the variant of B
    image_a: np.ndarray  # [H, W, 3] uint8: A as the network saw it
    image_b: np.ndarray  # [H, W, 3] uint8: B cropped to A's shape (and changed)
    acts_a: np.ndarray  # [n_C, n_H, n_W] float32 activations of A at ``layer``
    acts_b: np.ndarray
    gram_a: np.ndarray  # [n_C, n_C] float32
    gram_b: np.ndarray
    costs: tuple[LayerCosts, ...]  # ``layer`` and the five style layers, in network order

    def at(self, layer: str) -> LayerCosts:
        for row in self.costs:
            if row.layer == layer:
                return row
        raise KeyError(f"no costs for layer {layer!r}")

    @property
    def chosen(self) -> LayerCosts:
        return self.at(self.layer)

    @property
    def gram_sq_diff(self) -> float:
        """Σ_kk' (G^(A) − G^(B))² at the chosen layer (the sum inside its style cost)."""
        return float(np.sum((self.gram_a.astype(np.float64) - self.gram_b.astype(np.float64)) ** 2))

    @property
    def style_costs(self) -> dict[str, float]:
        """J_style^[l](A, B) of Gatys et al.'s five style layers."""
        return {name: self.at(name).j_style for name in vgg.STYLE_LAYERS_GATYS}

    @property
    def j_style(self) -> float:
        """J_style(A, B) = Σ_l λ^[l] J_style^[l](A, B) with equal weights λ = 1/5."""
        return sum(STYLE_WEIGHT * j for j in self.style_costs.values())


def compare(image_a: Image.Image, image_b: Image.Image, layer: str, size: int, *, kind: str = "as it is",
            extractor_module: vgg.Extractor | None = None,
            features_module: torch.nn.Sequential | None = None) -> StyleComparison:
    """Compare A and B (B cropped to A's shape and changed as ``kind`` says) at ``layer`` and the style layers.

    Pass ``extractor_module`` (from :func:`extractor` for this ``layer``) to reuse one, or
    ``features_module`` (a VGG-19 features module) to build one here; with neither, VGG-19 comes from
    :func:`core.style.transfer.features` without any download (random weights when the file is missing).
    """
    a, b = prepare_comparison(image_a, image_b, size, kind)
    if extractor_module is None:
        if features_module is None:
            from core.style.transfer import features

            features_module = features(allow_download=False)[0]
        extractor_module = extractor(features_module, layer)
    missing = [name for name in layers_for(layer) if name not in extractor_module.layers]
    if missing:
        raise ValueError(f"the extractor does not give the layer {missing[0]}")
    x = torch.cat([image_tensor(a), image_tensor(b)])  # [2, 3, H, W]: A and B in one batch
    with torch.no_grad():
        acts = extractor_module(x)
    rows = []
    for name in layers_for(layer):
        act = acts[name].float()
        n_c, n_h, n_w = act.shape[-3:]
        grams = gram_matrix(act)  # [2, C, C]
        rows.append(LayerCosts(
            layer=name, n_c=int(n_c), n_h=int(n_h), n_w=int(n_w),
            j_content=float(content_cost(act[0], act[1])),
            j_style=float(layer_style_cost_from_grams(grams[0], grams[1], n_c, n_h, n_w)),
        ))
    chosen = acts[layer].float()
    grams = gram_matrix(chosen)
    return StyleComparison(
        layer=layer, size=int(size), kind=kind, image_a=np.asarray(a), image_b=np.asarray(b),
        acts_a=chosen[0].numpy(), acts_b=chosen[1].numpy(), gram_a=grams[0].numpy(), gram_b=grams[1].numpy(),
        costs=tuple(rows),
    )


def strongest_channels(comparison: StyleComparison, how: str = "A", count: int = 4) -> list[int]:
    """``count`` channels to show as feature maps: the most active on A (``how="A"``) or on B (``"B"``) by
    their Gram diagonal G_kk (the energy Σ a²), or those whose energies differ most between A and B (``"differ"``)."""
    energy_a, energy_b = np.diag(comparison.gram_a), np.diag(comparison.gram_b)
    if how == "A":
        score = energy_a
    elif how == "B":
        score = energy_b
    elif how == "differ":
        score = np.abs(energy_a - energy_b)
    else:
        raise ValueError(f"how must be 'A', 'B' or 'differ', got {how!r}")
    return [int(k) for k in np.argsort(-score, kind="stable")[:count]]

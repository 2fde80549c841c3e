"""The learner's own classes: limits, the built-in example sets, preprocessing and the dev split.

A class set is a mapping ``name -> list of PIL RGB images`` (what the page collects from uploads and
the camera, already decoded and scaled down by :func:`core.data.images.decode_image`).
:func:`check_classes` lists every problem in plain sentences; :func:`prepare` turns a valid set
into tensors [N, 3, S, S] in [0, 1] with a stratified train/dev split (every class is in both).

Preprocessing (:func:`to_tensor`) is the usual ImageNet evaluation transform, also used for
predictions and described in the export's README: scale the shorter side to S (bilinear with
antialiasing), cut the centre S×S square, scale pixels to [0, 1].

The example sets need no upload and no internet: three **textures** cut from scikit-image's
brick, grass and gravel photographs (random windows, scales, turns and brightness), and three
drawn **shapes** (circle, square, triangle) in random colours, sizes and places on cluttered
backgrounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageDraw, ImageOps

MIN_CLASSES, MAX_CLASSES = 2, 10
MIN_IMAGES_PER_CLASS = 4  # at least one for the dev set and three to learn from
MAX_IMAGES_PER_CLASS = 60
MAX_NAME_LENGTH = 40
STORE_SIDE = 320  # uploads are kept at most this large on their longer side (memory stays bounded)
EXAMPLE_SETS = ("Textures: brick, grass, gravel", "Shapes: circle, square, triangle")
EXAMPLE_PER_CLASS = 20


@dataclass
class TransferData:
    """Tensors of one class set, split into train and dev."""

    names: tuple[str, ...]
    train: tuple[torch.Tensor, torch.Tensor]  # [N, 3, S, S] in [0, 1], [N] class indices
    dev: tuple[torch.Tensor, torch.Tensor]
    dev_index: list[tuple[int, int]]  # (class, image number within the class) of each dev example

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[1]), "dev": len(self.dev[1])}


def check_classes(classes: Mapping[str, Sequence[Image.Image]]) -> list[str]:
    """Every reason the set cannot be trained yet, one plain sentence each (empty when it can)."""
    problems: list[str] = []
    names = list(classes)
    if len(names) < MIN_CLASSES:
        problems.append(f"Add at least {MIN_CLASSES} classes (there {'is' if len(names) == 1 else 'are'} {len(names)}).")
    if len(names) > MAX_CLASSES:
        problems.append(f"Use at most {MAX_CLASSES} classes (there are {len(names)}).")
    seen: set[str] = set()
    for name in names:
        problem = check_name(name, seen)
        if problem:
            problems.append(problem)
        seen.add(name.strip().casefold())
    for name, images in classes.items():
        n = len(images)
        if n < MIN_IMAGES_PER_CLASS:
            problems.append(f"Class “{name}” has {n} image{'s' if n != 1 else ''}; it needs at least "
                            f"{MIN_IMAGES_PER_CLASS} (one is kept aside to check the network).")
        elif n > MAX_IMAGES_PER_CLASS:
            problems.append(f"Class “{name}” has {n} images; the lab takes at most {MAX_IMAGES_PER_CLASS} per class.")
    return problems


def check_name(name: str, taken: set[str] = frozenset()) -> str | None:
    """Why ``name`` cannot name a class (``taken``: casefolded names already used), or ``None``."""
    clean = name.strip()
    if not clean:
        return "A class needs a name."
    if len(clean) > MAX_NAME_LENGTH:
        return f"Class names are at most {MAX_NAME_LENGTH} characters (“{clean[:20]}…” is longer)."
    if any(not ch.isprintable() for ch in clean):
        return f"The class name “{clean!r}” holds characters that cannot be shown."
    if clean.casefold() in taken:
        return f"There is already a class called “{clean}”."
    return None


def to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """[3, size, size] in [0, 1]: shorter side scaled to ``size``, centre square cut (ImageNet's eval transform)."""
    if size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {size}")
    image = image.convert("RGB")
    resized = TF.resize(image, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.to_tensor(TF.center_crop(resized, [size, size]))


def stack(images: Sequence[Image.Image], size: int) -> torch.Tensor:
    return torch.stack([to_tensor(im, size) for im in images]) if images else torch.zeros(0, 3, size, size)


def split_indices(counts: Sequence[int], dev_fraction: float, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Stratified split of (class, image) pairs: per class ``max(1, round(fraction·n))`` dev images,
    at least one left to train on; shuffled with ``seed``."""
    if not 0 < dev_fraction < 1:
        raise ValueError(f"the dev fraction must be between 0 and 1, got {dev_fraction}")
    gen = np.random.default_rng(seed)
    train: list[tuple[int, int]] = []
    dev: list[tuple[int, int]] = []
    for c, n in enumerate(counts):
        if n < 2:
            raise ValueError(f"class {c} has {n} image(s); a split needs at least 2")
        order = gen.permutation(n).tolist()
        n_dev = min(max(1, round(dev_fraction * n)), n - 1)
        dev += [(c, i) for i in sorted(order[:n_dev])]
        train += [(c, i) for i in sorted(order[n_dev:])]
    return train, dev


def prepare(classes: Mapping[str, Sequence[Image.Image]], size: int, dev_fraction: float = 0.25,
            seed: int = 0) -> TransferData:
    """Tensors and a stratified train/dev split of a valid class set (``ValueError`` listing the problems otherwise)."""
    problems = check_classes(classes)
    if problems:
        raise ValueError(" ".join(problems))
    names = tuple(n.strip() for n in classes)
    images = list(classes.values())
    train_idx, dev_idx = split_indices([len(v) for v in images], dev_fraction, seed)

    def tensors(pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        X = stack([images[c][i] for c, i in pairs], size)
        y = torch.tensor([c for c, _ in pairs], dtype=torch.long)
        return X, y

    return TransferData(names, tensors(train_idx), tensors(dev_idx), dev_idx)


# ------------------------------------------------------------------------------------ example sets


def example_set(name: str = EXAMPLE_SETS[0], per_class: int = EXAMPLE_PER_CLASS, seed: int = 0,
                side: int = 160) -> dict[str, list[Image.Image]]:
    """A built-in class set (``per_class`` images of ``side`` pixels per class), different for each ``seed``."""
    if name not in EXAMPLE_SETS:
        raise ValueError(f"unknown example set {name!r}: choose one of {', '.join(EXAMPLE_SETS)}")
    if not 1 <= per_class <= MAX_IMAGES_PER_CLASS:
        raise ValueError(f"per_class must be between 1 and {MAX_IMAGES_PER_CLASS}, got {per_class}")
    rng = np.random.default_rng(seed)
    if name == EXAMPLE_SETS[0]:
        return {cls: [_texture_crop(photo, rng, side) for _ in range(per_class)] for cls, photo in _textures().items()}
    return {cls: [_shape_image(cls, rng, side) for _ in range(per_class)] for cls in ("circle", "square", "triangle")}


def _textures() -> dict[str, np.ndarray]:
    import skimage.data  # the three photographs ship inside scikit-image

    return {"brick": skimage.data.brick(), "grass": skimage.data.grass(), "gravel": skimage.data.gravel()}


def _texture_crop(photo: np.ndarray, rng: np.random.Generator, side: int) -> Image.Image:
    h, w = photo.shape[:2]
    window = int(rng.integers(min(h, w) // 4, min(h, w) // 2 + 1))
    top, left = int(rng.integers(0, h - window + 1)), int(rng.integers(0, w - window + 1))
    crop = Image.fromarray(photo[top : top + window, left : left + window]).convert("RGB")
    crop = crop.rotate(90 * int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        crop = ImageOps.mirror(crop)
    crop = crop.resize((side, side), Image.Resampling.BILINEAR)
    gain = float(rng.uniform(0.75, 1.25))
    return Image.fromarray(np.clip(np.asarray(crop, dtype=np.float32) * gain, 0, 255).astype(np.uint8))


def _color(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def _shape_image(kind: str, rng: np.random.Generator, side: int) -> Image.Image:
    img = Image.new("RGB", (side, side), _color(rng, 40, 220))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):  # clutter: thin lines and dots that belong to no class
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, side, 4))
        if rng.random() < 0.5:
            draw.line((x0, y0, x1, y1), fill=_color(rng), width=int(rng.integers(1, 4)))
        else:
            r = int(rng.integers(2, 5))
            draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=_color(rng))
    size = float(rng.uniform(0.3, 0.6)) * side
    cx, cy = (float(v) for v in rng.uniform(size / 2 + 2, side - size / 2 - 2, 2))
    fill = _color(rng)
    if kind == "circle":
        draw.ellipse((cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), fill=fill)
    else:
        corners = 4 if kind == "square" else 3
        turn = float(rng.uniform(0, 2 * math.pi))
        radius = size / 2 * (math.sqrt(2) if corners == 4 else 1.15)
        points = [(cx + radius * math.cos(turn + 2 * math.pi * k / corners) * 0.85,
                   cy + radius * math.sin(turn + 2 * math.pi * k / corners) * 0.85) for k in range(corners)]
        draw.polygon(points, fill=fill)
    return img

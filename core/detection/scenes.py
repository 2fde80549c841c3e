"""Synthetic detection scenes: coloured shapes on a cluttered background, with exact boxes.

Each scene is an RGB image with a few shapes (circles, squares, triangles, …) of random size, colour
and position, partly overlapping, over a background with an optional colour gradient, faint
distractor strokes and pixel noise. The boxes are the shapes' true extents: each box is the
tightest xyxy box around the pixels its shape covers (pixel (row i, col j) spans [j, j+1) × [i, i+1)),
computed before later shapes are painted over it, so a partly hidden shape keeps its whole box, as
in hand-labelled data sets.

Everything is NumPy with masks computed on each shape's own patch, so a thousand 64×64 scenes take
a fraction of a second. A scene depends only on the ``numpy.random.Generator`` it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from core.detection.boxes import iou

__all__ = ["DEFAULT_CLASSES", "SHAPES", "make_dataset", "make_scene"]

SHAPES = ("circle", "square", "triangle", "rectangle", "ellipse")
"""Shapes a scene can contain (its classes are a selection of these, in the order given)."""

DEFAULT_CLASSES = ("circle", "square", "triangle")

_MIN_CONTRAST = 0.4  # a shape's colour differs from the background colour by at least this in one channel
_PLACEMENT_TRIES = 30


def _check_range(value: int | Sequence[int], name: str, lo: int, hi: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or any(int(v) != v for v in pair):
        raise ValueError(f"{name} must be a whole number or a (min, max) pair of whole numbers, got {value!r}")
    a, b = int(pair[0]), int(pair[1])
    if not lo <= a <= b <= hi:
        raise ValueError(f"{name} must satisfy {lo} <= min <= max <= {hi}, got {value!r}")
    return a, b


def _check_args(size: int, n_objects, classes: Sequence[str], clutter: float, noise: float,
                object_size: tuple[float, float], max_overlap: float) -> tuple[int, int]:
    if int(size) != size or size < 16:
        raise ValueError(f"the image size must be a whole number of at least 16 pixels, got {size}")
    counts = _check_range(n_objects, "n_objects", 0, 20)
    if not classes:
        raise ValueError("there must be at least one class")
    unknown = [c for c in classes if c not in SHAPES]
    if unknown:
        raise ValueError(f"unknown shape {unknown[0]!r}: choose from {', '.join(SHAPES)}")
    if len(set(classes)) != len(classes):
        raise ValueError("each class may appear only once")
    if not 0 <= clutter <= 1:
        raise ValueError(f"clutter must be between 0 and 1, got {clutter}")
    if not 0 <= noise <= 0.5:
        raise ValueError(f"noise must be between 0 and 0.5, got {noise}")
    lo, hi = object_size
    if not 0 < lo <= hi <= 0.9 or lo * size < 4:
        raise ValueError(f"object_size must be (min, max) fractions of the image with 0 < min <= max <= 0.9 "
                         f"and min at least 4 pixels, got {object_size}")
    if not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be between 0 and 1, got {max_overlap}")
    return counts


def _shape_extent(rng: np.random.Generator, shape: str, s: float) -> tuple[float, float, dict]:
    """Width, height and drawing parameters of a shape whose longer side is about ``s`` pixels."""
    if shape in ("circle", "square"):
        return s, s, {}
    if shape in ("rectangle", "ellipse"):
        short = s / rng.uniform(1.6, 2.6)
        return (s, short, {}) if rng.random() < 0.5 else (short, s, {})
    # triangle: isosceles, apex up or down, width/height ratio between 0.8 and 1.25
    ratio = rng.uniform(0.8, 1.25)
    w, h = (s, s / ratio) if ratio >= 1 else (s * ratio, s)
    return w, h, {"up": bool(rng.random() < 0.5)}


def _shape_mask(shape: str, x0: float, y0: float, w: float, h: float, params: dict) -> tuple[np.ndarray, int, int]:
    """Boolean mask of a shape occupying [x0, x0 + w] × [y0, y0 + h], on the pixel patch that can hold it.

    Returns (mask [rows, cols], first column, first row); a pixel is in when its centre is in the shape.
    """
    c0, r0 = int(np.floor(x0)), int(np.floor(y0))
    c1, r1 = int(np.ceil(x0 + w)), int(np.ceil(y0 + h))
    xs = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5 - x0  # (1, cols) relative to the shape's corner
    ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5 - y0  # (rows, 1)
    if shape in ("square", "rectangle"):
        mask = ((xs >= 0) & (xs <= w)) & ((ys >= 0) & (ys <= h))
    elif shape in ("circle", "ellipse"):
        mask = ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2 <= 1.0
    else:  # triangle with apex at (w/2, 0) (up) or (w/2, h) (down)
        depth = ys if params["up"] else h - ys  # distance from the apex row
        mask = (depth >= 0) & (depth <= h) & (np.abs(xs - w / 2) <= depth * (w / 2) / h)
    return mask, c0, r0


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    candidates = rng.uniform(0.0, 1.0, (8, 3)).astype(np.float32)
    ok = np.abs(candidates - background).max(axis=1) >= _MIN_CONTRAST
    if ok.any():
        return candidates[np.argmax(ok)]
    return np.where(background > 0.5, background - 0.45, background + 0.45).astype(np.float32)


def _overlap_too_big(box: np.ndarray, boxes: list[np.ndarray], max_overlap: float) -> bool:
    """Whether ``box`` covers more than ``max_overlap`` of the smaller of itself and a placed box."""
    if not boxes:
        return False
    others = np.array(boxes, dtype=np.float32)
    wh = np.clip(np.minimum(box[2:], others[:, 2:]) - np.maximum(box[:2], others[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    smaller = np.minimum(areas, (box[2] - box[0]) * (box[3] - box[1]))
    return bool((inter > max_overlap * smaller).any())


def _add_clutter(rng: np.random.Generator, image: np.ndarray, background: np.ndarray, clutter: float) -> None:
    """A colour gradient and faint straight strokes, painted in place on ``image`` [3, H, W]."""
    _, height, width = image.shape
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-12
    ramp = (direction[0] * (np.arange(width)[None, :] / width - 0.5)
            + direction[1] * (np.arange(height)[:, None] / height - 0.5))  # (H, W) in about [-0.7, 0.7]
    image += (0.2 * clutter * ramp)[None].astype(np.float32) * rng.choice([-1.0, 1.0], size=(3, 1, 1)).astype(np.float32)
    rows = np.arange(height, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(width, dtype=np.float32)[None, :] + 0.5
    for _ in range(rng.poisson(8 * clutter)):
        p = rng.uniform(0, [width, height]).astype(np.float32)
        q = p + rng.normal(0, width / 6, size=2).astype(np.float32)
        d = q - p
        t = np.clip(((cols - p[0]) * d[0] + (rows - p[1]) * d[1]) / max(float(d @ d), 1e-6), 0, 1)
        near = (cols - p[0] - t * d[0]) ** 2 + (rows - p[1] - t * d[1]) ** 2 <= 0.36  # within 0.6 px
        shade = np.clip(background + rng.uniform(-0.2, 0.2, 3), 0, 1).astype(np.float32)
        image[:, near] = shade[:, None]


def make_scene(rng: np.random.Generator | int, size: int = 64, n_objects: int | tuple[int, int] = (1, 4),
               classes: Sequence[str] = DEFAULT_CLASSES, clutter: float = 0.5, noise: float = 0.03,
               object_size: tuple[float, float] = (0.15, 0.45), max_overlap: float = 0.35) -> tuple[Tensor, Tensor, Tensor]:
    """One synthetic scene: ``(image, boxes, labels)``.

    ``rng``: a ``numpy.random.Generator`` (advanced by the call) or an int seed.
    ``image``: float32 [3, size, size] in [0, 1]; ``boxes``: float32 [K, 4] xyxy in pixels (each shape's
    true extent); ``labels``: int64 [K], indices into ``classes`` (names from :data:`SHAPES`).

    ``n_objects``: a count or a (min, max) range (K can come out lower when a shape finds no free place);
    ``clutter`` in [0, 1]: strength of the background gradient and number of faint strokes (0 = plain
    background); ``noise``: standard deviation of the Gaussian pixel noise; ``object_size``: (min, max)
    longer side of a shape as a fraction of ``size``; ``max_overlap``: largest share of the smaller of
    two boxes that they may cover together. Shapes' colours contrast with the background colour.
    """
    lo, hi = _check_args(size, n_objects, classes, clutter, noise, object_size, max_overlap)
    rng = np.random.default_rng(rng)  # a Generator is used as is; an int seeds a new one
    background = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    image = np.empty((3, size, size), dtype=np.float32)
    image[:] = background[:, None, None]
    if clutter > 0:
        _add_clutter(rng, image, background, clutter)
    boxes: list[np.ndarray] = []
    labels: list[int] = []
    for _ in range(int(rng.integers(lo, hi + 1))):
        label = int(rng.integers(len(classes)))
        s = rng.uniform(*object_size) * size
        w, h, params = _shape_extent(rng, classes[label], s)
        w, h = min(w, size - 2.0), min(h, size - 2.0)
        for _try in range(_PLACEMENT_TRIES):
            x0, y0 = rng.uniform(1.0, size - 1.0 - w), rng.uniform(1.0, size - 1.0 - h)
            mask, c0, r0 = _shape_mask(classes[label], x0, y0, w, h, params)
            rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            if rows.size == 0:
                continue
            box = np.array([c0 + cols[0], r0 + rows[0], c0 + cols[-1] + 1, r0 + rows[-1] + 1], dtype=np.float32)
            if _overlap_too_big(box, boxes, max_overlap):
                continue
            colour = _contrasting_colour(rng, background)
            patch = image[:, r0:r0 + mask.shape[0], c0:c0 + mask.shape[1]]
            patch[:, mask] = colour[:, None]
            boxes.append(box)
            labels.append(label)
            break
    if noise > 0:
        image += noise * rng.standard_normal(image.shape, dtype=np.float32)
    np.clip(image, 0.0, 1.0, out=image)
    box_t = torch.from_numpy(np.array(boxes, dtype=np.float32).reshape(-1, 4))
    return torch.from_numpy(image), box_t, torch.tensor(labels, dtype=torch.int64)


def make_dataset(n: int, seed: int, size: int = 64, **scene_kw) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``n`` scenes from :func:`make_scene` with one generator seeded by ``seed`` (same seed → same data).

    Returns ``(images, boxes, labels)``: images float32 [n, 3, size, size]; boxes a list of n float32
    [K_i, 4] xyxy tensors; labels a list of n int64 [K_i] tensors. ``scene_kw`` go to :func:`make_scene`.
    """
    if int(n) != n or n < 0:
        raise ValueError(f"the number of scenes must be a whole number of at least 0, got {n}")
    rng = np.random.default_rng(seed)
    images = torch.empty((int(n), 3, size, size), dtype=torch.float32)
    boxes: list[Tensor] = []
    labels: list[Tensor] = []
    for i in range(int(n)):
        images[i], b, lab = make_scene(rng, size=size, **scene_kw)
        boxes.append(b)
        labels.append(lab)
    return images, boxes, labels


WRONG_CLASS = 0.15  # share of candidate boxes that name another class (what per-class NMS keeps apart)


def candidate_boxes(seed: int, per_object: int, size: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A scene and candidate boxes around its objects, as a detector before NMS would give them.

    Each object gets ``per_object`` jittered copies of its box whose score grows with their IoU with
    the true box (plus noise); a few name another class, and two low-scoring boxes land on the
    background. Boxes are rounded to 0.1 px and scores to 0.001 (all distinct), sorted by decreasing
    score. Returns ``(image [H, W, 3], boxes [N, 4], scores [N], labels [N])`` as NumPy arrays.
    """
    image, truth, truth_labels = make_scene(int(seed), size=size, n_objects=(2, 4), classes=DEFAULT_CLASSES,
                                            clutter=0.3, object_size=(0.22, 0.45), max_overlap=0.5)
    rng = np.random.default_rng(10_000 + int(seed))
    boxes, scores, labels = [], [], []
    for gt, label in zip(truth.double().numpy(), truth_labels.tolist()):
        w, h = gt[2] - gt[0], gt[3] - gt[1]
        for k in range(per_object):
            spread = 0.04 if k == 0 else 0.13
            b = gt + rng.normal(0, spread, 4) * np.array([w, h, w, h])
            b = np.clip(np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]), 0, size)
            overlap = float(iou(torch.from_numpy(b[None]), torch.from_numpy(gt[None]))[0, 0])
            boxes.append(b)
            scores.append(np.clip(0.25 + 0.7 * overlap + rng.normal(0, 0.06), 0.02, 0.99))
            wrong = k > 0 and rng.random() < WRONG_CLASS
            labels.append(int((label + rng.integers(1, len(DEFAULT_CLASSES))) % len(DEFAULT_CLASSES)) if wrong else label)
    for _ in range(2):  # background false positives
        c = rng.uniform(0.15, 0.85, 2) * size
        s = rng.uniform(0.1, 0.25, 2) * size
        boxes.append(np.clip(np.concatenate([c - s / 2, c + s / 2]), 0, size))
        scores.append(rng.uniform(0.1, 0.4))
        labels.append(int(rng.integers(len(DEFAULT_CLASSES))))
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes_a = np.round(np.asarray(boxes)[order], 1)
    scores_a = np.round(np.asarray(scores)[order], 3)
    for i in range(1, len(scores_a)):  # distinct scores: no ties for NMS to break
        if scores_a[i] >= scores_a[i - 1]:
            scores_a[i] = round(scores_a[i - 1] - 0.001, 3)
    return image.permute(1, 2, 0).numpy(), boxes_a, scores_a, np.asarray(labels)[order]

"""The renderer of the pictures a run logs: every PNG a tracked run keeps (MLflow's UI and the Runs
page show PNGs anywhere, offline too) is drawn here, and nowhere else in the engine. A run is handed
this module (``TrackedRun.renderer``) and the engine asks it for a picture through the run
(``run.log_curves``, ``run.log_confusion``, ``run.log_tiles``), so training code never draws.

Figures use Matplotlib's Agg backend on a canvas of their own and return an RGB array; colours come
from :mod:`core.colors`. :func:`tile` is the lab's one image tiler and :func:`confusion` its one
confusion-matrix picture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def png_bytes(image: np.ndarray) -> bytes:
    """An [H, W] or [H, W, 3] uint8 array as PNG file bytes (for downloads and inline images)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def curves_png(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "loss",
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
) -> np.ndarray:
    """Lines ``name -> (x, y)`` on one set of axes; returns an [H, W, 3] uint8 image.

    Non-finite points are dropped; with ``log_y`` non-positive points are dropped too.
    With ``smoothing`` in (0, 1) each line is drawn faint and its debiased EMA on top.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from core.runs import smooth

    fig = Figure(figsize=(7, 3.6), dpi=110)
    canvas = FigureCanvasAgg(fig)  # an off-screen canvas of its own: no global backend switch
    ax = fig.add_subplot()
    for name, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.isfinite(y) & ((y > 0) if log_y else True)
        x, y = x[keep], y[keep]
        color = (colors or {}).get(name)
        if smoothing > 0 and len(y) > 2:
            (raw,) = ax.plot(x, y, lw=0.8, alpha=0.25, color=color)
            ax.plot(x, smooth(y, smoothing), lw=1.8, label=name, color=raw.get_color())
        else:
            ax.plot(x, y, lw=1.6, label=name, color=color)
    if log_y:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(series) > 1:
        ax.legend(frameon=False)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def confusion_png(counts: np.ndarray, classes: Sequence[str], *, title: str = "Confusion matrix (dev set)") -> np.ndarray:
    """A [K, K] count matrix (rows = true class, columns = predicted) as an annotated
    heatmap; returns an [H, W, 3] uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(counts)
    k = len(classes)
    side = 3.2 + 0.45 * k
    fig = Figure(figsize=(side, side), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    top = counts.max() or 1
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if counts[i, j] > top / 2 else "black")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 10 or max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set(title=title, xlabel="predicted", ylabel="true")
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def image_grid(images: np.ndarray, cols: int = 8, pad: int = 2, *, background: float = 1.0,
               border: bool = True) -> np.ndarray:
    """[n, H, W(, 3)] images in [0, 1] → one tiled picture (row by row, at most ``cols`` a row) with
    ``pad`` pixels of ``background`` between the tiles, and around them with ``border``."""
    images = np.asarray(images, np.float32)
    n = len(images)
    if n == 0:
        return np.zeros((1, 1), np.float32)
    if cols < 1:
        raise ValueError("a grid needs at least one column")
    h, w = images.shape[1:3]
    rows, edge = -(-n // cols), (pad if border else 0)
    shape = (rows * (h + pad) - pad + 2 * edge, min(n, cols) * (w + pad) - pad + 2 * edge) + images.shape[3:]
    grid = np.full(shape, background, np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        y, x = edge + r * (h + pad), edge + c * (w + pad)
        grid[y: y + h, x: x + w] = img
    return grid


# --------------------------------------------------------------------------- object detection (boxes on images)


def _class_rgb(label: int) -> tuple[int, int, int]:
    """The colour of class ``label`` as RGB (:func:`core.colors.color`, the one the detection charts use)."""
    from PIL import ImageColor

    from core.colors import color

    return ImageColor.getrgb(color(label))[:3]


def annotate_boxes(image, dets, names: Sequence[str] | None = None):
    """A copy of the PIL ``image`` (RGB) with each box of ``dets`` (a
    :class:`core.detection.boxes.Detections`) drawn in its class colour and labelled "name score".

    ``names`` maps label ids to names (default: the names the detections carry, else the ids). Line
    width and font size grow with the image; the label sits on a filled tag above the box (inside it
    when the box touches the top edge), in black or white, whichever reads better on the colour.
    Returns a PIL image."""
    from PIL import ImageDraw, ImageFont

    out = image.convert("RGB").copy()
    if len(dets) == 0:
        return out
    w, h = out.size
    side = min(w, h)
    width = max(2, round(side / 250))
    font = ImageFont.load_default(size=max(11, round(side / 38)))
    draw = ImageDraw.Draw(out)
    ids = dets.labels.tolist()
    if names is not None:
        labels = [names[i] if 0 <= i < len(names) else str(i) for i in ids]
    else:
        labels = list(dets.names) if dets.names else [str(i) for i in ids]
    # draw the weakest first so the strongest boxes and tags end up on top
    for i in reversed(range(len(dets))):
        x1, y1, x2, y2 = dets.boxes[i].tolist()
        colour = _class_rgb(int(ids[i]))
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{labels[i]} {float(dets.scores[i]):.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        pad = max(2, width)
        tag_h = th + 2 * pad
        ty = y1 - tag_h if y1 - tag_h >= 0 else y1  # above the box, else inside it
        tx = min(max(0.0, x1), max(0.0, w - tw - 2 * pad))
        draw.rectangle((tx, ty, tx + tw + 2 * pad, ty + tag_h), fill=colour)
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        draw.text((tx + pad - left, ty + pad - top), text, fill=(0, 0, 0) if luminance > 140 else (255, 255, 255), font=font)
    return out


def detection_scene(image, classes: Sequence[str], grid=None, detections=None, truth=None, scale: int = 4):
    """A scene enlarged ``scale`` times (nearest neighbour) with the YOLO grid's cell lines (when ``grid``,
    a :class:`core.detection.yolo.GridSpec`), ``detections`` drawn by :func:`annotate_boxes` ("class score"
    tags, class colours) and/or the ground truth ``truth = (boxes [G, 4], labels [G])`` as thin outlines
    labelled with the class name. ``image``: [H, W, 3] or [3, H, W] (array or tensor), values in [0, 1].
    Returns a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"the image must be [H, W, 3] or [3, H, W], got {list(arr.shape)}")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"the scale must be a whole number of at least 1, got {scale}")
    h, w = arr.shape[:2]
    pil = Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8)).resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(pil)
    if grid is not None:
        cell_h, cell_w = grid.cell_size
        for k in range(1, grid.S):
            x, y = round(k * cell_w * scale), round(k * cell_h * scale)
            draw.line((x, 0, x, h * scale), fill=(255, 255, 255), width=1)
            draw.line((0, y, w * scale, y), fill=(255, 255, 255), width=1)
    if truth is not None:
        font = ImageFont.load_default(size=11)
        for box, label in zip(truth[0].tolist(), truth[1].tolist()):
            x1, y1, x2, y2 = (v * scale for v in box)
            colour = _class_rgb(int(label))
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=1)
            draw.text((x1 + 2, y1 + 1), classes[int(label)], fill=colour, font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    if detections is not None and len(detections.scores):
        scaled = type(detections)(detections.boxes.float() * scale, detections.scores.float(), detections.labels.long())
        pil = annotate_boxes(pil, scaled, classes)
    return pil


def detection_examples(examples: Sequence, classes: Sequence[str], grid, scale: int = 4):
    """One picture with a row per held-out scene (a :class:`core.detection.training.SceneExample`):
    ground truth | before NMS | after NMS, the grid drawn on each. Returns a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    if not examples:
        raise ValueError("there are no scenes to draw")
    font = ImageFont.load_default(size=13)
    panels = [[detection_scene(e.image, classes, grid, truth=(e.truth_boxes, e.truth_labels), scale=scale),
               detection_scene(e.image, classes, grid, e.raw, scale=scale),
               detection_scene(e.image, classes, grid, e.kept, scale=scale)] for e in examples]
    pw, ph = panels[0][0].size
    pad, header = 6, 22
    sheet = Image.new("RGB", (3 * pw + 4 * pad, header + len(panels) * (ph + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(("ground truth", "before NMS", "after NMS")):
        draw.text((pad + c * (pw + pad), 4), title, fill=(0, 0, 0), font=font)
    for r, row in enumerate(panels):
        for c, panel in enumerate(row):
            sheet.paste(panel, (pad + c * (pw + pad), header + r * (ph + pad)))
    return sheet


def decision_image(probs: np.ndarray, colors: Sequence[tuple[int, int, int]], strength: float = 0.6,
                   discretize: bool = False) -> np.ndarray:
    """The playground's decision map: class probabilities [R, R, K] over a grid (row 0 = lowest y) as an
    [R, R, 3] uint8 image in the same orientation — white where the network hesitates, a pale version of the
    winning class's colour where it is sure (the confidence above chance, times ``strength``, sets the
    saturation, so points in full colour stay visible on top). With ``discretize`` every pixel takes its
    class's pale colour outright (the boundary only). NaN (a diverged network) is white."""
    probs = np.asarray(probs)
    k = probs.shape[-1]
    probs = np.nan_to_num(probs, nan=1.0 / k)
    pmax, arg = probs.max(-1), probs.argmax(-1)
    conf = np.ones_like(pmax) if discretize else np.clip((pmax - 1 / k) / (1 - 1 / k), 0, 1)
    conf = strength * conf[..., None]
    col = np.asarray(colors[:k], dtype=np.float32)[arg]
    return (255 * (1 - conf) + col * conf).round().astype(np.uint8)


def decision_map_png(probs: np.ndarray, colors: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """:func:`decision_image` as a picture (its top row is the highest y), for a run's logged map."""
    return decision_image(probs, colors)[::-1]


def heatmap_overlay(view, heatmap: np.ndarray, strength: float = 0.5, colormap: str = "inferno"):
    """A class activation map [H, W] in [0, 1] in ``colormap`` laid over the PIL picture ``view`` (H×W);
    ``strength`` 0 = picture only, 1 = map only. Returns a PIL RGB image (Transfer learning's "where it
    looked")."""
    import PIL.Image
    from matplotlib import colormaps

    if not 0 <= strength <= 1:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    if heatmap.shape != (view.height, view.width):
        raise ValueError(f"the map is {heatmap.shape}, the picture {view.height}×{view.width}")
    colours = colormaps[colormap](np.clip(heatmap, 0, 1))[..., :3]  # (H, W, 3) in [0, 1]
    base = np.asarray(view.convert("RGB"), dtype=np.float64) / 255
    mixed = (1 - strength) * base + strength * colours
    return PIL.Image.fromarray((mixed * 255).round().astype(np.uint8))


def lr_finder_png(lrs: Sequence[float], losses: Sequence[float], smoothed: Sequence[float],
                  suggested: float | None = None, *, title: str = "LR finder",
                  ylim: tuple[float, float] | None = None) -> np.ndarray:
    """The learning-rate finder's sweep: the raw loss (faint) and the smoothed loss against the rate on a
    log axis, the suggested rate marked, the loss axis within ``ylim``; an [H, W, 3] uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=110)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.asarray(lrs, float)
    ax.plot(x, np.asarray(losses, float), lw=0.8, alpha=0.3, label="loss")
    ax.plot(x, np.asarray(smoothed, float), lw=1.8, label="smoothed loss")
    if suggested is not None and len(x):
        i = int(np.argmin(np.abs(np.log(x) - np.log(suggested))))
        ax.plot([x[i]], [smoothed[i]], "o", ms=8, color="#d62728", label=f"suggested rate {suggested:.2g}")
    ax.set_xscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="loss")
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(frameon=False)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()

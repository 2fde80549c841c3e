"""Style images the lab draws itself: offline, deterministic, made with NumPy and PIL only.

Style transfer copies colours and textures, so each picture is a rich, strongly coloured texture
in the manner of a well-known kind of painting, not a copy of one:

- "Swirls (generated)": a night sky of flowing strokes around a few whirlpools, with glowing stars
  (in the manner of a starry night);
- "Brush strokes (generated)": many short, thick, oriented dabs of paint, warm on one side and cool
  on the other (impressionist);
- "Mosaic (generated)": coloured Voronoi cells with dark lead lines (stained glass);
- "Rings (generated)": tiles of concentric circles in bold colours (after Kandinsky's study);
- "Waves (generated)": bands of a rolling sea with pale crests (in the manner of a woodblock print).

Every maker takes no argument, returns a new 512 × 384 RGB ``PIL.Image`` and draws the same pixels
every time (fixed random seeds). They take a few tens of milliseconds each.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 512, 384
_SS = 2  # strokes and circles are drawn at twice the size, then scaled down (smooth edges)


def _hex(colors: str) -> np.ndarray:
    """``"#1b2a4a #f2c14e ..."`` → an [n, 3] float array of RGB values in 0..255."""
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors.split()], dtype=np.float64)


def _ramp(t: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Colours along ``palette`` for t in [0, 1] (linear between its stops): [..., 3] floats."""
    t = np.clip(t, 0.0, 1.0) * (len(palette) - 1)
    i = np.minimum(t.astype(int), len(palette) - 2)
    f = (t - i)[..., None]
    return palette[i] * (1 - f) + palette[i + 1] * f


def _image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")


def _grid(w: int = WIDTH, h: int = HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return xx, yy


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Smooth random field in [0, 1]: a coarse random grid scaled up bicubically."""
    coarse = rng.random((max(2, cells * h // w), cells))
    field = Image.fromarray((coarse * 255).astype(np.uint8), "L").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float64) / 255.0


# ------------------------------------------------------------------------------------------ the pictures


def swirls() -> Image.Image:
    """A starry-night-like sky: strokes that follow a flow around whirlpools, stars with halos, dark hills."""
    rng = np.random.default_rng(7)
    w, h = WIDTH * _SS, HEIGHT * _SS
    sky = _hex("#0b1d4a #1d3f8a #2f6cb5 #5b9bd5 #9cc7e6")
    xx, yy = _grid(WIDTH, HEIGHT)
    base = _ramp(0.15 + 0.6 * _smooth_noise(rng, WIDTH, HEIGHT, 6) * (1 - 0.5 * yy / HEIGHT), sky)
    img = _image(base).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    # whirlpools (x, y, strength, radius) in the big picture's pixels; the flow also drifts to the right
    vortices = [(0.30 * w, 0.32 * h, 1.0, 0.22 * w), (0.68 * w, 0.22 * h, -0.8, 0.18 * w), (0.55 * w, 0.55 * h, 0.7, 0.2 * w)]

    def flow(x: float, y: float) -> tuple[float, float]:
        vx, vy = 1.0, 0.25 * math.sin(y / h * 9 + x / w * 3)
        for cx, cy, s, r in vortices:
            dx, dy = x - cx, y - cy
            d2 = dx * dx + dy * dy
            g = s * 2.2 * math.exp(-d2 / (r * r))
            vx, vy = vx - g * dy / math.sqrt(d2 + 1.0), vy + g * dx / math.sqrt(d2 + 1.0)
        n = math.hypot(vx, vy) or 1.0
        return vx / n, vy / n

    stroke_colors = _hex("#f4e27a #f9f3c2 #8fc1e8 #3e7cc4 #cfe6f5 #1a3c80 #e9c14d")
    for _ in range(1300):
        x, y = rng.random() * w, rng.random() * h * 0.78
        color = tuple(int(v) for v in stroke_colors[rng.integers(len(stroke_colors))])
        pts = [(x, y)]
        length = rng.integers(6, 11)
        for _ in range(length):
            ux, uy = flow(x, y)
            x, y = x + 7 * ux, y + 7 * uy
            pts.append((x, y))
        draw.line(pts, fill=color, width=int(rng.integers(5, 10)), joint="curve")
    # stars: a bright disc with concentric halos
    for cx, cy, r in ((0.12 * w, 0.15 * h, 26), (0.86 * w, 0.12 * h, 40), (0.46 * w, 0.10 * h, 20), (0.90 * w, 0.45 * h, 24),
                      (0.20 * w, 0.55 * h, 18)):
        for k, col in enumerate(("#f6d55c", "#fbeea8", "#e9b93a", "#fff7d6")):
            rr = r * (2.2 - 0.4 * k)
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=col, width=6)
        draw.ellipse((cx - r * 0.6, cy - r * 0.6, cx + r * 0.6, cy + r * 0.6), fill="#fff3b0")
    # dark rolling hills, and a flame-shaped cypress on the left drawn with dark vertical strokes
    hills = [(0, h)] + [(x, h * (0.80 + 0.05 * math.sin(x / w * 7) + 0.03 * math.sin(x / w * 19))) for x in range(0, w + 1, 8)]
    draw.polygon(hills + [(w, h)], fill="#14213d")
    base_x, top_y = 0.11 * w, 0.18 * h
    for _ in range(420):
        v = rng.random()  # 0 at the tip, 1 at the foot
        y = top_y + v * (h - top_y)
        half = 0.075 * w * math.sqrt(v) * (1 + 0.25 * math.sin(v * 25))
        x = base_x + rng.uniform(-half, half) + 12 * math.sin(v * 9)
        color = ("#10261a", "#1f3a1a", "#2e4a24", "#3b2f1e", "#0a1a12")[rng.integers(5)]
        draw.line([(x, y), (x + rng.normal(0, 6), y - rng.uniform(25, 55))], fill=color, width=int(rng.integers(6, 11)))
    return img.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def brush_strokes() -> Image.Image:
    """Short thick dabs of paint along a smooth direction field; warm colours on the left, cool on the right."""
    rng = np.random.default_rng(11)
    w, h = WIDTH * _SS, HEIGHT * _SS
    warm, cool = _hex("#d1495b #edae49 #f28c28 #c0392b #f6d365"), _hex("#00798c #30638e #003d5b #66a182 #8ecae6")
    img = Image.new("RGB", (w, h), "#6b5b4b")
    draw = ImageDraw.Draw(img)
    angle = _smooth_noise(rng, w // 8, h // 8, 5) * 2 * math.pi  # stroke direction field (a coarse grid)
    for layer, (count, length, width) in enumerate(((900, 46, 26), (1600, 34, 18), (1400, 22, 11))):
        for _ in range(count):
            x, y = rng.random() * w, rng.random() * h
            t = x / w + 0.25 * (y / h - 0.5) + rng.normal(0, 0.12)  # mostly warm on the left, cool on the right
            palette = warm if rng.random() > t else cool
            c = palette[rng.integers(len(palette))] * rng.uniform(0.8, 1.15) + (25 * layer)
            color = tuple(int(v) for v in np.clip(c, 0, 255))
            a = angle[min(int(y) // 8, angle.shape[0] - 1), min(int(x) // 8, angle.shape[1] - 1)] + rng.normal(0, 0.25)
            dx, dy = math.cos(a) * length / 2, math.sin(a) * length / 2
            draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=color, width=width)
    return img.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def mosaic() -> Image.Image:
    """Stained glass: Voronoi cells in jewel colours, each shaded a little, with dark lead lines."""
    rng = np.random.default_rng(3)
    n = 140
    seeds = np.column_stack([rng.random(n) * WIDTH, rng.random(n) * HEIGHT])
    xx, yy = _grid()
    best = np.full(xx.shape, np.inf)
    label = np.zeros(xx.shape, dtype=np.int64)
    for k, (sx, sy) in enumerate(seeds):
        d = (xx - sx) ** 2 + (yy - sy) ** 2
        closer = d < best
        best[closer], label[closer] = d[closer], k
    palette = _hex("#b5179e #7209b7 #3a0ca3 #4361ee #4cc9f0 #f72585 #06d6a0 #ffd166 #ef476f #118ab2 #e36414 #9a031e")
    colors = palette[rng.integers(len(palette), size=n)]
    # each pane lighter towards a random corner, and a faint grain
    tilt = rng.normal(0, 1, (n, 2))
    shade = 1.0 + 0.22 * np.tanh(((xx - seeds[label, 0]) * tilt[label, 0] + (yy - seeds[label, 1]) * tilt[label, 1]) / 40)
    rgb = colors[label] * shade[..., None] + rng.normal(0, 6, (HEIGHT, WIDTH, 1))
    edge = np.zeros(xx.shape, dtype=bool)
    edge[:, 1:] |= label[:, 1:] != label[:, :-1]
    edge[1:, :] |= label[1:, :] != label[:-1, :]
    lead = Image.fromarray(edge.astype(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(5))
    lead_mask = np.asarray(lead, dtype=bool)
    rgb[lead_mask] = (28, 24, 30)
    return _image(rgb)


def rings() -> Image.Image:
    """Tiles of concentric circles in bold colours on coloured grounds (after Kandinsky's colour study)."""
    rng = np.random.default_rng(5)
    cols, rows = 4, 3
    tw, th = WIDTH * _SS // cols, HEIGHT * _SS // rows
    palette = ["#e63946", "#f1c40f", "#2a9d8f", "#264653", "#e76f51", "#8e44ad", "#1d3557", "#f4a261", "#06d6a0",
               "#111111", "#fefae0", "#d62828", "#457b9d", "#ff8fab"]
    img = Image.new("RGB", (tw * cols, th * rows), "#222222")
    draw = ImageDraw.Draw(img)
    for r in range(rows):
        for c in range(cols):
            x0, y0 = c * tw, r * th
            draw.rectangle((x0, y0, x0 + tw, y0 + th), fill=palette[rng.integers(len(palette))])
            # the centre wanders a little off the tile's middle; radii shrink with uneven steps
            cx, cy = x0 + tw / 2 + rng.normal(0, tw * 0.05), y0 + th / 2 + rng.normal(0, th * 0.05)
            radius = min(tw, th) * rng.uniform(0.42, 0.5)
            while radius > 6:
                color = palette[rng.integers(len(palette))]
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=color)
                radius -= rng.uniform(10, 30)
            draw.rectangle((x0, y0, x0 + tw, y0 + th), outline="#1a1a1a", width=4)
    small = img.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    rgb = np.asarray(small, dtype=np.float64) + np.random.default_rng(6).normal(0, 7, (HEIGHT, WIDTH, 1))  # chalky grain
    return _image(rgb)


def waves() -> Image.Image:
    """A rolling sea as bands of blue with pale crests and dark outlines, in the manner of a woodblock print."""
    rng = np.random.default_rng(2)
    xx, yy = _grid()
    warp = _smooth_noise(rng, WIDTH, HEIGHT, 5)
    phase = (yy / 26.0 + 1.6 * np.sin(xx / 45.0 + yy / 70.0) + 0.8 * np.sin(xx / 17.0 - yy / 40.0) + 2.5 * warp)
    band = phase - np.floor(phase)  # 0..1 inside each wave band
    row = np.floor(phase)
    sea = _hex("#08306b #0d4c8f #2171b5 #4292c6 #6baed6 #c6dbef #f7f4e1")
    depth = 0.15 + 0.55 * (0.5 + 0.5 * np.sin(row * 1.7)) * (0.6 + 0.4 * yy / HEIGHT)
    rgb = _ramp(depth + 0.35 * band ** 3, sea)
    claws = 0.06 * (np.sin(xx / 6.0 + row * 2.3) > 0.1)  # the crest's edge breaks into claw-like fingers
    crest = band > 0.84 - claws
    rgb[crest] = (247, 244, 225)
    rgb[(band < 0.04) | ((band > 0.81 - claws) & ~crest)] = (16, 28, 54)  # dark outlines between bands
    spray = rng.random(xx.shape) < 0.004  # flecks of foam over the darker water
    spray = np.asarray(Image.fromarray(spray.astype(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(3)), dtype=bool)
    rgb[spray & (band > 0.3)] = (240, 238, 220)
    sun = (xx - 0.8 * WIDTH) ** 2 + (yy - 0.18 * HEIGHT) ** 2 < 38 ** 2  # a red sun in a gap of the sea
    rgb[sun] = (214, 69, 65)
    rgb += rng.normal(0, 5, (HEIGHT, WIDTH, 1))  # paper grain
    return _image(rgb)


STYLE_IMAGES: dict[str, Callable[[], Image.Image]] = {
    "Swirls (generated)": swirls,
    "Brush strokes (generated)": brush_strokes,
    "Mosaic (generated)": mosaic,
    "Rings (generated)": rings,
    "Waves (generated)": waves,
}
"""Name -> maker of each style image the lab draws itself (each call draws a new, identical picture)."""

DEFAULT_STYLE = "Swirls (generated)"

"""Convolution and pooling written out as the course describes them.

A filter slides over the (zero-padded) input; at each position it is multiplied element-wise
with the patch it covers and the products are summed into one output value. Like deep-learning
libraries (``torch.nn.functional.conv2d``) this is a cross-correlation: the kernel is not flipped.
A filter for a colour image spans all its channels ([C, f, f]) and still gives one 2-D map.
Everything here is NumPy (float64), vectorised with ``sliding_window_view`` and ``einsum``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from core.settings import Settings, setting

PADDING_MODES = ("valid", "same", "custom")
POOLS = ("max", "average", "global max", "global average")

KERNELS: dict[str, np.ndarray] = {
    "Vertical edge": np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=float),
    "Horizontal edge": np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float),
    "Sobel (vertical edges)": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float),
    "Sobel (horizontal edges)": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float),
    "Sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "Blur (box)": np.full((3, 3), 1 / 9),
    "Blur (Gaussian)": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16,
    "Identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
}
"""Classic hand-made 3×3 filters (name → [3, 3] array). A trained CNN learns numbers like these."""

KERNEL_NOTES: dict[str, str] = {
    "Vertical edge": "bright on the left, dark on the right gives a large positive value; the reverse a large negative one",
    "Horizontal edge": "bright above, dark below gives a large positive value; the reverse a large negative one",
    "Sobel (vertical edges)": "a vertical-edge filter that weights the centre row twice, so it is less sensitive to noise",
    "Sobel (horizontal edges)": "a horizontal-edge filter that weights the centre column twice",
    "Sharpen": "the pixel counted five times minus its four neighbours: boosts local differences",
    "Blur (box)": "the average of the 3×3 neighbourhood: every weight is 1/9",
    "Blur (Gaussian)": "a weighted average that trusts the centre most (weights 1-2-1 in each direction, /16)",
    "Identity": "a single 1 in the centre: the output is the input (minus the border)",
}


def same_padding(f: int) -> int:
    """Zero padding p = (f − 1)/2 that keeps the size at stride 1 (n + 2p − f + 1 = n).

    Only odd kernel sizes can be padded equally on both sides, so an even ``f`` raises ``ValueError``.
    """
    if f < 1:
        raise ValueError(f"kernel size must be at least 1, got {f}")
    if f % 2 == 0:
        raise ValueError(f"'same' padding needs an odd kernel size: (f − 1)/2 = {(f - 1) / 2} is not a whole number for f = {f}")
    return (f - 1) // 2


def resolve_padding(mode: str, f: int, custom: int = 0) -> int:
    """The padding p for a mode: ``"valid"`` → 0, ``"same"`` → (f − 1)/2, ``"custom"`` → ``custom``."""
    if mode == "valid":
        return 0
    if mode == "same":
        return same_padding(f)
    if mode == "custom":
        if int(custom) != custom or custom < 0:
            raise ValueError(f"padding must be a whole number of at least 0, got {custom}")
        return int(custom)
    raise ValueError(f"padding mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")


def conv_output_size(n: int, f: int, padding: int = 0, stride: int = 1) -> int:
    """Output size ⌊(n + 2p − f)/s⌋ + 1 of a convolution (or pooling) along one axis.

    ``n``: input size, ``f``: kernel size, ``padding``: zeros added on each side,
    ``stride``: step. Raises ``ValueError`` when the kernel does not fit the padded input.
    """
    if n < 1 or f < 1 or stride < 1 or padding < 0:
        raise ValueError("sizes and stride must be at least 1 and padding at least 0")
    if f > n + 2 * padding:
        raise ValueError(f"a {f}×{f} kernel does not fit a {n}-pixel input padded by {padding} (n + 2p = {n + 2 * padding})")
    return (n + 2 * padding - f) // stride + 1


def output_size_formula(n: int, f: int, p: int, s: int) -> str:
    """The output size worked out with the numbers, e.g. ``"⌊(64 + 2·1 − 3) / 2⌋ + 1 = 32"``.

    Raises the ``ValueError`` of :func:`conv_output_size` when the kernel does not fit.
    """
    out = conv_output_size(n, f, p, s)
    return f"⌊({n} + 2·{p} − {f}) / {s}⌋ + 1 = {out}"


def output_size_latex(n: int, f: int, p: int, s: int, symbol: str = "n_{out}") -> str:
    """The same worked out step by step as LaTeX, e.g.
    ``n_{out} = \\left\\lfloor \\frac{64 + 2\\cdot 1 - 3}{2} \\right\\rfloor + 1 = \\lfloor 31.5 \\rfloor + 1 = 32``."""
    out = conv_output_size(n, f, p, s)
    top = n + 2 * p - f
    quotient = f"{top}" if s == 1 else (f"{top // s}" if top % s == 0 else f"{top / s:.4g}")
    return (rf"{symbol} = \left\lfloor \frac{{{n} + 2\cdot {p} - {f}}}{{{s}}} \right\rfloor + 1"
            rf" = \lfloor {quotient} \rfloor + 1 = {out}")


def _check(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a whole number of at least 1, got {stride}")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"padding must be a whole number of at least 0, got {padding}")
    if image.ndim == 2:
        if kernel.ndim != 2:
            raise ValueError(f"a 2-D image [H, W] needs a 2-D kernel [f, f], got a kernel of shape {list(kernel.shape)}")
    elif image.ndim == 3:
        if kernel.ndim != 3 or kernel.shape[0] != image.shape[0]:
            raise ValueError(f"an image with {image.shape[0]} channels needs a kernel [{image.shape[0]}, f, f] spanning all "
                             f"of them, got {list(kernel.shape)}")
    else:
        raise ValueError(f"image must be [H, W] or [C, H, W], got shape {list(image.shape)}")
    if kernel.shape[-1] < 1 or kernel.shape[-2] < 1:
        raise ValueError("kernel must not be empty")
    if not (np.isfinite(image).all() and np.isfinite(kernel).all()):
        raise ValueError("image and kernel must hold finite numbers (no empty cells)")
    for axis, name in ((-2, "height"), (-1, "width")):
        n, f = image.shape[axis], kernel.shape[axis]
        if f > n + 2 * padding:
            raise ValueError(f"the kernel does not fit: its {name} {f} is larger than the padded input's "
                             f"{name} n + 2p = {n} + 2·{padding} = {n + 2 * padding}")
    return image, kernel


def pad(image: np.ndarray, padding: int) -> np.ndarray:
    """Zero padding of ``padding`` pixels around the last two axes ([H, W] or [C, H, W])."""
    image = np.asarray(image, dtype=float)
    width = [(0, 0)] * (image.ndim - 2) + [(padding, padding)] * 2
    return np.pad(image, width)


def _windows(image: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """Every patch the filter covers: [..., H_out, W_out, kh, kw] (a view, no copy)."""
    view = sliding_window_view(pad(image, padding), (kh, kw), axis=(-2, -1))
    return view[..., ::stride, ::stride, :, :]


def convolve(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0, bias: float = 0.0) -> np.ndarray:
    """Slide ``kernel`` over the zero-padded ``image``; each output value is the sum of the
    element-wise products of the kernel and the patch it covers (plus ``bias``).

    ``image`` [H, W] with ``kernel`` [f, f], or ``image`` [C, H, W] with ``kernel`` [C, f, f]
    (one filter spanning all channels: the sum runs over the channels too). Returns the feature
    map [H_out, W_out] with H_out = ⌊(H + 2p − f)/s⌋ + 1 (and the same for W), exactly what
    ``torch.nn.functional.conv2d`` computes for one input and one output channel.
    """
    image, kernel = _check(image, kernel, stride, padding)
    win = _windows(image, kernel.shape[-2], kernel.shape[-1], int(stride), int(padding))
    if image.ndim == 2:
        out = np.einsum("ijkl,kl->ij", win, kernel, optimize=True)  # (H_out, W_out)
    else:
        out = np.einsum("cijkl,ckl->ij", win, kernel, optimize=True)  # summed over channels too
    return out + bias


@dataclass(frozen=True)
class Window:
    """What the filter sees at one output position (i, j).

    ``top``, ``left``: the patch's first row and column in the padded input (in the unpadded
    image they are ``top − padding``, ``left − padding``; negative means it starts in the zeros).
    ``patch``, ``kernel``, ``products``: [f, f] or [C, f, f]; ``total``: Σ products;
    ``value``: total + bias, the feature-map value at (i, j).
    """

    i: int
    j: int
    top: int
    left: int
    padding: int
    patch: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    total: float
    bias: float
    value: float


def window(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int, i: int, j: int,
           bias: float = 0.0) -> Window:
    """The patch under the filter for output position (i, j), the element-wise products and their sum.

    The patch starts at row i·s, column j·s of the padded input. Raises ``ValueError`` for a
    position outside the feature map.
    """
    image, kernel = _check(image, kernel, stride, padding)
    kh, kw = kernel.shape[-2:]
    h_out = conv_output_size(image.shape[-2], kh, padding, stride)
    w_out = conv_output_size(image.shape[-1], kw, padding, stride)
    if not (0 <= i < h_out and 0 <= j < w_out):
        raise ValueError(f"position ({i}, {j}) is outside the {h_out}×{w_out} feature map")
    top, left = i * stride, j * stride
    patch = pad(image, padding)[..., top:top + kh, left:left + kw]
    products = patch * kernel
    total = float(products.sum())
    return Window(i, j, top, left, int(padding), patch, kernel, products, total, float(bias), total + float(bias))


def pool(x: np.ndarray, kind: str = "max", size: int = 2, stride: int = 2) -> np.ndarray:
    """Pooling over the last two axes of ``x`` ([H, W] or [C, H, W]), no padding.

    ``"max"``: the largest value in each size×size window; ``"average"``: their mean; both
    step by ``stride`` and give ⌊(n − f)/s⌋ + 1 values per axis. ``"global max"`` and
    ``"global average"`` reduce each map to one value (shape [..., 1, 1]).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be [H, W] or [C, H, W], got shape {list(x.shape)}")
    if kind == "global max":
        return x.max(axis=(-2, -1), keepdims=True)
    if kind == "global average":
        return x.mean(axis=(-2, -1), keepdims=True)
    if kind not in ("max", "average"):
        raise ValueError(f"pooling must be one of {', '.join(POOLS)}, got {kind!r}")
    if int(size) != size or size < 1 or int(stride) != stride or stride < 1:
        raise ValueError(f"pooling window and stride must be whole numbers of at least 1, got {size} and {stride}")
    for axis, name in ((-2, "height"), (-1, "width")):
        if size > x.shape[axis]:
            raise ValueError(f"the {size}×{size} pooling window does not fit: the map's {name} is only {x.shape[axis]}")
    win = _windows(x, int(size), int(size), int(stride), 0)  # (..., H_out, W_out, size, size)
    return win.max(axis=(-2, -1)) if kind == "max" else win.mean(axis=(-2, -1))


def colour_filter(kernel: np.ndarray, weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A filter spanning the 3 colour channels: ``kernel`` [f, f] scaled by one weight per channel → [3, f, f].

    ``weights=(1, 0, 0)`` makes a detector that only looks at red; ``(1, 1, 1)`` sums the same
    2-D filter over red, green and blue.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D [f, f], got shape {list(kernel.shape)}")
    w = np.asarray(weights, dtype=float)
    if w.shape != (3,):
        raise ValueError(f"give one weight per colour channel (3 numbers), got {len(w.ravel())}")
    return w[:, None, None] * kernel[None]


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x) element-wise: the activation usually applied after a convolution."""
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def to_array(image, *, gray: bool) -> np.ndarray:
    """A PIL image or an [H, W, 3] uint8 array as floats in [0, 1]: [H, W] grey (luma
    0.299 R + 0.587 G + 0.114 B) when ``gray``, else [3, H, W] (channels first, like PyTorch)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    arr = arr[..., :3].astype(float)
    if arr.max(initial=0) > 1.0 or np.asarray(image).dtype == np.uint8:
        arr = arr / 255.0
    if gray:
        return arr @ np.array([0.299, 0.587, 0.114])
    return np.moveaxis(arr, -1, 0)


def working_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most ``long_side`` (never enlarged), aspect kept."""
    w, h = size
    if long_side < 1:
        raise ValueError(f"the working size must be at least 1 pixel, got {long_side}")
    scale = min(1.0, long_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def prepare_image(image, long_side: int, *, gray: bool) -> np.ndarray:
    """A PIL image (or [H, W, 3] uint8 array) shrunk so its long side is at most ``long_side``
    (never enlarged; Lanczos filter) and converted by :func:`to_array`: [H, W] or [3, H, W] in [0, 1]."""
    from PIL import Image

    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image).astype(np.uint8))
    pil = pil.convert("RGB")
    size = working_size(pil.size, long_side)
    if size != pil.size:
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    return to_array(pil, gray=gray)


PADDING_HELP = {"valid": "no padding, p = 0", "same": "p = (f − 1)/2 zeros on each side, so stride 1 keeps the size",
                "custom": "choose p yourself"}


@dataclass(frozen=True)
class ConvConfig(Settings):
    """One convolution as the explorer sets it up.

    ``kernel``: nested tuples [f][f] (or [C][f][f] for a filter spanning channels), square and
    finite; ``stride`` ≥ 1; ``padding_mode`` "valid" | "same" | "custom" (``custom_padding`` ≥ 0
    used only for "custom"); ``bias`` added to every sum; ``relu`` applies max(0, ·) afterwards.
    """

    kernel: tuple
    stride: int = setting(1, lo=1, hi=8, widget="slider", label="Convolution stride s",
                          help="How many pixels the filter moves between two outputs.")
    padding_mode: str = setting("valid", choices=PADDING_MODES, widget="radio", label="Convolution padding",
                                help="; ".join(f"{k}: {v}" for k, v in PADDING_HELP.items()))
    custom_padding: int = setting(2, lo=0, hi=32, label="Custom padding p")
    bias: float = setting(0.0, lo=-5.0, hi=5.0, step=0.1, label="Bias b",
                          help="Added to every sum, as in a convolutional layer.")
    relu: bool = setting(False, label="Apply ReLU",
                         help="max(0, ·) on the feature map after the convolution, before pooling.")

    def check(self) -> None:
        k = np.asarray(self.kernel, dtype=float)
        if k.ndim not in (2, 3) or k.shape[-1] != k.shape[-2] or k.shape[-1] < 1:
            raise ValueError(f"the kernel must be square, f×f (or C×f×f), got shape {list(k.shape)}")
        if not np.isfinite(k).all():
            raise ValueError("every kernel cell needs a number (some are empty or not numbers)")
        if int(self.stride) != self.stride:
            raise ValueError(f"stride must be a whole number of at least 1, got {self.stride}")
        resolve_padding(self.padding_mode, k.shape[-1], self.custom_padding)  # raises for a padding that does not fit

    @property
    def kernel_array(self) -> np.ndarray:
        return np.asarray(self.kernel, dtype=float)

    @property
    def f(self) -> int:
        return int(self.kernel_array.shape[-1])

    @property
    def padding(self) -> int:
        return resolve_padding(self.padding_mode, self.f, self.custom_padding)

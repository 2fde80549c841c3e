"""Safe image input for every page that takes pictures: uploads, sample photos, drawings.

Everything a learner can throw at the lab comes back as one :class:`DecodedImage` holding
an 8-bit RGB ``PIL.Image`` — or raises :class:`ImageError` with one plain sentence that
names the file. :func:`decode_image` reads JPEG, PNG, WebP, BMP and GIF bytes; it turns
photos upright from their EXIF orientation tag, converts grayscale, palette, CMYK,
16-bit and float pictures to RGB, lays transparent parts on white, keeps the first frame
of an animation, and refuses empty, unreadable, damaged or absurdly large files before
they cost memory. Each silent change is listed in ``DecodedImage.notes`` so the page can
say what happened.

:func:`sample_images` lists offline photos bundled with scikit-learn and scikit-image;
:func:`digit_from_drawing` reads the "draw a digit" canvas and :func:`digit_to_mnist`
prepares such a drawing the way MNIST digits were prepared.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ACCEPTED_TYPES",
    "MAX_BYTES",
    "MAX_PIXELS",
    "DecodedImage",
    "ImageError",
    "decode_image",
    "digit_from_drawing",
    "digit_to_mnist",
    "from_pil",
    "sample_images",
]

MAX_PIXELS = 40_000_000
"""Largest picture :func:`decode_image` accepts by default, in pixels (width × height)."""

MAX_BYTES = 50 * 1024 * 1024
"""Largest file :func:`decode_image` accepts, matching ``maxUploadSize = 50`` (MB) in .streamlit/config.toml."""

ACCEPTED_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif")
"""File extensions an upload box should offer (``st.file_uploader(type=...)``)."""

# The only PIL decoders allowed to touch untrusted bytes (JPEG's opener also returns MPO, a camera JPEG).
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
_FORMAT_NAMES = "JPEG, PNG, WebP, BMP or GIF"
_ORIENTATION_TAG = 0x0112

# Magic numbers of formats we do not read (named in the message) and of those we do
# (a file that starts like one of ours but fails to open is damaged, not foreign).
_FOREIGN_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"ftypheic", 4, "a HEIC photo"),
    (b"ftypheix", 4, "a HEIC photo"),
    (b"ftypmif1", 4, "a HEIF photo"),
    (b"ftypavif", 4, "an AVIF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"<svg", 0, "an SVG drawing"),
    (b"\x00\x00\x01\x00", 0, "an icon (ICO) file"),
    (b"8BPS", 0, "a Photoshop (PSD) file"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
)
_OWN_MAGIC: tuple[tuple[bytes, int], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0),
    (b"\xff\xd8\xff", 0),
    (b"GIF87a", 0),
    (b"GIF89a", 0),
    (b"WEBP", 8),
)
# What PIL raises while decoding broken data (truncated streams, bad chunks, bad headers).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


class ImageError(ValueError):
    """An image the lab cannot use; ``str(exc)`` is one plain sentence naming the file."""


@dataclass(frozen=True)
class DecodedImage:
    """A picture ready for the lab.

    ``image``: 8-bit RGB ``PIL.Image`` (upright, opaque, at most ``max_side`` on its longer side
    when that was asked for). ``name``: what to call it in messages (file name or sample name).
    ``original_size``: (width, height) of the upright picture before any scaling down.
    ``notes``: plain sentences about every change made on the way (EXIF turn, transparency,
    bit depth, first frame, scaling) — show them to the learner.
    """

    image: Image.Image
    name: str
    original_size: tuple[int, int]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.image, Image.Image):
            raise ValueError(f"image must be a PIL image, got {type(self.image).__name__}")
        if self.image.mode != "RGB":
            raise ValueError(f"image must be in RGB mode, got {self.image.mode!r}; convert it with from_pil()")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of ``image`` as it is now."""
        return self.image.size

    def array(self) -> np.ndarray:
        """The pixels as a [H, W, 3] uint8 array."""
        return np.asarray(self.image, dtype=np.uint8)


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.2g}"


def _too_large(name: str, width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(
        f"{name} is {width} × {height} pixels ({_megapixels(width * height)} megapixels); the lab takes images "
        f"up to {_megapixels(max_pixels)} megapixels — scale it down first."
    )


def _starts_with(data: bytes, magic: bytes, offset: int) -> bool:
    return data[offset:offset + len(magic)] == magic


def _unreadable(name: str, data: bytes) -> ImageError:
    """The message for bytes PIL could not open: foreign format, damaged file, or not an image."""
    head = data[:64]
    for magic, offset, what in _FOREIGN_MAGIC:
        if _starts_with(head, magic, offset):
            return ImageError(f"{name} is {what}, which the lab cannot read; save it as {_FORMAT_NAMES} first.")
    if head.lstrip().lower().startswith((b"<?xml", b"<svg")):
        return ImageError(f"{name} is an SVG drawing, which the lab cannot read; save it as {_FORMAT_NAMES} first.")
    looks_like_bmp = head[:2] == b"BM" and head[6:10] == b"\0\0\0\0"  # "BM" + reserved zero bytes
    if looks_like_bmp or any(_starts_with(head, magic, offset) for magic, offset in _OWN_MAGIC):
        return _damaged(name)
    return ImageError(f"{name} is not an image we can read; use {_FORMAT_NAMES}.")


def _damaged(name: str) -> ImageError:
    return ImageError(f"{name} looks damaged or cut short, so its picture cannot be read; save or download it again.")


def _to_8bit(values: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Integer or float pixel values -> uint8, with a note; 16-bit maps 0..65535 onto 0..255 (v / 257)."""
    if values.dtype.kind == "f":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0.0 and hi <= 1.0:
            return np.round(values * 255.0).astype(np.uint8), "floating-point pixel values (0–1) shown as 0–255"
        if lo >= 0.0 and hi <= 255.0:
            return np.round(values).astype(np.uint8), None
        span = hi - lo or 1.0
        return np.round((values - lo) / span * 255.0).astype(np.uint8), "pixel values stretched to fit 0–255"
    values = values.astype(np.int64)
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi <= 65535:
        # Exact 16-bit -> 8-bit scaling: 257·k -> k, 65535 -> 255 (not clipping at 255).
        return ((values * 255 + 32767) // 65535).astype(np.uint8), "16-bit image reduced to 8 bits per channel"
    span = (hi - lo) or 1
    return ((values - lo) * 255 // span).astype(np.uint8), "pixel values stretched to fit 0–255"


def _to_rgb(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """Any PIL mode -> RGB (transparency laid on white), with notes on what changed."""
    notes: list[str] = []
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image, notes
    if mode.startswith("I") or mode == "F":
        gray, note = _to_8bit(np.asarray(image))
        if note:
            notes.append(note)
        return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), "RGB"), notes
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        "transparency" in image.info and mode in ("P", "L", "1", "RGB")
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if alpha.min() < 255:
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            notes.append("transparent parts shown on white")
            return Image.alpha_composite(white, rgba).convert("RGB"), notes
        return rgba.convert("RGB"), notes
    try:
        return image.convert("RGB"), notes
    except (ValueError, OSError) as exc:  # a mode PIL cannot convert (e.g. LAB without a colour profile)
        raise ValueError(f"colour mode {mode!r} cannot be converted to RGB") from exc


def _target_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so the longer side is at most ``max_side`` (aspect kept); unchanged when it fits."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1 pixel, got {max_side}")
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def from_pil(image: Image.Image, *, name: str = "image", max_side: int | None = None,
             notes: tuple[str, ...] = ()) -> DecodedImage:
    """Wrap an in-memory PIL image (any mode) as a :class:`DecodedImage`.

    Converts to RGB the way :func:`decode_image` does (transparent parts on white, 16-bit and float
    values scaled to 8 bits) and scales down to ``max_side`` (LANCZOS, aspect kept) when larger.
    ``notes`` are kept in front of the notes this adds. Does not look at EXIF tags.
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"image must be a PIL image, got {type(image).__name__}")
    try:
        rgb, mode_notes = _to_rgb(image)
    except ValueError as exc:
        raise ImageError(f"{name} uses a colour format the lab cannot convert ({exc}).") from exc
    original_size = rgb.size
    target = _target_size(original_size, max_side)
    if target != original_size:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        mode_notes.append(f"scaled down from {original_size[0]}×{original_size[1]} to {target[0]}×{target[1]}")
    if rgb is image:
        rgb = image.copy()  # never hand out the caller's object
    return DecodedImage(image=rgb, name=name, original_size=original_size, notes=(*notes, *mode_notes))


def decode_image(data: bytes, *, name: str = "image", max_pixels: int = MAX_PIXELS,
                 max_side: int | None = None, max_bytes: int = MAX_BYTES) -> DecodedImage:
    """Decode the bytes of an uploaded image file into an upright 8-bit RGB :class:`DecodedImage`.

    Accepts JPEG, PNG, WebP, BMP and GIF (the first frame of an animation). The size is checked
    from the file header *before* any pixel is decoded: files over ``max_bytes`` bytes or pictures
    over ``max_pixels`` pixels (width × height) are refused. The whole picture is then decoded,
    so a truncated or corrupt file is refused too (PIL's ``LOAD_TRUNCATED_IMAGES`` is left off).
    EXIF orientation is applied; grayscale, palette, CMYK, 16-bit and float modes become RGB;
    transparency is laid on white. With ``max_side``, a picture whose longer side is larger is
    scaled down (LANCZOS, aspect kept). Every such change adds a sentence to ``notes``.

    Raises :class:`ImageError` (a ``ValueError``) with a plain sentence naming ``name``.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1 pixel, got {max_side}")
    if not data:
        raise ImageError(f"{name} is empty (0 bytes); choose another file.")
    if len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.0f} MB; the lab takes files up to {max_bytes / 2**20:.0f} MB — "
            "save a smaller copy first."
        )
    data = bytes(data)
    notes: list[str] = []
    with warnings.catch_warnings():
        # Our own header check below gives the friendlier message; PIL's warning is escalated for decoding.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
        except Image.DecompressionBombError as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = int(found.group(1)) if found else max_pixels + 1
            raise ImageError(
                f"{name} has {_megapixels(pixels)} megapixels; the lab takes images up to "
                f"{_megapixels(max_pixels)} megapixels — scale it down first."
            ) from exc
        except UnidentifiedImageError as exc:
            raise _unreadable(name, data) from exc
        except _DECODE_ERRORS as exc:
            raise _damaged(name) from exc

    width, height = image.size
    if width < 1 or height < 1:
        raise _damaged(name)
    if width * height > max_pixels:
        raise _too_large(name, width, height, max_pixels)

    fmt = image.format or "image"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if getattr(image, "is_animated", False):
                if fmt != "MPO":  # a camera's multi-picture JPEG holds previews, not an animation
                    notes.append(f"first frame of an animated {'WebP' if fmt == 'WEBP' else fmt}")
                image.seek(0)
            if max_side is not None and fmt in ("JPEG", "MPO"):
                # Let the JPEG decoder drop to 1/2, 1/4 or 1/8 size while staying >= max_side.
                image.draft("RGB", (max_side, max_side))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(name, width, height, max_pixels) from exc
        except MemoryError as exc:
            raise _too_large(name, width, height, max_pixels) from exc
        except _DECODE_ERRORS as exc:
            raise _damaged(name) from exc

        try:
            orientation = int(image.getexif().get(_ORIENTATION_TAG, 1) or 1)
        except _DECODE_ERRORS:
            orientation = 1  # an unreadable EXIF block only loses the orientation hint
        if orientation in range(2, 9):
            try:
                image = ImageOps.exif_transpose(image)
                notes.append("turned upright using the photo's orientation tag")
            except _DECODE_ERRORS:
                notes.append("its orientation tag could not be applied, so it may be shown turned")

    if orientation in (5, 6, 7, 8):  # a quarter turn swaps width and height
        width, height = height, width
    try:
        rgb, mode_notes = _to_rgb(image)
    except ValueError as exc:
        raise ImageError(f"{name} uses a colour format the lab cannot convert ({exc}).") from exc
    # Sizes come from the header: a JPEG draft may already have decoded the picture smaller.
    target = _target_size((width, height), max_side)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if target != (width, height):
        mode_notes.append(f"scaled down from {width}×{height} to {target[0]}×{target[1]}")
    if rgb is image:
        rgb = image.copy()  # detach from the file object
    return DecodedImage(image=rgb, name=name, original_size=(width, height), notes=(*notes, *mode_notes))


def sample_images() -> dict[str, Callable[[], Image.Image]]:
    """Offline sample photos: display name -> loader returning an RGB ``PIL.Image``.

    The photos ship inside scikit-image and scikit-learn, so they work without internet.
    Loaders are cheap (a few milliseconds) but do not cache; callers that rerun often should.
    The first entry is a good default.
    """

    def skimage_photo(attr: str) -> Callable[[], Image.Image]:
        def load() -> Image.Image:
            import skimage.data

            array = np.asarray(getattr(skimage.data, attr)())
            if array.ndim == 2:  # the cameraman is grayscale
                array = np.repeat(array[:, :, None], 3, axis=2)
            return Image.fromarray(array.astype(np.uint8), "RGB")

        return load

    def sklearn_photo(file: str) -> Callable[[], Image.Image]:
        def load() -> Image.Image:
            from sklearn.datasets import load_sample_image

            return Image.fromarray(np.asarray(load_sample_image(file), dtype=np.uint8), "RGB")

        return load

    return {
        "Cat (Chelsea)": skimage_photo("chelsea"),
        "Coffee cup": skimage_photo("coffee"),
        "Astronaut": skimage_photo("astronaut"),
        "Rocket launch": skimage_photo("rocket"),
        "Flower": sklearn_photo("flower.jpg"),
        "Chinese temple": sklearn_photo("china.jpg"),
        "Cameraman (grayscale)": skimage_photo("camera"),
        "Stained tissue (microscope)": skimage_photo("immunohistochemistry"),
    }


def _canvas_gray(rgba: np.ndarray) -> np.ndarray:
    """A canvas array [H, W, 3 or 4] (uint8, or float in 0..1) -> [H, W] uint8 gray, laid on black."""
    array = np.asarray(rgba)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"a drawing must be an [H, W, 4] RGBA (or [H, W, 3] RGB) array, got shape {array.shape}")
    values = array.astype(np.float64)
    if array.dtype.kind == "f" and values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    values = np.clip(np.nan_to_num(values), 0.0, 255.0)
    gray = values[:, :, :3].mean(axis=2)
    if values.shape[2] == 4:
        gray = gray * values[:, :, 3] / 255.0  # transparent background counts as black
    return np.round(gray).astype(np.uint8)


def digit_from_drawing(rgba: np.ndarray, *, name: str = "drawing") -> DecodedImage | None:
    """Read the "draw a digit" canvas: white strokes on black -> an RGB :class:`DecodedImage`.

    ``rgba``: [H, W, 4] uint8 array as the canvas returns it (or [H, W, 3]; floats in 0..1 are
    accepted). Transparent pixels count as black background. The result is gray (three equal
    channels), same size as the canvas. Returns ``None`` when nothing was drawn.
    """
    gray = _canvas_gray(rgba)
    if int(gray.max(initial=0)) < 16:  # nothing but background (and maybe antialiasing dust)
        return None
    image = Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), "RGB")
    return DecodedImage(image=image, name=name, original_size=image.size)


def digit_to_mnist(image: Image.Image | DecodedImage | np.ndarray, size: int = 28, box: int | None = None) -> np.ndarray:
    """Prepare a light-on-dark digit the way MNIST's digits were prepared.

    The strokes' bounding box is scaled (aspect kept, antialiased) to fit a ``box`` × ``box``
    square (20 for 28, i.e. ``round(size * 20 / 28)``) and placed so that the centre of mass of the
    ink sits at the centre of a ``size`` × ``size`` black image (LeCun et al., 1998, "Gradient-based
    learning applied to document recognition"; the MNIST database description).

    Returns a [size, size] float32 array in [0, 1] (all zeros when there is no ink).
    """
    if isinstance(image, DecodedImage):
        image = image.image
    if isinstance(image, Image.Image):
        gray = np.asarray(image.convert("L"), dtype=np.float64)
    else:
        array = np.asarray(image)
        gray = _canvas_gray(array).astype(np.float64) if array.ndim == 3 else array.astype(np.float64)
        if array.ndim == 2 and array.dtype.kind == "f" and gray.max(initial=0.0) <= 1.0:
            gray = gray * 255.0
    if size < 4:
        raise ValueError(f"size must be at least 4 pixels, got {size}")
    box = round(size * 20 / 28) if box is None else box
    if not 1 <= box <= size:
        raise ValueError(f"box must be between 1 and size ({size}), got {box}")
    out = np.zeros((size, size), dtype=np.float64)
    rows = np.flatnonzero(gray.max(axis=1) > 0)
    cols = np.flatnonzero(gray.max(axis=0) > 0)
    if rows.size == 0:
        return out.astype(np.float32)
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(
        Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8), "L").resize((new_w, new_h), Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    mass = small.sum()
    if mass <= 0:
        return out.astype(np.float32)
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    # Put the centre of mass at the image centre, keeping the digit inside the frame.
    top = int(np.clip(round((size - 1) / 2 - cy), 0, size - new_h))
    left = int(np.clip(round((size - 1) / 2 - cx), 0, size - new_w))
    out[top:top + new_h, left:left + new_w] = small
    return (out / 255.0).astype(np.float32)

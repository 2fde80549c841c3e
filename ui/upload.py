"""Image input shared by every page that takes pictures: a sample photo, an upload, or a drawing.

``image_input(key, label=...)`` draws a compact source picker and returns a
:class:`core.data.images.DecodedImage` (8-bit RGB, upright, at most ``max_side`` pixels on its
longer side) or ``None`` when there is nothing usable yet. It does not display the picture
itself — the page shows it where it fits. A bad upload is reported with ``st.error`` in one
plain sentence; the changes made while decoding (EXIF turn, transparency, scaling, ...) are
listed in one ``st.caption``.

Widgets (labels include ``label`` so several inputs can share a page):

* ``f"{label}: source"`` — segmented control "Sample photo" / "Upload" / "Draw", key ``f"{key}.source"``
  (left out when only one source is offered);
* ``f"{label}: sample photo"`` — selectbox of :func:`core.data.images.sample_images`, key ``f"{key}.sample"``;
* ``f"{label}: upload"`` — file uploader, key ``f"{key}.upload"``;
* the drawing canvas (streamlit-drawable-canvas), key ``f"{key}.canvas"``;
* ``f"{label}: camera"`` — ``st.camera_input``, key ``f"{key}.camera"`` (the browser asks for the camera
  only once this source is picked).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import streamlit as st
from PIL import Image

from core.data.images import (
    ACCEPTED_TYPES,
    MAX_BYTES,
    MAX_PIXELS,
    DecodedImage,
    ImageError,
    decode_image,
    digit_from_drawing,
    from_pil,
    sample_images,
)

__all__ = ["CAMERA", "DRAW", "SAMPLE", "UPLOAD", "DecodedImage", "decode_upload", "image_input"]

SAMPLE, UPLOAD, DRAW, CAMERA = "Sample photo", "Upload", "Draw", "Camera"
_ICONS = {SAMPLE: ":material/photo_library:", UPLOAD: ":material/upload:", DRAW: ":material/draw:",
          CAMERA: ":material/photo_camera:"}
CANVAS_SIZE = 224
STROKE_WIDTH = 18


@st.cache_data(show_spinner=False, max_entries=32)
def _sample(name: str, max_side: int | None, _make: Callable[[], Image.Image] | None = None) -> DecodedImage:
    """One sample picture as a DecodedImage (cached: every rerun gets its own unpickled copy)."""
    return from_pil((_make or sample_images()[name])(), name=name, max_side=max_side)


@st.cache_data(show_spinner=False, max_entries=8)
def _decode(digest: str, name: str, max_side: int | None, _data: bytes) -> tuple[DecodedImage | None, str | None]:
    """Decode an upload once per (content, name, max_side); a refusal is cached as its message."""
    try:
        return decode_image(_data, name=name, max_side=max_side), None
    except ImageError as exc:
        return None, str(exc)


def decode_upload(uploaded, max_side: int | None) -> tuple[DecodedImage | None, str | None]:
    """Decode one ``UploadedFile`` (from a file uploader or the camera), cached by its content:
    ``(image, None)`` or ``(None, one sentence saying why not)``."""
    data = uploaded.getvalue()
    decoded, error = _decode(hashlib.sha256(data).hexdigest(), uploaded.name, max_side, data)
    return decoded, (None if decoded is not None else error or f"{uploaded.name} could not be read.")


def _show_notes(decoded: DecodedImage) -> None:
    if decoded.notes:
        text = "; ".join(decoded.notes)
        st.caption(f"{text[0].upper()}{text[1:]}.")


def _from_samples(key: str, label: str, default: str | None, max_side: int | None,
                  extra: Mapping[str, Callable[[], Image.Image]]) -> DecodedImage | None:
    names = list(extra) + list(sample_images())
    index = names.index(default) if default in names else 0
    choice = st.selectbox(f"{label}: sample photo", names, index=index, key=f"{key}.sample")
    if choice is None:
        return None
    decoded = _sample(choice, max_side, extra.get(choice))
    _show_notes(decoded)
    return decoded


def _from_upload(key: str, label: str, max_side: int | None) -> DecodedImage | None:
    uploaded = st.file_uploader(
        f"{label}: upload",
        type=list(ACCEPTED_TYPES),
        key=f"{key}.upload",
        help=f"JPEG, PNG, WebP, BMP or GIF, up to {MAX_BYTES // 2**20} MB and {MAX_PIXELS / 1e6:.0f} megapixels"
        + (f"; larger pictures are scaled down to {max_side} pixels on their longer side." if max_side else "."),
    )
    decoded = _decoded(uploaded, max_side)
    if decoded is not None:
        _show_notes(decoded)
    return decoded


def _decoded(file, max_side: int | None) -> DecodedImage | None:
    """The picture of an uploaded or camera file, or None (nothing given, or the plain message shown)."""
    if file is None:
        return None
    decoded, error = decode_upload(file, max_side)
    if decoded is None:
        st.error(error, icon=":material/broken_image:")
    return decoded


def _from_camera(key: str, label: str, max_side: int | None) -> DecodedImage | None:
    shot = st.camera_input(f"{label}: camera", key=f"{key}.camera",
                           help="Your browser asks once for the camera; the picture stays in this session.")
    return _decoded(shot, max_side)


def _from_drawing(key: str) -> DecodedImage | None:
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # the component fails to register outside a Streamlit server
        st.warning("The drawing box is not available here; pick a sample photo or upload an image instead.")
        return None
    st.caption("Draw with the mouse (or a finger) in the black box; the toolbar above it can undo or clear.")
    st.space(12)  # the canvas's toolbar floats above its top edge: keep it off the caption
    result = st_canvas(
        fill_color="#FFFFFF",
        stroke_width=STROKE_WIDTH,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"{key}.canvas",
    )
    # Under AppTest (and before the browser sends anything) the canvas gives no pixels back.
    rgba = getattr(result, "image_data", None) if result is not None else None
    drawn = digit_from_drawing(rgba) if rgba is not None and getattr(rgba, "ndim", 0) == 3 else None
    if drawn is None:
        st.info("Draw a digit in the box", icon=":material/draw:")
    return drawn


def image_input(key: str, *, label: str = "Image", samples: bool = True, draw: bool = False, camera: bool = False,
                default: str | None = None, max_side: int | None = 1024,
                extra_samples: Mapping[str, Callable[[], Image.Image]] | None = None) -> DecodedImage | None:
    """A picture from a sample photo, an upload or a drawing; ``None`` while there is none.

    ``key``: widget-key prefix, e.g. ``"cnn.explorer.image"``. ``label``: shown in (and making unique)
    the widget labels. ``samples`` / ``draw``: offer the sample photos / the drawing canvas (white
    strokes on black, ``CANVAS_SIZE`` square). ``camera``: offer a shot from the camera. ``default``: name of the preselected sample photo (a
    key of ``sample_images()``). ``max_side``: uploads and samples larger than this on their longer
    side are scaled down (``None`` keeps full size). ``extra_samples``: more pictures (name -> maker)
    listed before the sample photos, e.g. the style images the lab draws itself.
    """
    extra = dict(extra_samples or {})
    if default is not None and default not in sample_images() and default not in extra:
        raise ValueError(f"default must be one of the sample photos {list(sample_images())}, got {default!r}")
    sources = [s for s, offered in ((SAMPLE, samples), (UPLOAD, True), (CAMERA, camera), (DRAW, draw)) if offered]
    source = sources[0]
    if len(sources) > 1:
        picked = st.segmented_control(
            f"{label}: source",
            sources,
            default=sources[0],
            required=True,
            format_func=lambda s: f"{_ICONS[s]} {s}",
            key=f"{key}.source",
        )
        source = picked if picked in sources else sources[0]
    if source == SAMPLE:
        return _from_samples(key, label, default, max_side, extra)
    if source == UPLOAD:
        return _from_upload(key, label, max_side)
    if source == CAMERA:
        return _from_camera(key, label, max_side)
    return _from_drawing(key)

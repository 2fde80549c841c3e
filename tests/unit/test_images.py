"""Image decoding: every awkward file is made in memory here and checked against what it must give.

References are independent of the code under test: np.rot90 for EXIF turns, the closed-form CMYK and
alpha-over-white formulas, exact 16-bit -> 8-bit values (v / 257), and the pixels we wrote ourselves.
"""

from __future__ import annotations

import binascii
import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from core.data.images import (
    MAX_PIXELS,
    DecodedImage,
    ImageError,
    decode_image,
    digit_from_drawing,
    digit_to_mnist,
    from_pil,
    sample_images,
)

ROOT = Path(__file__).resolve().parents[2]


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def asymmetric(h: int = 6, w: int = 10) -> np.ndarray:
    """An RGB array with no symmetry: every pixel differs, so any wrong turn or flip shows."""
    ys, xs = np.indices((h, w))
    return np.stack([ys * 40 % 256, xs * 25 % 256, (ys * w + xs) * 3 % 256], axis=2).astype(np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", binascii.crc32(kind + payload) & 0xFFFFFFFF)


def header_only_png(width: int, height: int) -> bytes:
    """A valid-looking PNG that claims width × height RGB pixels but holds only a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4))
            + png_chunk(b"IEND", b""))


# ---------------------------------------------------------------- orientation


# EXIF orientation o says how the stored pixels must be turned for display; the file therefore stores
# the upright picture turned the other way. np.rot90(k=1) turns counter-clockwise.
STORED_FROM_UPRIGHT = {
    3: lambda a: np.rot90(a, 2),   # displayed after a 180° turn
    6: lambda a: np.rot90(a, 1),   # displayed after a 90° clockwise turn
    8: lambda a: np.rot90(a, -1),  # displayed after a 90° counter-clockwise turn
}


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_gives_the_upright_picture(orientation):
    upright = asymmetric()
    stored = np.ascontiguousarray(STORED_FROM_UPRIGHT[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(stored), "PNG", exif=exif)  # PNG keeps pixels exact

    decoded = decode_image(data, name="phone.png")

    np.testing.assert_array_equal(decoded.array(), upright)
    assert decoded.original_size == (upright.shape[1], upright.shape[0])
    assert any("upright" in note for note in decoded.notes)


def test_exif_orientation_in_a_jpeg_within_tolerance():
    # Four flat colour blocks survive JPEG well; orientation 6 must bring red to the top left.
    upright = np.zeros((64, 96, 3), np.uint8)
    upright[:32, :48] = (220, 30, 30)
    upright[:32, 48:] = (30, 220, 30)
    upright[32:, :48] = (30, 30, 220)
    upright[32:, 48:] = (230, 230, 40)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))), "JPEG", quality=95, exif=exif)

    decoded = decode_image(data, name="phone.jpg")

    assert decoded.size == (96, 64)
    out = decoded.array().astype(float)
    for rows in (slice(4, 28), slice(36, 60)):  # block interiors, away from JPEG's edge ringing
        for cols in (slice(4, 44), slice(52, 92)):
            np.testing.assert_allclose(out[rows, cols].reshape(-1, 3).mean(axis=0), upright[rows, cols][0, 0], atol=4)


def test_no_orientation_tag_changes_nothing():
    upright = asymmetric()
    decoded = decode_image(encode(Image.fromarray(upright), "PNG"), name="plain.png")
    np.testing.assert_array_equal(decoded.array(), upright)
    assert decoded.notes == ()
    assert decoded.image.mode == "RGB"


# ---------------------------------------------------------------- colour modes


def test_grayscale_gives_three_equal_channels_with_the_same_values():
    gray = (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8)
    decoded = decode_image(encode(Image.fromarray(gray, "L"), "PNG"), name="gray.png")
    out = decoded.array()
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], gray)


def test_one_bit_image_gives_black_and_white():
    bits = np.array([[0, 1, 1, 0], [1, 0, 0, 1]], dtype=bool)
    decoded = decode_image(encode(Image.fromarray(bits), "PNG"), name="bits.png")
    np.testing.assert_array_equal(decoded.array()[:, :, 0], np.where(bits, 255, 0))


def test_sixteen_bit_png_is_scaled_not_clipped():
    values = np.array([[0, 257 * 100, 65535, 257]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # the file really is 16-bit

    decoded = decode_image(data, name="scan16.png")

    np.testing.assert_array_equal(decoded.array()[0, :, 0], [0, 100, 255, 1])
    np.testing.assert_array_equal(decoded.array()[0, :, 1], decoded.array()[0, :, 2])
    assert any("16-bit" in note for note in decoded.notes)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[0, 25700, 65535]], dtype=">u2"), [0, 100, 255]),  # big-endian I;16B
        (np.array([[0, 25700, 65535]], dtype=np.int32), [0, 100, 255]),  # mode I holding 16-bit values
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), [0, 128, 255]),  # mode F in 0..1
    ],
)
def test_high_bit_depth_modes_from_memory(array, expected):
    image = Image.fromarray(array)
    decoded = from_pil(image, name="array")
    np.testing.assert_array_equal(decoded.array()[0, :, 0], expected)


def test_cmyk_jpeg_of_pure_colours():
    cmyk_blocks = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (0, 0, 0, 0)]
    image = Image.new("CMYK", (16 * len(cmyk_blocks), 16))
    for i, colour in enumerate(cmyk_blocks):
        image.paste(colour, (16 * i, 0, 16 * i + 16, 16))

    decoded = decode_image(encode(image, "JPEG", quality=95), name="print.jpg")

    out = decoded.array().astype(float)
    for i, (c, m, y, k) in enumerate(cmyk_blocks):
        # Closed form for uncalibrated CMYK: R = 255 (1 - C)(1 - K), likewise G with M and B with Y.
        expected = [255 * (1 - v / 255) * (1 - k / 255) for v in (c, m, y)]
        block = out[4:12, 16 * i + 4:16 * i + 12].reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(block, expected, atol=12)


def test_alpha_is_laid_on_white():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[:, 0] = (10, 20, 30, 0)  # fully transparent -> white
    rgba[:, 1] = (200, 50, 25, 255)  # opaque -> the colour itself
    rgba[:, 2] = (0, 100, 200, 128)  # half -> colour·a + white·(1 - a)

    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), name="logo.png")

    out = decoded.array().astype(int)
    np.testing.assert_array_equal(out[:, 0], [[255, 255, 255]] * 2)
    np.testing.assert_array_equal(out[:, 1], [[200, 50, 25]] * 2)
    a = 128 / 255
    half = [c * a + 255 * (1 - a) for c in (0, 100, 200)]
    np.testing.assert_allclose(out[:, 2], [half] * 2, atol=1)
    assert "transparent parts shown on white" in decoded.notes


def test_opaque_alpha_channel_gets_no_note():
    rgba = np.dstack([asymmetric(), np.full((6, 10), 255, np.uint8)])
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), name="opaque.png")
    np.testing.assert_array_equal(decoded.array(), asymmetric())
    assert decoded.notes == ()


def test_gray_with_alpha():
    la = np.array([[[100, 0], [100, 255]]], dtype=np.uint8)  # (1, 2, 2): gray 100 transparent, then opaque
    decoded = decode_image(encode(Image.fromarray(la, "LA"), "PNG"), name="la.png")
    np.testing.assert_array_equal(decoded.array()[0], [[255, 255, 255], [100, 100, 100]])


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency(fmt):
    palette_image = Image.fromarray(np.array([[0, 1, 2, 1]], np.uint8), "P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])

    decoded = decode_image(encode(palette_image, fmt, transparency=0), name=f"icon.{fmt.lower()}")

    np.testing.assert_array_equal(decoded.array()[0], [[255, 255, 255], [0, 255, 0], [0, 0, 255], [0, 255, 0]])
    assert "transparent parts shown on white" in decoded.notes


def test_palette_without_transparency():
    palette_image = Image.fromarray(np.array([[0, 1, 2]], np.uint8), "P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    decoded = decode_image(encode(palette_image, "PNG"), name="pal.png")
    np.testing.assert_array_equal(decoded.array()[0], [[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    assert decoded.notes == ()


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(("fmt", "kw", "note"), [
    ("GIF", {"loop": 0}, "first frame of an animated GIF"),
    ("WEBP", {"lossless": True}, "first frame of an animated WebP"),
    ("PNG", {}, "first frame of an animated PNG"),
])
def test_animation_gives_its_first_frame(fmt, kw, note):
    frames = [Image.new("RGB", (8, 6), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **kw)

    decoded = decode_image(data, name=f"anim.{fmt.lower()}")

    np.testing.assert_array_equal(decoded.array(), np.broadcast_to([255, 0, 0], (6, 8, 3)))
    assert note in decoded.notes


@pytest.mark.parametrize(("fmt", "kw"), [("WEBP", {"lossless": True}), ("BMP", {}), ("PNG", {}), ("GIF", {})])
def test_lossless_round_trip(fmt, kw):
    original = asymmetric(5, 7)
    if fmt == "GIF":  # a GIF holds at most 256 colours: use 4 exact ones
        original = np.zeros((5, 7, 3), np.uint8)
        original[::2, ::3] = (255, 0, 0)
        original[1::2, 1::2] = (0, 0, 255)
    decoded = decode_image(encode(Image.fromarray(original), fmt, **kw), name=f"round.{fmt.lower()}")
    np.testing.assert_array_equal(decoded.array(), original)
    assert decoded.original_size == (7, 5)


def test_jpeg_round_trip_within_tolerance():
    flat = np.zeros((32, 32, 3), np.uint8)
    flat[:] = (120, 60, 200)
    decoded = decode_image(encode(Image.fromarray(flat), "JPEG", quality=95), name="photo.jpg")
    np.testing.assert_allclose(decoded.array().astype(int), flat.astype(int), atol=4)


# ---------------------------------------------------------------- refusals


def test_empty_file():
    with pytest.raises(ImageError, match=r"^empty\.png is empty"):
        decode_image(b"", name="empty.png")


def test_text_file_named_png():
    with pytest.raises(ImageError) as info:
        decode_image(b"these are my notes, not a picture\n" * 10, name="notes.png")
    assert str(info.value) == "notes.png is not an image we can read; use JPEG, PNG, WebP, BMP or GIF."


def test_unsupported_format_is_named():
    data = encode(Image.fromarray(asymmetric()), "TIFF")
    with pytest.raises(ImageError, match=r"scan\.tif is a TIFF image, which the lab cannot read"):
        decode_image(data, name="scan.tif")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_truncated_file(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(ImageError, match=r"^half\.img looks damaged or cut short"):
        decode_image(data[: len(data) // 2], name="half.img")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png_data():
    data = bytearray(encode(Image.fromarray(asymmetric(32, 32)), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start:start + 40] = bytes(40)  # zero out the compressed pixels: zlib (or the CRC) must object
    with pytest.raises(ImageError, match="damaged"):
        decode_image(bytes(data), name="broken.png")


def test_huge_picture_is_refused_from_its_header():
    data = header_only_png(12000, 12000)
    assert len(data) < 200  # nothing near 432 MB of pixels is ever made
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        decode_image(data, name="poster.png")
    assert time.perf_counter() - start < 1.0
    assert str(info.value) == (
        f"poster.png is 12000 × 12000 pixels (144 megapixels); the lab takes images up to "
        f"{MAX_PIXELS // 1_000_000} megapixels — scale it down first."
    )


def test_decompression_bomb_is_refused_with_a_plain_message():
    # 20000² = 400 MP is over twice PIL's limit, so PIL itself refuses to open it.
    with pytest.raises(ImageError, match=r"^bomb\.png has 400 megapixels; the lab takes images up to"):
        decode_image(header_only_png(20000, 20000), name="bomb.png")


def test_pixel_and_byte_limits_are_parameters():
    data = encode(Image.fromarray(asymmetric(20, 30)), "PNG")
    with pytest.raises(ImageError, match=r"30 × 20 pixels"):
        decode_image(data, name="small.png", max_pixels=599)
    assert decode_image(data, name="small.png", max_pixels=600).size == (30, 20)
    with pytest.raises(ImageError, match=r"^small\.png is 0 MB; the lab takes files up to"):
        decode_image(data, name="small.png", max_bytes=10)


def test_global_pil_settings_are_left_alone():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    for data in (header_only_png(12000, 12000), encode(Image.fromarray(asymmetric()), "PNG"), b"nope"):
        try:
            decode_image(data)
        except ImageError:
            pass
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == before


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# ---------------------------------------------------------------- scaling


def test_max_side_scales_down_keeping_the_aspect():
    two_colours = np.zeros((200, 400, 3), np.uint8)
    two_colours[:, :200] = (250, 0, 0)
    two_colours[:, 200:] = (0, 0, 250)

    decoded = decode_image(encode(Image.fromarray(two_colours), "PNG"), name="wide.png", max_side=100)

    assert decoded.size == (100, 50)
    assert decoded.original_size == (400, 200)
    assert "scaled down from 400×200 to 100×50" in decoded.notes
    out = decoded.array().astype(int)
    np.testing.assert_allclose(out[:, :45].reshape(-1, 3).mean(axis=0), [250, 0, 0], atol=2)
    np.testing.assert_allclose(out[:, 55:].reshape(-1, 3).mean(axis=0), [0, 0, 250], atol=2)


def test_max_side_leaves_small_pictures_alone():
    decoded = decode_image(encode(Image.fromarray(asymmetric()), "PNG"), max_side=100)
    assert decoded.size == (10, 6) and decoded.notes == ()


def test_max_side_on_a_large_turned_jpeg():
    # 1600 × 1200 stored, orientation 6 -> upright 1200 × 1600; the JPEG may be decoded at reduced size.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.new("RGB", (1600, 1200), (40, 160, 90)), "JPEG", quality=90, exif=exif)

    decoded = decode_image(data, name="camera.jpg", max_side=300)

    assert decoded.original_size == (1200, 1600)
    assert decoded.size == (225, 300)
    assert "scaled down from 1200×1600 to 225×300" in decoded.notes
    np.testing.assert_allclose(decoded.array().reshape(-1, 3).mean(axis=0), [40, 160, 90], atol=4)


# ---------------------------------------------------------------- samples and drawings


def test_sample_images_all_load_as_rgb():
    samples = sample_images()
    assert len(samples) >= 8
    for name, load in samples.items():
        image = load()
        assert isinstance(image, Image.Image) and image.mode == "RGB", name
        assert min(image.size) >= 200, name
    camera = np.asarray(samples["Cameraman (grayscale)"]())
    np.testing.assert_array_equal(camera[:, :, 0], camera[:, :, 2])


def test_nothing_drawn_gives_none():
    assert digit_from_drawing(np.zeros((224, 224, 4), np.uint8)) is None
    transparent_white = np.zeros((224, 224, 4), np.uint8)
    transparent_white[..., :3] = 255  # white but fully transparent: still nothing on the canvas
    assert digit_from_drawing(transparent_white) is None


def test_drawing_becomes_white_on_black_rgb():
    canvas = np.zeros((224, 224, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[50:150, 100:118] = (255, 255, 255, 255)  # a white "1"

    decoded = digit_from_drawing(canvas)

    assert isinstance(decoded, DecodedImage) and decoded.image.mode == "RGB" and decoded.size == (224, 224)
    out = decoded.array()
    assert (out[50:150, 100:118] == 255).all()
    assert out[:50].max() == 0 and out[:, :100].max() == 0


def test_drawing_with_a_transparent_background():
    canvas = np.zeros((100, 100, 4), np.uint8)
    canvas[..., :3] = 255  # some canvases report white RGB under alpha 0
    canvas[40:60, 40:60, 3] = 255
    out = digit_from_drawing(canvas).array()
    assert out[40:60, 40:60].min() == 255 and out[:40].max() == 0


def test_drawing_with_a_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="RGBA"):
        digit_from_drawing(np.zeros((224, 224), np.uint8))


def test_digit_to_mnist_fits_a_20_box_and_centres_the_ink():
    canvas = np.zeros((224, 224), np.uint8)
    canvas[10:110, 150:200] = 255  # an off-centre bar, 100 high and 50 wide

    digit = digit_to_mnist(Image.fromarray(canvas))

    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert 0.0 <= digit.min() and digit.max() <= 1.0
    rows = np.flatnonzero(digit.max(axis=1) > 0.05)
    cols = np.flatnonzero(digit.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 11
    ys, xs = np.indices(digit.shape)
    centre = ((ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum())
    np.testing.assert_allclose(centre, (13.5, 13.5), atol=0.75)
    assert not digit_to_mnist(np.zeros((50, 50), np.uint8)).any()


# ---------------------------------------------------------------- the Streamlit widget


def test_image_input_is_importable():
    from ui.upload import image_input

    assert callable(image_input)


APP = """
import streamlit as st
from ui.upload import image_input

img = image_input("t.img", label="Photo", draw=True, default="Coffee cup", max_side=256)
st.write("RESULT", "none" if img is None else f"{img.name}|{img.size}|{img.image.mode}")
"""


def test_image_input_under_apptest():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert "Coffee cup|(256, 171)|RGB" in at.markdown[0].value
    assert [w.label for w in at.segmented_control] == ["Photo: source"]
    assert at.selectbox[0].label == "Photo: sample photo"

    at.segmented_control[0].set_value("Upload").run()
    assert "none" in at.markdown[0].value
    uploader = at.file_uploader[0]
    assert uploader.label == "Photo: upload"

    uploader.set_value(("notes.png", b"plain text, not a picture", "image/png")).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["notes.png is not an image we can read; use JPEG, PNG, WebP, BMP or GIF."]
    assert "none" in at.markdown[0].value

    rgba = np.zeros((300, 600, 4), np.uint8)
    at.file_uploader[0].set_value(("clear.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"), "image/png")).run()
    assert not at.exception and not at.error
    assert [c.value for c in at.caption] == ["Transparent parts shown on white; scaled down from 600×300 to 256×128."]
    assert "clear.png|(256, 128)|RGB" in at.markdown[0].value

    at.segmented_control[0].set_value("Draw").run()
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["Draw a digit in the box"]
    assert "none" in at.markdown[0].value


def test_image_input_rejects_an_unknown_default():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(
        "from ui.upload import image_input\nimage_input('t.x', default='Not a sample')", default_timeout=30
    )
    at.run()
    assert at.exception and "sample photos" in at.exception[0].message

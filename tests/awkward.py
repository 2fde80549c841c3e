"""Awkward files that users upload, made in memory: every uploader of the lab gets all of them.

``AWKWARD_IMAGES`` maps a file name to ``(bytes, MIME type, accepted)``: ``accepted`` files must give a
picture (perhaps with a note), the others a plain message naming the file. The decompression bomb is a
real, valid PNG of 12,000 × 12,000 pixels (144 megapixels of black, 140 kB on disk), written row by row
so that making it never holds the picture in memory.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

BOMB_SIDE = 12_000


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid 8-bit greyscale PNG of ``side`` × ``side`` black pixels."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte 0, then the row
    parts = [packer.compress(row) for _ in range(side)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo(size=(160, 120)) -> Image.Image:
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], -1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


@functools.cache
def awkward_images() -> dict[str, tuple[bytes, str, bool]]:
    png = _encode(_photo(), "PNG")
    sixteen = Image.fromarray((np.linspace(0, 65535, 160 * 120).reshape(120, 160)).astype(np.uint16))
    rgba = _photo().convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((160, 120)))
    frames = [_photo().rotate(a) for a in (0, 90, 180)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "empty.png": (b"", "image/png", False),
        "notes.png": (b"a text file that only says it is a picture\n", "image/png", False),
        "truncated.png": (png[: len(png) // 2], "image/png", False),
        "cmyk.jpg": (_encode(_photo().convert("CMYK"), "JPEG", quality=90), "image/jpeg", True),
        "sixteen-bit.png": (_encode(sixteen, "PNG"), "image/png", True),
        "animated.gif": (gif.getvalue(), "image/gif", True),
        "transparent.png": (_encode(rgba, "PNG"), "image/png", True),
        "bomb.png": (bomb_png(), "image/png", False),
    }


AWKWARD_TEXTS: dict[str, tuple[bytes, bool]] = {
    "empty.txt": (b"", False),
    "picture.txt": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, False),
    "latin-1.txt": ("Crème brûlée à la française, déjà vu. ".encode("latin-1") * 40, False),
    "utf-16.txt": ("Ein kurzer Text auf Deutsch, über Bäume. ".encode("utf-16") * 40, False),
    "poem.txt": (("The rain in Spain stays mainly in the plain.\n" * 80).encode(), True),
}

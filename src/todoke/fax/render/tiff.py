"""Renderer stage, output: turns page rasters into one multi-page TIFF-F file.

Owns the bilevel conversion (threshold for text and line art, Floyd–Steinberg dither for
photos, both in Pillow's C code) and the TIFF-F writer: CCITT Group 4 (T.6), 1 bit per pixel,
WhiteIsZero, 1728 dots wide, 204 dpi across and 196 or 98 dpi down, one strip per page,
NewSubfileType = page and PageNumber set as RFC 2306 (TIFF Class F) asks. Pillow's libtiff
encoder produces the G4 data; the file around it is written here so the tags are exact.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops

from . import g4
from .model import XDPI

INK_THRESHOLD = 160  # grey levels below this become black when thresholding

_THRESHOLD_LUT = [0 if v < INK_THRESHOLD else 255 for v in range(256)]

_SHORT, _LONG, _RATIONAL, _ASCII = 3, 4, 5, 2


def threshold(image: Image.Image) -> Image.Image:
    """Bilevel image by a fixed threshold (text, line art)."""
    if image.mode == "1":
        return image
    if image.mode != "L":
        image = image.convert("L")
    return image.point(_THRESHOLD_LUT, "1")


def binarize(image: Image.Image) -> Image.Image:
    """Bilevel image of an already crisp (not anti-aliased) grey raster: cut at mid-grey."""
    if image.mode == "1":
        return image
    if image.mode != "L":
        image = image.convert("L")
    return image.convert("1", dither=Image.Dither.NONE)


def dither(image: Image.Image) -> Image.Image:
    """Bilevel image by Floyd–Steinberg error diffusion (photos)."""
    if image.mode == "1":
        return image
    if image.mode != "L":
        image = image.convert("L")
    return image.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def halve_lines(image: Image.Image) -> Image.Image:
    """Grey image at half the lines: fine (196 dpi) → standard (98 dpi)."""
    if image.mode != "L":
        image = image.convert("L")
    return image.reduce((1, 2))


def _g4_strip(page: Image.Image) -> bytes:
    """CCITT G4 data of one bilevel page, black = 1 (WhiteIsZero)."""
    # Pillow's "1" mode stores white as 1; inverted, its packed rows have the bits fax
    # machines expect (0 = white).
    inverted = ImageChops.invert(page)
    strip = g4.encode_strip(inverted.tobytes(), page.width, page.height)
    if strip is not None:
        return strip
    return _pillow_g4_strip(inverted)


def _pillow_g4_strip(inverted: Image.Image) -> bytes:
    """The fallback encoder: Pillow writes a TIFF (tagged BlackIsZero, which we drop) and we
    take its strip; our own tags then say WhiteIsZero."""
    page = inverted
    buf = io.BytesIO()
    stride = (page.width + 7) // 8
    inverted.save(buf, "TIFF", compression="group4", strip_size=stride * page.height + 1)
    data = buf.getvalue()
    offset, count = _single_strip(data)
    return data[offset : offset + count]


def _single_strip(data: bytes) -> tuple[int, int]:
    """(offset, length) of the one strip of a single-image little-endian TIFF."""
    if data[:4] != b"II*\x00":
        raise RuntimeError("unexpected TIFF byte order from the encoder")
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    found: dict[int, int] = {}
    for i in range(n):
        tag, typ, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        if tag in (273, 279):
            if count != 1:
                raise RuntimeError("the encoder wrote more than one strip")
            if typ == _SHORT:
                value &= 0xFFFF
            found[tag] = value
    return found[273], found[279]


@dataclass(frozen=True)
class EncodedPage:
    """One page already G4-encoded: the strip and its size."""

    strip: bytes
    width: int
    height: int


def encode_page(page: Image.Image) -> EncodedPage:
    """G4-encode one bilevel page."""
    if page.mode != "1":
        raise ValueError("pages must be bilevel")
    return EncodedPage(_g4_strip(page), page.width, page.height)


def encode_g4_tiff(pages: Sequence[Image.Image], ydpi: int, software: str = "todoke") -> bytes:
    """A multi-page TIFF-F file (G4, WhiteIsZero) from bilevel ("1") pages."""
    return write_tiff([encode_page(page) for page in pages], ydpi, software)


def write_tiff(pages: Sequence[EncodedPage], ydpi: int, software: str = "todoke") -> bytes:
    """A multi-page TIFF-F file from G4-encoded pages."""
    if not pages:
        raise ValueError("no pages")
    out = bytearray(b"II*\x00\x00\x00\x00\x00")  # first IFD offset patched below
    prev_next_ptr = 4
    total = len(pages)
    soft = software.encode("ascii", "replace") + b"\x00"
    for number, page in enumerate(pages):
        strip = page.strip
        strip_at = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        extra_at = len(out)
        xres_at, yres_at, soft_at = extra_at, extra_at + 8, extra_at + 16
        out += struct.pack("<IIII", XDPI, 1, ydpi, 1) + soft
        if len(out) % 2:
            out += b"\x00"
        entries = [
            (254, _LONG, 1, 2),  # NewSubfileType: single page of a multi-page image
            (256, _LONG, 1, page.width),
            (257, _LONG, 1, page.height),
            (258, _SHORT, 1, 1),
            (259, _SHORT, 1, 4),  # CCITT T.6 (Group 4)
            (262, _SHORT, 1, 0),  # WhiteIsZero
            (266, _SHORT, 1, 1),  # FillOrder MSB first
            (273, _LONG, 1, strip_at),
            (274, _SHORT, 1, 1),
            (277, _SHORT, 1, 1),
            (278, _LONG, 1, page.height),
            (279, _LONG, 1, len(strip)),
            (282, _RATIONAL, 1, xres_at),
            (283, _RATIONAL, 1, yres_at),
            (293, _LONG, 1, 0),  # T6Options
            (296, _SHORT, 1, 2),  # inch
            (297, _SHORT, 2, number | (total << 16)),  # PageNumber (n, total)
            (305, _ASCII, len(soft), soft_at if len(soft) > 4 else 0),
        ]
        ifd_at = len(out)
        struct.pack_into("<I", out, prev_next_ptr, ifd_at)
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if typ == _SHORT and count == 1:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        prev_next_ptr = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)

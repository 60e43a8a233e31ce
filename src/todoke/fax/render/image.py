"""Renderer stage, images: TIFF (every page), PNG, JPEG, GIF, BMP into fax pages.

Owns image input. Each image (each TIFF page) is decoded with Pillow, flattened on white,
turned to portrait when it is landscape, scaled to fit the fax page in physical units (its
own dpi is honoured, so a 204 × 98 fax TIFF keeps its shape) and made bilevel: line art and
scans by threshold, photos by contrast stretch, light sharpening and Floyd–Steinberg
dithering so they stay legible. An image that does not decode is a 204000.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .mime import ParsedMail, Part
from .model import XDPI, Geometry, cannot_convert
from .source import Source
from .tiff import dither, threshold

MAX_PIXELS = 80_000_000  # per image; larger ones are refused, not decoded
MAX_UPSCALE = 4.0  # small images grow to the page, but at most this much (at 204 dpi)
LINE_ART_SHARE = 0.92  # share of near-black / near-white pixels that makes it line art


def _undecodable(name: str, why: str) -> Exception:
    return cannot_convert(
        name, f"the image cannot be decoded ({why})",
        "画像ファイルを読み取れません（破損または非対応の形式）",
    )


class ImageSource(Source):
    """The pages (frames of a TIFF, else the first frame) of one image file."""

    def __init__(self, data: bytes, name: str, geometry: Geometry, multi_page: bool) -> None:
        self.geometry = geometry
        self.data = data
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                if image.width * image.height > MAX_PIXELS:
                    raise cannot_convert(
                        name,
                        f"the image is too large to fax ({image.width} × {image.height} pixels)",
                        "画像の画素数が大きすぎるため FAX に変換できません",
                    )
                count = getattr(image, "n_frames", 1) if multi_page else 1
                image.load()  # decode the first frame now: a broken file fails here
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _undecodable(name, str(exc) or type(exc).__name__) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise cannot_convert(
                name, "the image is too large to fax",
                "画像の画素数が大きすぎるため FAX に変換できません",
            ) from None
        self.image = image
        super().__init__(name, count)

    def page(self, index: int) -> Image.Image:
        try:
            self.image.seek(index)
            frame = self.image.copy()
            dpi = self.image.info.get("dpi")
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _undecodable(self.name, f"page {index + 1}: {exc}") from None
        return fit_image(frame, self.geometry, dpi)

    def close(self) -> None:
        self.image.close()


def _flatten(image: Image.Image) -> tuple[Image.Image, bool]:
    """(grey image on white, whether it was bilevel already)."""
    if image.mode == "1":
        return image.convert("L"), True
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = ImageOps.autocontrast(image.convert("I").point(lambda v: v / 256).convert("L"))
    return image.convert("L"), False


def _is_line_art(grey: Image.Image) -> bool:
    hist = grey.histogram()
    extremes = sum(hist[:48]) + sum(hist[208:])
    return extremes >= LINE_ART_SHARE * grey.width * grey.height


def fit_image(image: Image.Image, geometry: Geometry,
              dpi: tuple[float, float] | None = None) -> Image.Image:
    """A decoded image as a bilevel whole-sheet page (header band lines left white)."""
    image = ImageOps.exif_transpose(image) or image
    grey, bilevel = _flatten(image)
    xdpi, ydpi = (float(dpi[0]), float(dpi[1])) if dpi and dpi[0] and dpi[1] else (1.0, 1.0)
    if dpi is None or not (10 <= xdpi <= 4800 and 10 <= ydpi <= 4800):
        xdpi = ydpi = 1.0  # unknown: square pixels
    width_in, height_in = grey.width / xdpi, grey.height / ydpi
    if width_in > height_in * 1.05:  # landscape: turn clockwise, like a fax driver
        grey = grey.transpose(Image.Transpose.ROTATE_270)
        width_in, height_in = height_in, width_in
        xdpi, ydpi = ydpi, xdpi
    box_w, box_h = geometry.width / XDPI, geometry.content_height / geometry.ydpi
    scale = min(box_w / width_in, box_h / height_in)
    px_w = max(1, min(geometry.width, round(width_in * scale * XDPI)))
    px_h = max(1, min(geometry.content_height, round(height_in * scale * geometry.ydpi)))
    upscale = px_w / grey.width
    if upscale > MAX_UPSCALE:
        px_w = max(1, round(px_w * MAX_UPSCALE / upscale))
        px_h = max(1, round(px_h * MAX_UPSCALE / upscale))
    line_art = bilevel or _is_line_art(grey)
    if (px_w, px_h) != grey.size:
        grey = grey.resize((px_w, px_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if not line_art:
        grey = ImageOps.autocontrast(grey, cutoff=1)
        grey = grey.filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2))
    sheet = Image.new("L", (geometry.width, geometry.height), 255)
    sheet.paste(grey, ((geometry.width - px_w) // 2, geometry.header_lines))
    return threshold(sheet) if line_art else dither(sheet)


def open_part(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> Source:
    """The pages of an image attachment (every page of a TIFF)."""
    head = part.data[:4]
    multi = head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
    return ImageSource(part.data, part.name, geometry, multi_page=multi)

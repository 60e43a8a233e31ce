"""Renderer stage, header line: the line fax machines print across the top of each page.

Owns the header band: date and time (in the account's timezone), the sender or the /h text,
and "P.n/m", drawn after all pages are known so that m is the page count.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image, ImageDraw

from .fonts import cjk_font
from .model import Geometry
from .tiff import halve_lines, threshold

HEADER_FONT_PX = 26
HEADER_MARGIN_X = 48


class HeaderLine:
    """Draws the header band of each page; the part that does not change is drawn once."""

    def __init__(self, geometry: Geometry, text: str, total: int, now: datetime) -> None:
        self.geometry = geometry
        self.total = total
        self.fine = geometry.at_fine()
        self.font = cjk_font(HEADER_FONT_PX)
        self.y = (self.fine.header_lines - HEADER_FONT_PX) // 2 - 2
        self.right_w = int(self.font.getlength(f"P.{total}/{total}")) + 8
        left = f"{now:%Y/%m/%d %H:%M}   FROM: {text}".rstrip()
        room = self.fine.width - 2 * HEADER_MARGIN_X - self.right_w - 40
        while left and self.font.getlength(left) > room:
            left = left[:-1]
        band = Image.new("L", (self.fine.width, self.fine.header_lines), 255)
        ImageDraw.Draw(band).text((HEADER_MARGIN_X, self.y), left, font=self.font, fill=0)
        self.band = self._bilevel(band)

    def _bilevel(self, image: Image.Image) -> Image.Image:
        if not self.geometry.fine:
            image = halve_lines(image)
        return threshold(image)

    def page(self, number: int) -> Image.Image:
        """The bilevel band of page ``number`` (1-based)."""
        right = f"P.{number}/{self.total}"
        box = Image.new("L", (self.right_w, self.fine.header_lines), 255)
        width = self.font.getlength(right)
        ImageDraw.Draw(box).text((self.right_w - width, self.y), right, font=self.font, fill=0)
        band = self.band.copy()
        band.paste(self._bilevel(box), (self.fine.width - HEADER_MARGIN_X - self.right_w, 0))
        return band


def header_band(
    geometry: Geometry, text: str, page: int, total: int, now: datetime
) -> Image.Image:
    """The bilevel header band of page ``page`` of ``total``."""
    return HeaderLine(geometry, text, total, now).page(page)


def local_now(timezone: str) -> datetime:
    """Now in ``timezone`` (UTC when the name is unknown)."""
    try:
        return datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(ZoneInfo("UTC"))

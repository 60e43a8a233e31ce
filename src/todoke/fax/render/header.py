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


def header_band(
    geometry: Geometry, text: str, page: int, total: int, now: datetime
) -> Image.Image:
    """The bilevel header band of page ``page`` of ``total``."""
    fine = geometry.at_fine()
    band = Image.new("L", (fine.width, fine.header_lines), 255)
    draw = ImageDraw.Draw(band)
    font = cjk_font(HEADER_FONT_PX)
    y = (fine.header_lines - HEADER_FONT_PX) // 2 - 2
    left = f"{now:%Y/%m/%d %H:%M}   FROM: {text}".rstrip()
    right = f"P.{page}/{total}"
    right_w = font.getlength(right)
    room = fine.width - 2 * HEADER_MARGIN_X - right_w - 40
    while left and font.getlength(left) > room:
        left = left[:-1]
    draw.text((HEADER_MARGIN_X, y), left, font=font, fill=0)
    draw.text((fine.width - HEADER_MARGIN_X - right_w, y), right, font=font, fill=0)
    if not geometry.fine:
        band = halve_lines(band)
    return threshold(band)


def local_now(timezone: str) -> datetime:
    """Now in ``timezone`` (UTC when the name is unknown)."""
    try:
        return datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(ZoneInfo("UTC"))

"""Renderer stage, text parts: a text/plain body or attachment into fax pages.

Owns the glue between a MIME part and the text layout of ``text.py`` (charset decoding,
page budget).
"""

from __future__ import annotations

from PIL import Image

from .mime import ParsedMail, Part
from .model import Geometry
from .text import decode_text, render_text


def render(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> list[Image.Image]:
    """Pages of a text part."""
    text = decode_text(part.data, part.charset, part.name)
    return render_text(text, geometry, max_pages)

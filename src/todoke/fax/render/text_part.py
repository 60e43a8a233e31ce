"""Renderer stage, text parts: a text/plain body or attachment into fax pages.

Owns the glue between a MIME part and the text layout of ``text.py`` (charset decoding).
"""

from __future__ import annotations

from .mime import ParsedMail, Part
from .model import Geometry
from .source import Source
from .text import TextSource, decode_text


def open_part(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> Source:
    """The pages of a text part."""
    text = decode_text(part.data, part.charset, part.name)
    desc = "body (text/plain)" if part.name == "body" else None
    return TextSource(part.name, text, geometry, desc)

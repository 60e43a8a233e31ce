"""Fax renderer: turns a mail into true fax pages (TIFF-F, CCITT G4, 1728 dots, 204 dpi).

Owns the stage between the queue and the fax transports: the body (plain text in any
declared charset, HTML with its layout) and the attachments (PDF, TIFF, PNG, JPEG, GIF, BMP,
text, HTML, Office through LibreOffice) become 1-bit pages at 204 × 196 dpi (fine, /rf) or
204 × 98 dpi (standard, /rs) on A4, Letter or B4 (/ps), with the fax header line (/h, /hn)
and the body choice (/b, /bn, /bb). Limits: 100 pages, 20 MB (10 MB when S/MIME-signed).
Failures are RenderError with result code 204000 (cannot convert) or 204001 (over a limit),
naming the part and the reason in English and Japanese.

Standards: ITU-T T.4 / T.6 (page width, resolutions, Group 4), RFC 2306 (TIFF Class F),
RFC 2045–2047 and RFC 2231 (MIME, charsets, file names), RFC 2387 (multipart/related).
Settings read: none; all choices arrive in RenderOptions.

``render_mail`` renders in-process; ``render_isolated`` (what the worker calls) renders in a
separate process with a timeout and a memory limit.
"""

from __future__ import annotations

from .formats import is_supported_attachment
from .model import (
    CANNOT_CONVERT,
    MAX_BYTES,
    MAX_BYTES_SIGNED,
    MAX_PAGES,
    OVER_LIMIT,
    RenderedDocument,
    RenderError,
    RenderOptions,
)
from .pipeline import render_mail
from .pool import render_isolated

__all__ = [
    "CANNOT_CONVERT",
    "MAX_BYTES",
    "MAX_BYTES_SIGNED",
    "MAX_PAGES",
    "OVER_LIMIT",
    "RenderError",
    "RenderOptions",
    "RenderedDocument",
    "is_supported_attachment",
    "render_isolated",
    "render_mail",
]

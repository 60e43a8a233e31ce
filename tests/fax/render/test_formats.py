"""Which attachments ingest may accept, and how parts are told apart."""

from __future__ import annotations

import pytest

from todoke.fax.render import is_supported_attachment
from todoke.fax.render.formats import detect


@pytest.mark.parametrize(("ctype", "name", "ok"), [
    ("application/pdf", "a.pdf", True),
    ("application/octet-stream", "a.PDF", True),
    ("image/tiff", None, True),
    ("image/png", "x.png", True),
    ("image/jpeg", "x.jpg", True),
    ("image/gif", "x.gif", True),
    ("image/bmp", "x.bmp", True),
    ("text/plain", "x.txt", True),
    ("text/html", "x.html", True),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", True),
    ("application/octet-stream", "book.xlsx", True),
    ("application/octet-stream", "deck.pptx", True),
    ("application/vnd.oasis.opendocument.text", "a.odt", True),
    ("application/zip", "a.zip", False),
    ("application/octet-stream", "a.exe", False),
    ("application/octet-stream", None, False),
    ("message/rfc822", None, False),
    ("message/partial", None, False),
    ("video/mp4", "a.mp4", False),
])
def test_is_supported_attachment(ctype: str, name: str | None, ok: bool) -> None:
    assert is_supported_attachment(ctype, name) is ok


def test_bytes_decide_over_a_wrong_label() -> None:
    assert detect("application/octet-stream", "scan.jpg", b"%PDF-1.7\n...") == "pdf"
    assert detect("application/pdf", "x.pdf", b"\x89PNG\r\n\x1a\n....") == "image"
    assert detect("image/tiff", "x.tif", b"II*\x00....") == "tiff"

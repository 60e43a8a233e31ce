"""Renderer stage, format table: which module renders which attachment.

Owns format detection (magic bytes first, then the content type, then the file name's
extension) and the table of supported formats that ingest consults through
``is_supported_attachment``. The order of the table is data, not code.
"""

from __future__ import annotations

import os

# kind → (content types, extensions)
FORMATS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "pdf": (frozenset({"application/pdf", "application/x-pdf"}), frozenset({"pdf"})),
    "tiff": (frozenset({"image/tiff", "image/tif", "image/x-tiff"}), frozenset({"tif", "tiff"})),
    "image": (
        frozenset({
            "image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif",
            "image/bmp", "image/x-bmp", "image/x-ms-bmp",
        }),
        frozenset({"png", "jpg", "jpeg", "jpe", "gif", "bmp"}),
    ),
    "text": (frozenset({"text/plain"}), frozenset({"txt", "text"})),
    "html": (frozenset({"text/html", "application/xhtml+xml"}), frozenset({"html", "htm"})),
    "office": (
        frozenset({
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/rtf",
            "text/rtf",
        }),
        frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt", "rtf"}),
    ),
}

_GENERIC = frozenset({"application/octet-stream", "application/binary", "binary/octet-stream"})


def _extension(filename: str | None) -> str:
    if not filename:
        return ""
    return os.path.splitext(filename)[1].lower().lstrip(".")


def kind_by_name(content_type: str, filename: str | None) -> str | None:
    """The format kind declared by content type or extension, or None if unsupported."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    ext = _extension(filename)
    for kind, (types, _exts) in FORMATS.items():
        if ctype in types:
            return kind
    if ctype in _GENERIC or not ctype or ext:
        for kind, (_types, exts) in FORMATS.items():
            if ext in exts:
                return kind
    return None


def sniff(data: bytes) -> str | None:
    """The format kind from the first bytes, when they say it."""
    head = data[:16]
    if data[:1024].lstrip().startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")):
        return "image"
    return None


def detect(content_type: str, filename: str | None, data: bytes) -> str | None:
    """The kind to render ``data`` as: the bytes decide for binary formats."""
    declared = kind_by_name(content_type, filename)
    sniffed = sniff(data)
    if sniffed is not None and declared not in ("office",):
        return sniffed
    return declared


def is_supported_attachment(content_type: str, filename: str | None) -> bool:
    """Whether an attachment of this type / name can be faxed (ingest refuses the others)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.startswith("message/") or ctype.startswith("multipart/"):
        return False
    return kind_by_name(content_type, filename) is not None

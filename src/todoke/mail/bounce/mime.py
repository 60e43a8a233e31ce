"""Bounce stage, a small lazy MIME reader (RFC 2045/2046) tuned for bounce mails.

Owns splitting a raw mail into header fields and leaf parts without building the object
tree of the `email` package: headers are unfolded on demand, multipart bodies are cut at
their boundaries, and a part's payload is only decoded (base64, quoted-printable, charset)
when asked for. A returned original message (message/rfc822) is kept as bytes; its headers
are read only if a parser needs them. Malformed input degrades to "one text part".
"""

from __future__ import annotations

import binascii
import quopri
import re
from functools import cached_property

_HDR_END = re.compile(rb"\r?\n\r?\n")
_PARAM = re.compile(r'[;\s]\s*([A-Za-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_CHARSET_ALIAS = {"x-unknown": "latin-1", "unknown-8bit": "latin-1", "us-ascii": "latin-1",
                  "ascii": "latin-1", "x-sjis": "shift_jis", "cp932": "cp932",
                  "shift-jis": "shift_jis", "utf8": "utf-8"}


def parse_headers(block: str) -> dict[str, list[str]]:
    """Header fields of a header block: lower-case name -> values (unfolded, in order)."""
    out: dict[str, list[str]] = {}
    name = ""
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t":
            if name:
                vals = out[name]
                vals[-1] = f"{vals[-1]} {line.strip()}"
            continue
        k, sep, v = line.partition(":")
        if not sep or " " in k.strip():
            if name and "=" in line:  # a folded parameter line missing its indent
                vals = out[name]
                vals[-1] = f"{vals[-1]} {line.strip()}"
            else:
                name = ""
            continue
        name = k.strip().lower()
        out.setdefault(name, []).append(v.strip())
    return out


def split_message(raw: bytes) -> tuple[str, bytes]:
    """(header block as text, body bytes) of a message."""
    m = _HDR_END.search(raw)
    if not m:
        return raw.decode("latin-1"), b""
    return raw[:m.start()].decode("utf-8", "surrogateescape"), raw[m.end():]


def content_type(value: str) -> tuple[str, dict[str, str]]:
    """(type/subtype lower-case, parameters) of a Content-Type value."""
    main = (value.split(";", 1)[0].split() or ["text/plain"])[0].lower()
    if "/" not in main:
        main = "text/plain"
    params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(value)}
    return main, params


def decode_charset(data: bytes, charset: str) -> str:
    """Bytes to text in a declared charset, never failing."""
    cs = _CHARSET_ALIAS.get(charset.lower(), charset.lower()) if charset else "utf-8"
    try:
        return data.decode(cs, errors="replace")
    except (LookupError, UnicodeError, ValueError):  # unknown or garbled charset name
        return data.decode("utf-8", errors="replace")


class Part:
    """One MIME entity: headers, and a body decoded only on demand."""

    __slots__ = ("__dict__", "body", "headers")

    def __init__(self, headers: dict[str, list[str]], body: bytes) -> None:
        self.headers = headers
        self.body = body

    @classmethod
    def from_bytes(cls, raw: bytes) -> Part:
        head, body = split_message(raw)
        return cls(parse_headers(head), body)

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of a header field."""
        v = self.headers.get(name.lower())
        return v[0] if v else default

    @cached_property
    def _ctype(self) -> tuple[str, dict[str, str]]:
        return content_type(self.get("content-type") or "text/plain")

    def get_content_type(self) -> str:
        return self._ctype[0]

    def get_content_maintype(self) -> str:
        return self._ctype[0].split("/", 1)[0]

    def get_content_charset(self) -> str:
        return self._ctype[1].get("charset", "")

    def is_multipart(self) -> bool:
        return self._ctype[0].startswith("multipart/") and "boundary" in self._ctype[1]

    @cached_property
    def children(self) -> list[Part]:
        """Sub-parts of a multipart entity (empty for a leaf)."""
        if not self.is_multipart():
            return []
        sep = b"--" + self._ctype[1]["boundary"].encode("utf-8", "surrogateescape")
        chunks = self.body.split(sep)
        out = []
        for chunk in chunks[1:]:
            if chunk.startswith(b"--"):
                break
            if chunk.startswith(b"\r\n"):
                chunk = chunk[2:]
            elif chunk.startswith(b"\n"):
                chunk = chunk[1:]
            else:  # the boundary string occurred inside a line: not a delimiter
                continue
            if chunk[:1] in (b"\n", b"\r"):  # a part without headers
                out.append(Part({}, chunk.lstrip(b"\r\n")))
            else:
                out.append(Part.from_bytes(chunk))
        if not out and chunks:
            out.append(Part({}, chunks[0]))
        return out

    @cached_property
    def payload(self) -> bytes:
        """Body with the transfer encoding undone."""
        cte = (self.get("content-transfer-encoding") or "").strip().lower()
        if cte == "base64":
            try:
                return binascii.a2b_base64(self.body)
            except (binascii.Error, ValueError):
                return self.body
        if cte == "quoted-printable":
            return quopri.decodestring(self.body)
        return self.body

    @cached_property
    def text(self) -> str:
        """Payload as text in the part's charset."""
        return decode_charset(self.payload, self.get_content_charset()).replace("\r\n", "\n")

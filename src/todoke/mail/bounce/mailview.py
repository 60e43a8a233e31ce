"""Bounce stage, lazy view of a mail: split once with `mime.py`, decode parts only on demand.

Owns how the classifier reads a message: header lookup, the readable text of the report, the
message/delivery-status blocks, and the headers of the returned original message.
"""

from __future__ import annotations

import re
from functools import cached_property

from .mime import Part, parse_headers, split_message

_ADDR = re.compile(r"<?([^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+\.[A-Za-z0-9-]+)>?")
_OPAQUE = frozenset({
    "message/rfc822", "text/rfc822-headers", "message/delivery-status",
    "message/global-delivery-status", "message/feedback-report", "message/global",
    "message/global-headers",
})
_ORIGINAL = frozenset({"message/rfc822", "text/rfc822-headers", "message/global",
                       "message/global-headers"})


def decode_payload(part: Part) -> str:
    """Decoded text of a leaf part (transfer and character encoding)."""
    return part.text


def header_text(value: str | None) -> str:
    """RFC 2047-decoded header value ("" for none)."""
    if not value:
        return ""
    value = str(value)
    if "=?" not in value:
        return value
    from email.header import decode_header  # only for encoded words: keeps start-up short

    out = []
    try:
        for chunk, cs in decode_header(value):
            if isinstance(chunk, bytes):
                try:
                    out.append(chunk.decode(cs or "latin-1", errors="replace"))
                except (LookupError, UnicodeError, ValueError):
                    out.append(chunk.decode("latin-1"))
            else:
                out.append(chunk)
    except Exception:  # malformed encoded words: keep the raw text
        return value
    return "".join(out)


def find_address(text: str) -> str:
    """First mail address in a text, without brackets."""
    m = _ADDR.search(text)
    if not m:
        return ""
    addr = m.group(1).strip(".")
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    return addr


class MailView:
    """A mail split into parts, with lazily computed pieces."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.msg: Part = Part.from_bytes(raw)

    def header(self, name: str) -> str:
        """Decoded value of a header of the bounce itself."""
        return header_text(self.msg.get(name))

    @cached_property
    def subject(self) -> str:
        return " ".join(self.header("Subject").split())

    @cached_property
    def sender(self) -> str:
        return self.header("From")

    @cached_property
    def content_type(self) -> str:
        return self.msg.get_content_type()

    @cached_property
    def parts(self) -> list[Part]:
        """All leaf parts outside the returned original message, in order."""
        out: list[Part] = []

        def walk(p: Part, depth: int) -> None:
            if p.is_multipart() and depth < 8:
                for sub in p.children:
                    if sub.get_content_type() in _OPAQUE:
                        out.append(sub)
                    else:
                        walk(sub, depth + 1)
            else:
                out.append(p)

        if self.content_type in _OPAQUE:
            return [self.msg]
        walk(self.msg, 0)
        return out

    @cached_property
    def dsn_texts(self) -> list[str]:
        """Texts of message/delivery-status parts."""
        return [
            p.text for p in self.parts
            if p.get_content_type() in ("message/delivery-status",
                                        "message/global-delivery-status")
        ]

    @cached_property
    def text(self) -> str:
        """The human-readable report: text parts before the original message, decoded."""
        if not self.msg.is_multipart():
            body = self.msg.text
            return _strip_html(body) if self.content_type == "text/html" else body
        chunks = []
        for p in self.parts:
            ct = p.get_content_type()
            if ct in _ORIGINAL:
                break
            if ct == "text/plain" or (ct == "text/html" and not chunks):
                body = p.text
                chunks.append(_strip_html(body) if ct == "text/html" else body)
        return "\n".join(chunks)

    @cached_property
    def original_headers(self) -> dict[str, str]:
        """Headers of the returned original message (lower-case names), {} when absent."""
        for p in self.parts:
            if p.get_content_type() in _ORIGINAL:
                head, _ = split_message(p.payload)
                return {k: header_text(v[0]) for k, v in parse_headers(head).items()}
        return _headers_in_text(self.text_all)

    @cached_property
    def text_all(self) -> str:
        """The whole decoded body text (for bounces that inline the original message)."""
        if not self.msg.is_multipart():
            return self.msg.text
        return "\n".join(p.text for p in self.parts if p.get_content_maintype() == "text")


_TAGS = re.compile(r"<[^>]+>")
_BR = re.compile(r"<(?:br|/p|/div|/tr|p|div)\b[^>]*>", re.I)


def _strip_html(html: str) -> str:
    text = _BR.sub("\n", html)
    text = _TAGS.sub("", text)
    return text.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace(
        "&amp;", "&"
    )


_HDR_LINE = re.compile(r"^(To|From|Subject|Message-Id|Date):[ \t]*(.*)$", re.I | re.M)


def _headers_in_text(text: str) -> dict[str, str]:
    """Headers of an original message pasted inline into a text body (last block wins)."""
    out: dict[str, str] = {}
    for m in _HDR_LINE.finditer(text):
        out[m.group(1).lower()] = m.group(2).strip()
    return out

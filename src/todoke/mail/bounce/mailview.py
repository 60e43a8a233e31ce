"""Bounce stage, lazy view of a mail: parse once with compat32, decode parts only on demand.

Owns how the classifier reads a message: header lookup, the readable text of the report, the
message/delivery-status blocks, and the headers of the returned original message.
"""

from __future__ import annotations

import email
import email.message
import re
from email.header import decode_header
from email.policy import compat32
from functools import cached_property

_ADDR = re.compile(r"<?([^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+\.[A-Za-z0-9-]+)>?")
_CHARSET_FIX = {"x-unknown": "latin-1", "unknown-8bit": "latin-1", "us-ascii": "latin-1"}


def decode_payload(part: email.message.Message) -> str:
    """Decoded text of a non-multipart part (transfer and character encoding)."""
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    if not isinstance(data, bytes):
        return str(data)
    charset = (part.get_content_charset() or "latin-1").lower()
    charset = _CHARSET_FIX.get(charset, charset)
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("latin-1")


def header_text(value: str | None) -> str:
    """RFC 2047-decoded header value ("" for none)."""
    if not value:
        return ""
    value = str(value)
    if "=?" not in value:
        return value
    out = []
    try:
        for chunk, cs in decode_header(str(value)):
            if isinstance(chunk, bytes):
                try:
                    out.append(chunk.decode(cs or "latin-1", errors="replace"))
                except LookupError:
                    out.append(chunk.decode("latin-1"))
            else:
                out.append(chunk)
    except Exception:  # malformed encoded words: keep the raw text
        return str(value)
    return "".join(out)


def find_address(text: str) -> str:
    """First mail address in a text, lower-cased as written, without brackets."""
    m = _ADDR.search(text)
    if not m:
        return ""
    addr = m.group(1).strip(".")
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    return addr


class MailView:
    """A parsed mail with lazily computed pieces."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.msg: email.message.Message = email.message_from_bytes(raw, policy=compat32)

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
    def parts(self) -> list[email.message.Message]:
        """All leaf parts outside the returned original message, in order."""
        out: list[email.message.Message] = []

        def walk(m: email.message.Message) -> None:
            if m.is_multipart():
                for sub in m.get_payload():
                    if sub.get_content_type() in _OPAQUE:
                        out.append(sub)
                        continue
                    walk(sub)
            else:
                out.append(m)

        if self.msg.get_content_type() in _OPAQUE:
            return [self.msg]
        walk(self.msg)
        return out

    @cached_property
    def dsn_texts(self) -> list[str]:
        """Texts of message/delivery-status parts (and the odd MTA that mislabels them)."""
        out = []
        for p in self.parts:
            ct = p.get_content_type()
            if ct in ("message/delivery-status", "message/global-delivery-status"):
                payload = p.get_payload()
                if isinstance(payload, list):  # compat32 parses it into header blocks
                    out.append("\n\n".join(m.as_string() for m in payload))
                else:
                    out.append(decode_payload(p))
        return out

    @cached_property
    def text(self) -> str:
        """The human-readable report: text parts before the original message, decoded."""
        if not self.msg.is_multipart():
            return decode_payload(self.msg)
        chunks = []
        for p in self.parts:
            ct = p.get_content_type()
            if ct in ("message/rfc822", "text/rfc822-headers"):
                break
            if ct == "text/plain" or (ct == "text/html" and not chunks):
                body = decode_payload(p)
                if ct == "text/html":
                    body = _strip_html(body)
                chunks.append(body)
        return "\n".join(chunks)

    @cached_property
    def original_headers(self) -> dict[str, str]:
        """Headers of the returned original message (lower-case names), {} when absent."""
        for p in self.parts:
            ct = p.get_content_type()
            if ct == "message/rfc822":
                payload = p.get_payload()
                if isinstance(payload, list) and payload:
                    inner = payload[0]
                    return {k.lower(): header_text(v) for k, v in inner.items()}
            if ct == "text/rfc822-headers":
                inner = email.message_from_string(decode_payload(p), policy=compat32)
                return {k.lower(): header_text(v) for k, v in inner.items()}
        return _headers_in_text(self.text_all)

    @cached_property
    def text_all(self) -> str:
        """The whole decoded body text (for bounces that inline the original message)."""
        if not self.msg.is_multipart():
            return decode_payload(self.msg)
        return "\n".join(
            decode_payload(p) for p in self.parts if p.get_content_maintype() == "text"
        )


_OPAQUE = frozenset({
    "message/rfc822", "text/rfc822-headers", "message/delivery-status",
    "message/global-delivery-status", "message/feedback-report",
})
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

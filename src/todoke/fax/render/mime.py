"""Renderer stage, mail structure: splits a raw mail into the body and the parts to fax.

Owns the MIME walk: the text/plain and text/html bodies, the attachments in mail order
(RFC 2231 and RFC 2047 file names decoded), and the resources an HTML body refers to by
``cid:`` (the non-root parts of multipart/related). Forwarded messages are not entered.
"""

from __future__ import annotations

import email
import email.header
import email.message
import html.parser
from dataclasses import dataclass, field


@dataclass
class Part:
    """One leaf of the mail: an attachment, a body, or a related resource."""

    name: str
    content_type: str
    filename: str | None
    data: bytes
    charset: str | None
    content_id: str | None = None


@dataclass
class ParsedMail:
    plain: Part | None = None
    html: Part | None = None
    attachments: list[Part] = field(default_factory=list)
    related: dict[str, Part] = field(default_factory=dict)  # content-id (no <>) → part


def _decode_words(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(value))).strip()
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return value.strip()


def _content_id(msg: email.message.Message) -> str | None:
    cid = msg.get("Content-ID")
    if not cid:
        return None
    return str(cid).strip().strip("<>").strip() or None


def _leaf(msg: email.message.Message, name: str) -> Part:
    payload = msg.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = _decode_words(msg.get_filename())
    return Part(
        name=filename or name,
        content_type=msg.get_content_type(),
        filename=filename,
        data=data,
        charset=msg.get_content_charset(),
        content_id=_content_id(msg),
    )


def parse_mail(raw: bytes) -> ParsedMail:
    """The body candidates, attachments (in order) and related resources of ``raw``."""
    msg = email.message_from_bytes(raw)
    out = ParsedMail()
    counter = [0]

    def visit(node: email.message.Message, resource: bool) -> None:
        ctype = node.get_content_type()
        if node.is_multipart() and ctype != "message/rfc822":
            children = node.get_payload()
            assert isinstance(children, list)
            if ctype == "multipart/related" and children:
                start = node.get_param("start")
                root_index = 0
                if isinstance(start, str):
                    wanted = start.strip().strip("<>")
                    for i, child in enumerate(children):
                        if _content_id(child) == wanted:
                            root_index = i
                for i, child in enumerate(children):
                    visit(child, resource or i != root_index)
            else:
                for child in children:
                    visit(child, resource)
            return
        counter[0] += 1
        disposition = (node.get_content_disposition() or "").lower()
        part = _leaf(node, f"part {counter[0]} ({ctype})")
        if ctype == "message/rfc822":
            part.data = node.as_bytes()
            out.attachments.append(part)
            return
        if resource:
            if part.content_id:
                out.related[part.content_id] = part
            return
        is_body_text = (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and part.filename is None
        )
        if is_body_text and ctype == "text/plain" and out.plain is None:
            out.plain = part
            part.name = "body"
        elif is_body_text and ctype == "text/html" and out.html is None:
            out.html = part
            part.name = "body"
        else:
            out.attachments.append(part)

    visit(msg, False)
    return out


class _TextOnly(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag == "img":
            self.text.append("[img]")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.text.append(data)


def html_has_content(markup: str) -> bool:
    """Whether an HTML body shows any text or image (only used to decide what to fax)."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return any(chunk.strip() for chunk in parser.text)

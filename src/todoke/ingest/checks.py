"""Ingest: the checks a fax mail from an authorised sender must pass, and what is kept of it.

SUMMARY   Authentication first (S/MIME signature, FaxInfo.XML ticket, password in the body),
          then the content (message/partial, unsupported attachments, nothing to fax).
          Each refusal carries its exact message. What is kept for rendering is the mail
          without its signature, its ticket and its password line: a password is never stored.
PASSWORD  a line ``Password: <password>`` (also ``パスワード:``; full-width colon allowed) in
          the first text/plain body part; the line is removed before the mail is kept.
TICKET    an attachment named ``FaxInfo.XML`` (any case) holding the account's key:
          ``<FaxInfo><Key>…</Key></FaxInfo>`` (a ``key`` attribute on the root works too).
STANDARDS RFC 2046 (message/partial), RFC 1847 / RFC 8551 (S/MIME), RFC 3463 (status codes).
"""

from __future__ import annotations

import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import TypeVar

from todoke.accounts import verify_password
from todoke.fax.render import is_supported_attachment

NO_PASSWORD = "*** Cannot find password in body ***"
NO_BODY_FOR_PASSWORD = "*** No body is available for checking password ***"
BAD_PASSWORD = "*** Could not authenticate with password from body ***"
NO_RECIPIENTS = "*** No recipients found ***"
UNSUPPORTED = "*** Message contains unsupported attachments ***"
NO_TICKET = "*** Failed ticket authentication - FaxInfo.XML not found ***"
NO_SIGNATURE = "*** Cannot authenticate - signature not found ***"
NO_DOCUMENTS = "*** No documents found ***"
# todoke's own, in the same style, where the service's list has no message
BAD_TICKET = "*** Failed ticket authentication - invalid key ***"
BAD_SIGNATURE = "*** Cannot authenticate - signature not valid ***"

# message → SMTP reply code and enhanced status (RFC 3463)
REPLIES: dict[str, tuple[int, str]] = {
    NO_PASSWORD: (550, "5.7.1"),
    NO_BODY_FOR_PASSWORD: (550, "5.7.1"),
    BAD_PASSWORD: (550, "5.7.1"),
    NO_RECIPIENTS: (550, "5.1.3"),
    UNSUPPORTED: (554, "5.6.1"),
    NO_TICKET: (550, "5.7.1"),
    BAD_TICKET: (550, "5.7.1"),
    NO_SIGNATURE: (550, "5.7.1"),
    BAD_SIGNATURE: (550, "5.7.1"),
    NO_DOCUMENTS: (554, "5.6.0"),
}
KNOWN_REFUSALS = frozenset(REPLIES)

_PASSWORD_LINE = re.compile(r"^[ \t]*(?:password|パスワード)[ \t]*[:：][ \t]*(\S.*?)[ \t\r]*$",
                            re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"<[^>]*>|&nbsp;|&#160;")
_SIGNATURE_TYPES = {"application/pkcs7-signature", "application/x-pkcs7-signature"}
_OPAQUE_TYPES = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
TICKET_NAME = "faxinfo.xml"
MAX_TICKET = 64 * 1024


class Refused(Exception):
    """The mail is refused with ``message``; ``wrong_password`` counts toward the lock."""

    def __init__(self, message: str, wrong_password: bool = False, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.wrong_password = wrong_password
        self.detail = detail

    @property
    def reply(self) -> str:
        code, status = REPLIES.get(self.message, (550, "5.0.0"))
        return f"{code} {status} {self.message}"


@dataclass(frozen=True)
class AuthPolicy:
    """What an account requires of its fax mail."""

    require_password: bool = False
    password_hash: str | None = None
    locked: bool = False
    require_ticket: bool = False
    ticket_key: str | None = None
    require_smime: bool = False
    smime_certs: tuple[bytes, ...] = ()


@dataclass
class Checked:
    """A mail that passed authentication."""

    raw: bytes  # what is kept and rendered: no signature, ticket or password line
    content_error: str | None = None  # UNSUPPORTED or NO_DOCUMENTS, refused after recipients
    password_used: bool = False
    notes: list[str] = field(default_factory=list)


_BROKEN = (LookupError, ValueError, TypeError, UnicodeError, MessageError)
T = TypeVar("T")


def _safe(call: Callable[[], T], fallback: T) -> T:
    """``call()``, or ``fallback`` when the ``email`` package trips over a broken header."""
    try:
        return call()
    except _BROKEN:
        return fallback


def _filename(part: Message) -> str | None:
    """The part's file name; "" when it has one that cannot be decoded."""
    name = _safe(part.get_filename, "")
    if not name:
        return name
    from todoke.ingest.faxmail import decode_text

    return decode_text(name)


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or _filename(part) is not None


def _text_of(part: Message) -> str:
    payload = _safe(lambda: part.get_payload(decode=True), None)
    if not isinstance(payload, bytes):
        return ""
    charset = _safe(part.get_content_charset, None) or "utf-8"
    for candidate in (charset, "utf-8", "cp932", "euc-jp"):
        try:
            return payload.decode(candidate)
        except (LookupError, ValueError):
            continue
    return payload.decode("utf-8", "replace")


def _unwrap_signed(message: Message, raw: bytes) -> tuple[Message, bool]:
    """The signed content of an S/MIME mail, with the outer headers; (message, was_signed)."""
    ctype = message.get_content_type()
    if ctype == "multipart/signed":
        payload = message.get_payload()
        if isinstance(payload, list) and payload:
            inner = payload[0]
            return _with_outer_headers(message, inner), True
        return message, True
    smime_type = str(_safe(lambda: message.get_param("smime-type"), None) or "signed")
    if ctype in _OPAQUE_TYPES and "signed" in smime_type:
        from todoke.ingest.smime import inner_content

        inner = BytesParser(policy=compat32).parsebytes(inner_content(raw))
        return _with_outer_headers(message, inner), True
    return message, False


def _with_outer_headers(outer: Message, inner: Message) -> Message:
    for name, value in outer.items():
        if name.lower().startswith("content-") or name.lower() == "mime-version":
            continue
        inner[name] = value
    return inner


def _ticket_key(part: Message) -> str | None:
    data = _safe(lambda: part.get_payload(decode=True), None)
    if not isinstance(data, bytes) or len(data) > MAX_TICKET:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.get("key"):
        return root.get("key", "").strip()
    for element in root.iter():
        if element.tag.split("}")[-1].lower() == "key" and element.text:
            return element.text.strip()
    return None


def _remove_parts(message: Message, doomed: list[Message]) -> None:
    for part in message.walk():
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            part.set_payload([p for p in payload if not any(p is d for d in doomed)])


def check_mail(raw: bytes, policy: AuthPolicy, now: datetime | None = None) -> Checked:
    """Run the checks; raise Refused, or return what to keep (and a content error, if any)."""
    message = BytesParser(policy=compat32).parsebytes(raw)
    changed = False
    signed = message.get_content_type() == "multipart/signed" or (
        message.get_content_type() in _OPAQUE_TYPES)
    if policy.require_smime:
        if not signed:
            raise Refused(NO_SIGNATURE)
        from todoke.ingest.smime import check_smime

        result = check_smime(raw, list(policy.smime_certs), now)
        if not result.valid:
            raise Refused(BAD_SIGNATURE, detail=result.reason)
    if signed:
        message, _ = _unwrap_signed(message, raw)
        changed = True

    partial = False
    ticket: Message | None = None
    signatures: list[Message] = []
    bodies: list[Message] = []
    attachments: list[tuple[str, str | None]] = []
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/partial":
            partial = True
            continue
        if part.is_multipart():
            continue
        name = _filename(part)
        if name is not None and name.strip().lower() == TICKET_NAME:
            ticket = part
        elif ctype in _SIGNATURE_TYPES:
            signatures.append(part)
        elif ctype in ("text/plain", "text/html") and not _is_attachment(part):
            bodies.append(part)
        else:
            attachments.append((ctype, name))

    if policy.require_ticket:
        if ticket is None:
            raise Refused(NO_TICKET)
        key = _ticket_key(ticket)
        if not key or not policy.ticket_key or not hmac.compare_digest(
                key.encode(), policy.ticket_key.encode()):
            raise Refused(BAD_TICKET)
    if ticket is not None or signatures:
        _remove_parts(message, [*([ticket] if ticket is not None else []), *signatures])
        changed = True

    password_used = False
    if policy.require_password:
        plain = next((p for p in bodies if p.get_content_type() == "text/plain"), None)
        if plain is None:
            raise Refused(NO_BODY_FOR_PASSWORD)
        text = _text_of(plain)
        match = _PASSWORD_LINE.search(text)
        if match is None:
            raise Refused(NO_PASSWORD)
        if policy.locked:
            raise Refused(BAD_PASSWORD, detail="account locked")
        if not verify_password(match.group(1), policy.password_hash):
            raise Refused(BAD_PASSWORD, wrong_password=True)
        cleaned = (text[: match.start()] + text[match.end():]).lstrip("\r\n")
        del plain["Content-Transfer-Encoding"]
        del plain["Content-Type"]  # rewritten as UTF-8 text, whatever it declared before
        plain["Content-Type"] = "text/plain"
        plain.set_payload(cleaned, "utf-8")
        changed = True
        password_used = True

    content_error = None
    if partial or any(not is_supported_attachment(t, n) for t, n in attachments):
        content_error = UNSUPPORTED
    elif not attachments and not any(_has_text(p) for p in bodies):
        content_error = NO_DOCUMENTS
    kept = raw
    if changed:
        try:
            kept = message.as_bytes()
        except _BROKEN as exc:  # keeping the original would keep the credentials: refuse
            raise Refused(UNSUPPORTED, detail=f"cannot re-encode the mail: {exc}") from exc
    return Checked(kept, content_error, password_used)


def _has_text(part: Message) -> bool:
    text = _text_of(part)
    if part.get_content_type() == "text/html":
        text = _TAG.sub(" ", re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text))
    return bool(text.strip())

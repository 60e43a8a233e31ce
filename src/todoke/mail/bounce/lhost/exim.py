"""Bounce stage, lhost parser for Exim.

Exim (deliver.c, the bounce_message_text template) writes "Mail delivery failed: returning
message to sender" with "The following address(es) failed:", then per recipient an indented
address line ("  rcpt@example.org" or "  rcpt@example.org:") and the error indented deeper,
with X-Failed-Recipients: naming them. Newer versions add a message/delivery-status part.
"""

from __future__ import annotations

import re

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_SUBJECT = re.compile(r"^(?:mail delivery failed|mail failure - |warning: message \S+ delayed|"
                      r"mail failure|delivery status notification)", re.I)
_START = re.compile(r"address\(es\) (?:failed|deferred)|incorrectly constructed|"
                    r"could not be delivered to (?:one or more|all) of its|"
                    r"has not yet been delivered|could not be delivered to one or more", re.I)
_RCPT = (
    re.compile(rf"^  ({_text.ADDR}):?\s*$"),
    re.compile(rf"^  {_text.ADDR} <({_text.ADDR})>:\s*(.*)$"),
    re.compile(rf"^  ({_text.ADDR})\s*(<.*)$"),
    re.compile(rf"^  pipe to \|\S+.*?\b({_text.ADDR})()"),
    re.compile(rf"^  ({_text.ADDR}):?\s+(\S.*)$"),
)
_END = re.compile(r"^-{2,} ?(?:this is a copy|the header of the original|original message)"
                  r"|^-{6} (?:pipe|This)|^Content-type: message/", re.I)
_EXPIRED = re.compile(r"(?:retry timeout exceeded|have been failing for a long time|"
                      r"retry time not reached for any host after a long failure period)", re.I)
_PIPE = re.compile(r"^  pipe to \|", re.M)
_MALFORMED = re.compile(r"incorrectly constructed|malformed address", re.I)


def match(mail: MailView) -> bool:
    if mail.msg.get("X-Failed-Recipients"):
        return True
    if "exim" in (mail.msg.get("Message-Id") or "").lower():
        return True
    return bool(_SUBJECT.search(mail.subject)) and (
        "mail delivery software" in mail.text or "incorrectly constructed" in mail.text
    )


@parser("exim", match)
def parse(mail: MailView) -> list[Finding] | None:
    text = mail.text
    lines = _text.region(text, _START, _END)
    found = _text.blocks(lines, _RCPT, max_lines=14)
    for f in found:
        if "pipe to |" in f.diagnostic or _PIPE.search(text):
            f.reason = "mailererror"
        if _EXPIRED.search(f.diagnostic):
            f.reason, f.action = "expired", "delayed"
        if _MALFORMED.search(text):
            f.reason = "syntaxerror"
    dsn = rfc3464.parse(mail)
    if dsn:
        rfc3464.merge(dsn, found)
        for d in dsn:
            t = next((x for x in found if x.recipient.lower() == d.recipient.lower()), None)
            if t is not None and t.reason:
                d.reason = t.reason
            if t is not None and not d.diagnostic.strip(". "):
                d.diagnostic = t.diagnostic
        return dsn
    if not found:
        failed = mail.header("X-Failed-Recipients")
        if failed:
            diag = _text.flat(lines)
            found = [Finding(recipient=a.strip(), diagnostic=diag)
                     for a in failed.split(",") if "@" in a]
    if found and not any(f.diagnostic for f in found):
        whole = _text.flat(_text.cut(text))
        for f in found:
            f.diagnostic = whole
    return found or None

"""Bounce stage, lhost parser for Postfix.

Postfix's bounce daemon (src/bounce/bounce_notify_util.c) writes "Undelivered Mail Returned
to Sender" / "Delayed Mail (still being retried)" from MAILER-DAEMON: "This is the mail system
at host ...", per recipient "<rcpt>: host mx[ip] said: 550 ... (in reply to RCPT TO
command)", then an RFC 3464 part (Diagnostic-Code "smtp;" or "X-Postfix;") and the original
message or its headers. Very old versions send the readable part only.
"""

from __future__ import annotations

import re

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from ..smtp import find_command
from . import _text, parser

_SUBJECT = re.compile(r"^(?:undelivered mail returned to sender|delayed mail \(still being "
                      r"retried\)|mail delivery status report|successful mail delivery report)",
                      re.I)
_START = re.compile(r"^\s*The mail system\s*$|^\s*This is the mail system at host", re.I)
_RCPT = (re.compile(rf"^\s*<({_text.ADDR})>(?: \(expanded from <[^>]+>\))?:\s*(.*)$"),)


def match(mail: MailView) -> bool:
    return bool(_SUBJECT.search(mail.subject)) and "This is the mail system" in mail.text


@parser("postfix", match)
def parse(mail: MailView) -> list[Finding] | None:
    lines = _text.region(mail.text, _START)
    talk = _text.blocks(lines, _RCPT, max_lines=20)
    for t in talk:
        t.command = find_command(t.diagnostic)
    dsn = rfc3464.parse(mail)
    if not dsn:
        return talk or None
    rfc3464.merge(dsn, talk)
    return dsn

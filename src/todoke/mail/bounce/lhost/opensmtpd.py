"""Bounce stage, lhost parser for OpenSMTPD.

OpenSMTPD (smtpd/bounce.c) writes "Delivery status notification: error|delayed" from
MAILER-DAEMON: a "Hi!" preamble, "...for the following list of recipients:", one line per
recipient "rcpt@example.org: <error text>", then "Below is a copy of the original message:".
Its DSN part carries only a generic status, so the per-recipient line is what counts.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_START = re.compile(r"list of recipients:?\s*$", re.I)
_END = re.compile(r"below is a copy of the original message|^\s*-{3,}", re.I)
_RCPT = (re.compile(rf"^\s*({_text.ADDR}):\s*(.*)$"),)
#: OpenSMTPD's own error texts (smtpd/mta.c, smtpd/lka.c).
_OWN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"envelope expired", re.I), "expired"),
    (re.compile(r"network error on destination mxs", re.I), "networkerror"),
    (re.compile(r"domain does not exist", re.I), "hostunknown"),
    (re.compile(r"no mx found for domain", re.I), "notaccept"),
    (re.compile(r"invalid user|unknown user", re.I), "userunknown"),
)


def match(mail: MailView) -> bool:
    return mail.subject.lower().startswith("delivery status notification:") and (
        "This is the MAILER-DAEMON" in mail.text
    )


@parser("opensmtpd", match)
def parse(mail: MailView) -> list[Finding] | None:
    lines = _text.region(mail.text, _START, _END)
    found = _text.blocks(lines, _RCPT, max_lines=0)
    for f in found:
        for rx, r in _OWN:
            if rx.search(f.diagnostic):
                f.reason = r
                break
    return found or None

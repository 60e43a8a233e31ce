"""Bounce stage, lhost parser for Microsoft Exchange Server 2000/2003 non-delivery reports.

Layout: "Your message ... did not reach the following recipient(s):", then per recipient
"rcpt@example.org on <date>", the reason sentence and an "MSEXCH:..." line, indented. The
MSEXCH status code in parentheses names the cause (Microsoft KB 284204 "Delivery status
notifications in Exchange Server"): 000C05A6 / 000C05A7 recipient not found, etc.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_START = re.compile(r"did not reach the following recipient", re.I)
_RCPT = (re.compile(rf"^\s*({_text.ADDR}) on \S.*$"), re.compile(rf"^\s*<?({_text.ADDR})>?\s*$"))
_CODE = re.compile(r"\((000[0-9A-F]{5})\)")
CODES: dict[str, str] = {
    "000C05A6": "userunknown",   # recipient not found in the directory
    "000C05A7": "userunknown",
    "000D06AE": "hostunknown",   # no route to the recipient's domain
    "0000FAA6": "expired",       # delivery time-out
    "000C05BE": "mailboxfull",   # mailbox quota exceeded
    "000C0595": "networkerror",  # message loop
}


def match(mail: MailView) -> bool:
    return bool(_START.search(mail.text)) and (
        "MSEXCH:" in mail.text or "microsoft" in (mail.msg.get("X-Mailer") or "").lower()
    )


@parser("exchange2003", match)
def parse(mail: MailView) -> list[Finding] | None:
    found = _text.blocks(_text.region(mail.text, _START), _RCPT)
    for f in found:
        m = _CODE.search(f.diagnostic)
        if m and m.group(1) in CODES:
            f.reason = CODES[m.group(1)]
    return found or None

"""Bounce stage, lhost parser for Microsoft Exchange Server 2007 and later (and Office 365).

Exchange writes an RFC 3464 DSN whose human part ends with "Diagnostic information for
administrators:"; when it gave up after remote errors it quotes the last answer of the
remote host there: "... returned '441 4.4.1 Error encountered while communicating ...'".
That quoted answer is the cause; the DSN's own Status (often 4.4.7/5.4.7 "expired")
only says that Exchange stopped trying.
"""

from __future__ import annotations

import re

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_ADMIN = "Diagnostic information for administrators"
_RETURNED = re.compile(r"returned '(\d{3}) ([45]\.\d{1,3}\.\d{1,3})\s*([^'=]*)", re.I)


def match(mail: MailView) -> bool:
    return _ADMIN in mail.text and bool(mail.dsn_texts)


@parser("exchange2007", match)
def parse(mail: MailView) -> list[Finding] | None:
    dsn = rfc3464.parse(mail)
    if not dsn:
        return None
    rfc3464.merge(dsn, _text.generic(mail))
    answers = _RETURNED.findall(mail.text)
    for f in dsn:
        # the newest answer that is not Exchange's own "expired" verdict again
        m = next((a for a in answers if a[1] != f.status), None)
        if m:
            # kept in the nested "<code status text>" form the classifier prefers
            f.diagnostic = f"{f.diagnostic} <{m[0]} {m[1]} {m[2].strip()}>"
    return dsn

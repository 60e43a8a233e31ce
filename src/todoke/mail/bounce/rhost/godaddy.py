"""Bounce stage, rhost rules for GoDaddy's mail servers (*.secureserver.net).

GoDaddy ends its refusals with an "IBnnn" id documented on its help pages ("Email bounce
codes"); the id names the check that refused the message.
"""

from __future__ import annotations

import re

from ..record import Finding
from . import provider

_ID = re.compile(r"\bib(\d{3})\b")
CODES: dict[str, str] = {
    "007": "toomanyconn",    # too many sessions from this IP
    "101": "expired",        # server temporarily unavailable (until retries ran out)
    "103": "blocked",        # poor IP reputation (Cloudmark CSI)
    "104": "blocked",        # IP listed on Spamhaus SBL
    "105": "blocked",        # IP listed on Spamhaus XBL
    "106": "blocked",        # IP listed on Spamhaus PBL
    "108": "requireptr",     # reverse DNS for this IP failed
    "110": "blocked", "111": "blocked",  # IP blocked: too much spam sent
    "112": "blocked", "113": "blocked",  # IP blocked: too many invalid recipients
    "212": "spamdetected",   # content judged to be spam
    "401": "securityerror",  # authentication not allowed
    "501": "rejected",       # blank From: address
    "502": "rejected",       # IP address as From: address
    "504": "speeding",       # too many messages this hour
    "506": "rejected",       # From: domain invalid
    "508": "authfailure",    # invalid SPF record
    "510": "toomanyconn",    # too many messages in one session
    "607": "speeding",       # too many recipients this hour
    "705": "virusdetected",  # virus infected message
}


@provider("secureserver.net")
def godaddy(f: Finding, text: str) -> str:
    m = _ID.search(text)
    return CODES.get(m.group(1), "") if m else ""

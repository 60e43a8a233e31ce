"""Bounce stage, rhost rules for Cox Communications (cox.net).

Cox's refusals carry an error id documented on its postmaster pages ("Cox email error
codes"): CXBL/CDRBL and IPBLnnnn (the sending IP is on a block list), URLBLnnn (a URL in the
message is listed), CXCNCT/CXMXRT (connection or volume limits), CXSNDR/CXSMTP (the sender
could not be verified), CXTHRT/CXMJ (suspicious account activity).
"""

from __future__ import annotations

import re

from ..record import Finding
from . import provider

_ID = re.compile(r"\b(cxbl|cdrbl|ipbl\d+|urlbl\d+|cxcnct|cxmxrt|cxsndr|cxsmtp|cxthrt|cxmj|"
                 r"cxdns)\b")
CODES: dict[str, str] = {
    "cxbl": "blocked", "cdrbl": "blocked", "cxdns": "blocked",
    "cxcnct": "toomanyconn", "cxmxrt": "toomanyconn",
    "cxsndr": "rejected", "cxsmtp": "rejected",
    "cxthrt": "securityerror", "cxmj": "securityerror",
}


@provider("cox.net")
def cox(f: Finding, text: str) -> str:
    m = _ID.search(text)
    if not m:
        return ""
    code = m.group(1)
    if code.startswith("ipbl"):
        return "blocked"
    if code.startswith("urlbl"):
        return "spamdetected"
    return CODES.get(code, "")

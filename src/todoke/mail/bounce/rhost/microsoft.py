"""Bounce stage, rhost rules for Microsoft 365 / Exchange Online / Outlook.com.

Microsoft's MXs (*.protection.outlook.com, *.mail.protection.outlook.com, hotmail.com,
outlook.com, live.com) answer with enhanced codes whose detail number is their own
("Exchange Online NDR" documentation, learn.microsoft.com): 5.7.509 DMARC failure, 5.7.606-649
banned sending IP, 5.7.511 banned sender, 5.4.1 with "AS(201806281)" recipient not found by
directory-based edge blocking, 5.7.708 traffic from a suspicious IP range.
"""

from __future__ import annotations

import re

from ..record import Finding
from . import provider

_CODE = re.compile(r"\b5\.(\d)\.(\d{3})\b")
#: (subject digit, detail) -> reason.
CODES: dict[tuple[str, str], str] = {
    ("7", "509"): "authfailure",    # sender domain does not pass DMARC verification
    ("7", "510"): "rejected",       # the recipient does not accept mail from the sender
    ("7", "511"): "rejected",       # banned sender
    ("7", "708"): "blocked",        # service unavailable: traffic not accepted from this IP
    ("7", "750"): "blocked",        # unregistered domain sending from the tenant
    ("1", "351"): "userunknown",    # the recipient address does not exist (routing)
}


@provider("outlook.com", "hotmail.com", "live.com", "msn.com", "protection.outlook.com")
def microsoft(f: Finding, text: str) -> str:
    if "as(201806281)" in text:
        return "userunknown"  # Directory Based Edge Blocking: no such recipient
    m = _CODE.search(text)
    if m:
        if m.group(1) == "7" and 606 <= int(m.group(2)) <= 649:
            return "blocked"  # banned sending IP
        return CODES.get((m.group(1), m.group(2)), "")
    return ""

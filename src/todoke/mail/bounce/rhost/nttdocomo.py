"""Bounce stage, rhost rules for NTT DOCOMO (docomo.ne.jp).

DOCOMO's MXs answer "550 Unknown user" to DATA when the recipient refuses mail from the
sender's domain (a per-user reception filter); answered to RCPT it means no such user.
"""

from __future__ import annotations

from ..record import Finding
from . import provider


@provider("docomo.ne.jp", "mopera.net")
def nttdocomo(f: Finding, text: str) -> str:
    if "unknown user" in text:
        return "filtered" if f.command == "DATA" else "userunknown"
    return ""

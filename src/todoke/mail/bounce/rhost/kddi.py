"""Bounce stage, rhost rules for KDDI au (ezweb.ne.jp, au.com).

au's MXs answer "550 : User unknown" after DATA also when the recipient's own reception
filter refuses the sender; the address may well exist, so that reply counts as "filtered".
"""

from __future__ import annotations

from ..record import Finding
from . import provider


@provider("ezweb.ne.jp", "au.com")
def kddi(f: Finding, text: str) -> str:
    if "550 : user unknown" in text or text.startswith(": user unknown"):
        return "filtered"
    return ""

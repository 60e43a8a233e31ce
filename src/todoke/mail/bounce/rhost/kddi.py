"""Bounce stage, rhost rules for KDDI au (ezweb.ne.jp, au.com).

au's MXs answer "550 : User unknown" after DATA also when the recipient's own reception
filter refuses the sender; the address may well exist, so that reply counts as "filtered".
"""

from __future__ import annotations

import re

from ..record import Finding
from . import provider

# "550 : User unknown" after DATA; "was rejected by a remote mail server" (au's own MTA)
_FILTERED = re.compile(r"(?:^|550:? ): user unknown|rejected by a remote mail server")


@provider("ezweb.ne.jp", "au.com")
def kddi(f: Finding, text: str) -> str:
    if _FILTERED.search(text):
        return "filtered"
    return ""

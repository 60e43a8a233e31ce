"""Bounce stage, rhost rules for Orange / Wanadoo / La Poste (France Telecom group).

Their MXs end replies with an error id such as "OFR006_102" (Orange) or "LPN007_426"
(La Poste); the number after "_" names the cause (documented on Orange's postmaster pages,
"Codes d'erreur SMTP"). Only ids whose meaning is clear are mapped; others fall through.
"""

from __future__ import annotations

import re

from ..record import Finding
from . import provider

_ID = re.compile(r"\b(?:ofr|lpn)(?:\d{3})?_(\d{3})\b")
CODES: dict[str, str] = {
    "102": "blocked",        # source IP blocked for spam incidents
    "103": "blocked",        # source IP on a block list
    "104": "toomanyconn",    # too many connections from the source IP
    "107": "blocked",        # service refused to the source IP
    "416": "userunknown",    # invalid recipient
    "417": "mailboxfull",    # recipient mailbox full
    "426": "suspend",        # recipient account blocked
    "505": "systemerror",    # service refused, try later
    "506": "spamdetected",   # message rejected as spam
    "630": "policyviolation",  # client host rejected by policy
}


@provider("orange.fr", "wanadoo.fr", "laposte.net", "orange.com")
def franceptt(f: Finding, text: str) -> str:
    m = _ID.search(text)
    return CODES.get(m.group(1), "") if m else ""

"""Bounce stage, rhost rules for Mimecast (*.mimecast.com, *.mimecast-offshore.com).

Mimecast documents its SMTP replies ("Mimecast SMTP Error Codes", community.mimecast.com);
the text after the code names the check that refused the message. Mapped here by the
reason each documented cause stands for.
"""

from __future__ import annotations

from ..record import Finding
from . import provider

#: Documented reply texts (lower case, as they appear after the code) -> reason.
TEXTS: tuple[tuple[str, str], ...] = (
    # a signature matched: a virus, or a spam score over the maximum threshold
    ("email rejected due to security policies", "virusdetected"),
    ("sender address blocked", "blocked"),
    ("ip temporarily blacklisted", "blocked"),
    ("local ct ip reputation", "blocked"),
    ("spf sender invalid", "authfailure"),
    ("dkim sender invalid", "authfailure"),
    ("dmarc sender invalid", "authfailure"),
    ("maximum email size exceeded", "mesgtoobig"),
    ("mail loop detected", "networkerror"),
    ("open relay not allowed", "norelaying"),
    ("anti-spoofing policy", "policyviolation"),
    ("content examination policy", "policyviolation"),
    ("envelope blocked", "rejected"),
    ("blocked senders", "rejected"),
    ("block policy for envelope from", "rejected"),
    ("this route requires", "securityerror"),
    ("too many recipients", "toomanyconn"),
    ("invalid recipient", "userunknown"),
    ("user unknown", "userunknown"),
)


@provider("mimecast.com", "mimecast-offshore.com")
def mimecast(f: Finding, text: str) -> str:
    return next((reason for fragment, reason in TEXTS if fragment in text), "")

"""Bounce stage, rhost rules for Tencent QQ Mail / Exmail (qq.com, foxmail.com).

QQ's MXs explain refusals with short English phrases (Tencent's "mail bounce codes" help
page), several of them rate limits worded in their own way ("ip frequency limited").
"""

from __future__ import annotations

from ..record import Finding
from . import provider

TEXTS: tuple[tuple[str, str], ...] = (
    ("dmarc check failed", "authfailure"),
    ("spf check failed", "authfailure"),
    ("suspected spam ip", "blocked"),
    ("mail is rejected by recipients", "filtered"),
    ("message too large", "mesgtoobig"),
    ("mail content denied", "spamdetected"),
    ("spam is embedded in the email", "spamdetected"),
    ("suspected spam", "spamdetected"),
    ("bad address syntax", "syntaxerror"),
    ("connection frequency limited", "toomanyconn"),
    ("domain frequency limited", "toomanyconn"),
    ("ip frequency limited", "toomanyconn"),
    ("sender frequency limited", "toomanyconn"),
    ("connection denied", "toomanyconn"),
    ("mailbox unavailable or access denied", "toomanyconn"),  # QQ's rate limit wording
    ("mailbox not found", "userunknown"),
)


@provider("qq.com", "foxmail.com")
def tencent(f: Finding, text: str) -> str:
    return next((reason for fragment, reason in TEXTS if fragment in text), "")

"""Bounce stage, lhost parser for Google Groups "could not post" notices.

Google Groups answers a post it refuses (no such group, no permission to post) with a
plain-text notice from mailer-daemon@googlemail.com in the sender's language; the refused
group address is in X-Failed-Recipients:. The reason is always "rejected" (the group refused
the sender), whatever the language of the text.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser


def match(mail: MailView) -> bool:
    failed = (mail.msg.get("X-Failed-Recipients") or "").lower()
    if not failed or mail.dsn_texts:
        return False
    return "googlegroups.com" in failed or (
        "groups.google.com" in mail.text and "google" in mail.sender.lower()
        and bool(failed)
    )


@parser("googlegroups", match)
def parse(mail: MailView) -> list[Finding] | None:
    rcpts = re.findall(_text.ADDR, mail.header("X-Failed-Recipients"))
    diag = _text.flat(_text.cut(mail.text))[:600]
    return [Finding(recipient=r, reason="rejected", diagnostic=diag) for r in rcpts] or None

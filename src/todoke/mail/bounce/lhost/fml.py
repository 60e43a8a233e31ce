"""Bounce stage, lhost parser for fml (a mailing list manager; X-MLServer: fml ...).

fml answers a post it refuses with a notice from the list's -admin address: "You <sender>
are not member (list ML)" when the sender may not post (-> rejected), "Loop Alert:
Duplicated Message-ID" when it saw the message before (-> systemerror). The list address is
the failed recipient.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_ADDR = re.compile(rf"<({_text.ADDR})>")
SUBJECTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"are not member|not a member|not allowed to post", re.I), "rejected"),
    (re.compile(r"loop alert|duplicated message-id", re.I), "systemerror"),
    (re.compile(r"command error|unknown command", re.I), "syntaxerror"),
)


def match(mail: MailView) -> bool:
    return (mail.msg.get("X-MLServer") or "").lower().startswith("fml")


@parser("fml", match)
def parse(mail: MailView) -> list[Finding] | None:
    reason = next((r for rx, r in SUBJECTS if rx.search(mail.subject)), "")
    if not reason:
        return None
    lines = _text.cut(mail.text, re.compile(r"^\s*original mail as follows", re.I))
    m = _ADDR.search("\n".join(lines))
    if not m:
        return None
    return [Finding(recipient=m.group(1), reason=reason, diagnostic=_text.flat(lines)[:400])]

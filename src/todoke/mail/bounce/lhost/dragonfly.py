"""Bounce stage, lhost parser for the DragonFly Mail Agent (dma).

dma (dma/net.c, dma/mail.c bounce()) writes "Mail delivery failed" from MAILER-DAEMON:
"This is the DragonFly Mail Agent vX at host.", "There was an error delivering your mail to
<rcpt>.", then the remote server's complaint ("host [ip] did not like our RCPT TO:" and its
reply) or dma's own reason, then "Original message follows.".
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_RCPT = re.compile(rf"error delivering your mail to <({_text.ADDR})>", re.I)
_END = re.compile(r"^\s*original message follows", re.I)


def match(mail: MailView) -> bool:
    return "This is the DragonFly Mail Agent" in mail.text


@parser("dragonfly", match)
def parse(mail: MailView) -> list[Finding] | None:
    lines = _text.cut(mail.text, _END)
    out: list[Finding] = []
    for i, line in enumerate(lines):
        m = _RCPT.search(line)
        if m:
            out.append(Finding(recipient=m.group(1), diagnostic=_text.flat(lines[i + 1:])))
    return out or None

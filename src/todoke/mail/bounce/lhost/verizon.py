"""Bounce stage, lhost parser for Verizon Wireless's mail-to-SMS gateway (vtext.com).

The gateway answers from post_master@vtext.com with a plain notice: "Error: <summary>",
"Error message below:" and the SMTP reply, then "Message details:" listing "MAIL FROM:" and
"RCPT TO:" of the failed message.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_RCPT = re.compile(rf"^\s*RCPT TO:\s*<?({_text.ADDR})>?", re.I | re.M)
_ERROR = re.compile(r"error message below:\s*(.*?)\s*(?:message details:|$)", re.I | re.S)


def match(mail: MailView) -> bool:
    return "vtext.com" in mail.sender.lower() and "Error message below:" in mail.text


@parser("verizon", match)
def parse(mail: MailView) -> list[Finding] | None:
    text = mail.text
    m = _ERROR.search(text)
    diag = " ".join(m.group(1).split()) if m else ""
    out = [Finding(recipient=r, diagnostic=diag) for r in _RCPT.findall(text)]
    return out or None

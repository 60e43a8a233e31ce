"""Bounce stage, lhost parser for Gmail's own (pre-DSN) bounces.

Gmail wrote "Delivery Status Notification (Failure|Delay)" from mailer-daemon@googlemail.com:
"Delivery to the following recipient failed permanently:", the address indented, then
"Technical details of permanent failure:" with Google's sentence and, when a remote server
answered, "The error that the other server returned was: 550 ...". Google's own sentences
are mapped here; a remote server's reply is left to the reason rules.
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_START = re.compile(r"^\s*delivery to the following recipients? (?:failed|has been delayed)",
                    re.I)
_RCPT = (re.compile(rf"^\s+({_text.ADDR})\s*$"),)
_END = re.compile(r"^\s*-{3,} ?(?:original message|message header)", re.I)
_REMOTE = re.compile(r"the error that the other server returned was:\s*(.*)", re.I | re.S)
#: Google's own explanations (no remote reply involved).
_OWN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"did not accept our requests to connect", re.I), "expired"),
    (re.compile(r"dns error: domain name not found|domain name not found", re.I),
     "hostunknown"),
    (re.compile(r"dns error: (?:dns server returned answer with no data|"
                r"could not contact dns servers)", re.I), "networkerror"),
    (re.compile(r"email account that you tried to reach does not exist", re.I), "userunknown"),
    (re.compile(r"storage quota|account you tried to reach is over quota", re.I),
     "mailboxfull"),
    (re.compile(r"message was too large|message is too large", re.I), "mesgtoobig"),
    (re.compile(r"could not establish a secure (?:connection|tls)|tls negotiation failed|"
                r"requires a secure connection \(tls\)", re.I), "failedstarttls"),
)


def match(mail: MailView) -> bool:
    return "Technical details of" in mail.text and (
        "google" in mail.sender.lower() or "gmail" in mail.sender.lower()
    )


@parser("gmail", match)
def parse(mail: MailView) -> list[Finding] | None:
    text = mail.text
    lines = _text.region(text, _START, _END)
    rcpts = [f.recipient for f in _text.blocks(lines, _RCPT)]
    flat = _text.flat(lines)
    m = _REMOTE.search(flat)
    tech = flat.split("Technical details of", 1)[-1] if "Technical details of" in flat else flat
    diag = m.group(1).strip() if m else tech
    reason = ""
    for rx, r in _OWN:
        if rx.search(tech):
            reason = r
            break
    temp = "temporary failure" in flat.lower()
    out = []
    for r in rcpts:
        f = Finding(recipient=r, diagnostic=diag, reason=reason)
        if temp:
            f.action = "delayed"
        out.append(f)
    return out or None

"""Bounce stage, lhost parser for qmail (and netqmail, vpopmail's vdelivermail).

qmail-send (qmail-send.c, bounce text) writes "failure notice" from MAILER-DAEMON:
"Hi. This is the qmail-send program at host.", an apology ("I'm afraid I wasn't able to
deliver your message to the following addresses."), then per recipient "<rcpt>:" and the
reason lines, and "--- Below this line is a copy of the message.". Remote replies appear as
"Remote host said: 550 ..." after "Connected to ip but sender was rejected." /
"... does not like recipient."; qmail's own reasons end with a status like "(#5.1.1)".
"""

from __future__ import annotations

import re

from ..mailview import MailView
from ..record import Finding
from . import _text, parser

_START = re.compile(r"wasn't able to deliver your message to the following address|"
                    r"could not be delivered to the following address|"
                    r"unable to deliver your message to the following address", re.I)
_END = re.compile(r"^--- (?:below this line is a copy|enclosed are the original headers)|"
                  r"^--- Below this line", re.I)
_RCPT = (re.compile(rf"^\s*<({_text.ADDR})>:?\s*(.*)$"),)
#: qmail's own sentences (qmail-remote.c, qmail-send.c) with their meaning.
_OWN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sorry, i couldn't find any host (?:named|by that name)", re.I), "hostunknown"),
    (re.compile(r"sorry, i wasn't able to establish an smtp connection", re.I), "networkerror"),
    (re.compile(r"account is locked|account (?:is )?disabled", re.I), "suspend"),
)


def match(mail: MailView) -> bool:
    return "This is the qmail-send program" in mail.text or (
        mail.subject.lower() == "failure notice" and bool(_START.search(mail.text))
    )


@parser("qmail", match)
def parse(mail: MailView) -> list[Finding] | None:
    lines = _text.region(mail.text, _START, _END)
    found = _text.blocks(lines, _RCPT, max_lines=20)
    for f in found:
        for rx, reason in _OWN:
            if rx.search(f.diagnostic):
                f.reason = reason
                break
    return found or None

"""Bounce stage, lhost parser for au by KDDI's EZweb mail servers (Postmaster@ezweb.ne.jp).

The notice opens with one English sentence that names the cause for all listed recipients,
then lists them ("<rcpt>: 550 ..." or under "Each of the following recipients ..."):
"The user(s) account is disabled." / "... is temporarily limited." (the contract is
suspended), "The user(s) account is temporarily over quota.", "Your message was not
delivered within N days and N hours." (retries ran out). Headers "X-SPASIGN: NG" mark a
message the recipient's spam filter refused. A DSN part, when present, adds the fields.
"""

from __future__ import annotations

import re

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import _text, parser

SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"the user\(s\) account is (?:disabled|temporarily limited)", re.I), "suspend"),
    (re.compile(r"the user\(s\) account is temporarily over quota", re.I), "mailboxfull"),
    (re.compile(r"your message was not delivered within ", re.I), "expired"),
)


def match(mail: MailView) -> bool:
    return "@ezweb.ne.jp" in mail.sender.lower()


@parser("ezweb", match)
def parse(mail: MailView) -> list[Finding] | None:
    text = mail.text
    found = rfc3464.parse(mail)
    talk = _text.generic(mail)
    if found:
        rfc3464.merge(found, talk)
    else:
        found = talk
    reason = ""
    if (mail.msg.get("X-SPASIGN") or "").strip().upper() == "NG":
        reason = "filtered"
    else:
        reason = next((r for rx, r in SENTENCES if rx.search(text)), "")
    if reason:
        for f in found:
            f.reason = reason
    return found or None

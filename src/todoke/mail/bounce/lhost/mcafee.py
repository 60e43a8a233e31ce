"""Bounce stage, lhost parser for the McAfee Email Gateway / Email and Web Security Appliance.

The appliance (X-NAI-Header: Modified by McAfee ...) writes "Delivery Status" with a
"--- The following addresses had delivery problems ---" list and a delivery-status part. It
sits in front of the mailbox server and passes the whole message on after scanning, so the
server's "unknown user" reaches the sender as the answer to the content (DATA): the appliance
is treated as a filter, and such an answer as "filtered" (Sisimai does the same).
"""

from __future__ import annotations

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import _text, parser


def match(mail: MailView) -> bool:
    return "mcafee" in (mail.msg.get("X-NAI-Header") or "").lower()


@parser("mcafee", match)
def parse(mail: MailView) -> list[Finding] | None:
    found = rfc3464.parse(mail) or _text.generic(mail)
    for f in found:
        f.command = f.command or "DATA"
    return found or None

"""Bounce stage, shared helper for filtering gateways (appliances and hosted filters).

A filtering gateway accepts the whole message, scans it, then passes it to the mailbox
server; the server's refusal reaches the sender as the gateway's answer to the content. So a
"user unknown" in such a bounce is read as the answer to DATA, i.e. "filtered".
"""

from __future__ import annotations

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import _text


def parse_as_gateway(mail: MailView) -> list[Finding] | None:
    """Findings of a gateway's bounce, with DATA as the SMTP command."""
    found = rfc3464.parse(mail) or _text.generic(mail)
    for f in found:
        f.command = f.command or "DATA"
    return found or None

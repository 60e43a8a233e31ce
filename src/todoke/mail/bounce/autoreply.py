"""Bounce stage, RFC 3834 automatic replies (vacation, out-of-office).

Owns recognising auto-replies (Auto-Submitted: auto-replied, X-Autoreply, Precedence:
auto_reply, vacation subjects) that are not delivery failures; each yields one "vacation"
record for the replying address (the From: of the reply).
"""

from __future__ import annotations

import re

from .mailview import MailView, find_address
from .record import Finding

_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|out of (?:the )?office|vacation|"
    r"abwesenheit|absence|away from|autoreply|r[ée]ponse automatique|i am out|on vacation|"
    r"auto:|自動応答|不在)",
    re.I,
)
_UNSUBSCRIBE = re.compile(r"^\s*unsubscribe\b", re.I)
_BOUNCE_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)


def is_autoreply(mail: MailView) -> bool:
    """Whether the mail is an RFC 3834 auto-reply rather than a bounce."""
    if _BOUNCE_FROM.search(mail.sender):
        return False
    auto = (mail.msg.get("Auto-Submitted") or "").lower()
    if auto.startswith("auto-replied"):
        return True
    if mail.msg.get("X-Autoreply") or mail.msg.get("X-Autorespond"):
        return True
    prec = (mail.msg.get("Precedence") or "").lower()
    if prec in ("auto_reply", "autoreply"):
        return True
    return bool(_SUBJECT.search(mail.subject))


def parse(mail: MailView) -> list[Finding]:
    """One vacation finding for the replying address (feedback for an unsubscribe request)."""
    addr = find_address(mail.sender) or find_address(mail.header("Reply-To"))
    if not addr:
        return []
    diag = " ".join(s.strip() for s in mail.text.splitlines() if s.strip())[:400]
    if _UNSUBSCRIBE.search(mail.subject):
        # a mail client answering a List-Unsubscribe: mailto: link (RFC 2369)
        return [Finding(recipient=addr, reason="feedback", feedback_type="unsubscribe",
                        diagnostic=diag, agent="RFC3834")]
    return [Finding(recipient=addr, reason="vacation", diagnostic=diag, agent="RFC3834")]

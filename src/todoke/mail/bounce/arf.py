"""Bounce stage, RFC 5965 Abuse Reporting Format (feedback loop reports).

Owns reading `multipart/report; report-type=feedback-report`: Feedback-Type, Original-Rcpt-To,
Arrival-Date, Source-IP and the original message's To: for the complained-about recipient.
Every record has reason "feedback" and carries the feedback type (abuse, fraud, virus, ...).
"""

from __future__ import annotations

import re

from .mailview import MailView, decode_payload, find_address
from .record import Finding
from .rfc3464 import fields_blocks

_RCPT_FIELD = re.compile(
    r"^(?:Original-Rcpt-To|Removal-Recipient):\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.I | re.M
)
_ADDR_IN = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+")


def is_arf(mail: MailView) -> bool:
    """A feedback report: report-type=feedback-report, or a message/feedback-report part."""
    ct = (mail.msg.get("Content-Type") or "").lower()
    if "feedback-report" in ct:
        return True
    if mail.content_type == "multipart/report" or "abuse" in mail.subject.lower():
        return any(p.get_content_type() == "message/feedback-report" for p in mail.parts)
    return False


def parse(mail: MailView) -> list[Finding]:
    """A "feedback" finding per reported recipient."""
    fields: dict[str, str] = {}
    text_all = ""
    for p in mail.parts:
        if p.get_content_type() == "message/feedback-report":
            text = decode_payload(p)
            text_all += text + "\n"
            for b in fields_blocks(text):
                for k, v in b.items():
                    fields.setdefault(k, v)
    rcpts: list[str] = [m.group(1) for m in _RCPT_FIELD.finditer(text_all)]
    if not rcpts:
        to = mail.original_headers.get("to", "")
        rcpts = _ADDR_IN.findall(to)
    if not rcpts:
        # the report names no recipient: the original's sender was the one complained about
        frm = find_address(mail.original_headers.get("from", ""))
        rcpts = [frm] if frm else []
    ftype = fields.get("feedback-type", "abuse").split()[0].lower() if fields else "abuse"
    diag = " ".join(s.strip() for s in mail.text.splitlines() if s.strip())[:500]
    return [
        Finding(
            recipient=r.strip("<>"),
            reason="feedback",
            feedback_type=ftype,
            diagnostic=diag,
            rhost=fields.get("source-ip", ""),
            lhost=fields.get("reporting-mta", "").split(";")[-1].strip(),
            date=fields.get("arrival-date", fields.get("received-date", "")),
            agent="ARF",
        )
        for r in dict.fromkeys(rcpts)
    ]

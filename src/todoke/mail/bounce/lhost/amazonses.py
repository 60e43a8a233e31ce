"""Bounce stage, lhost parser for Amazon SES notifications (JSON, usually wrapped by SNS).

SES reports bounces, complaints and deliveries as JSON (docs.aws.amazon.com/ses, "Amazon SES
notification contents"): `notificationType` (or `eventType`) Bounce / Complaint / Delivery;
`bounce.bouncedRecipients[]` with emailAddress, action, status, diagnosticCode;
`complaint.complainedRecipients[]` with `complaintFeedbackType`. Via SNS the JSON is the
string value of "Message". SES's e-mail DSNs are read as RFC 3464, minus SES's own label.
"""

from __future__ import annotations

import re
from typing import Any

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from . import parser


def match(mail: MailView) -> bool:
    if mail.dsn_texts:
        return "amazonses.com" in mail.sender.lower() or bool(mail.msg.get("X-SES-Outgoing"))
    t = mail.text_all
    return ("notificationType" in t or "eventType" in t) and "{" in t


#: SES puts its own classification before the remote reply: "5.1.0 - Unknown address error
#: 550-'5.7.1 <...>... Access denied'". The label is SES's guess; the reply is the evidence.
_SES_LABEL = re.compile(r"^[45]\.\d{1,3}\.\d{1,3} - [^0-9'\"]+(?=\d{3}[ -])")


def _parse_dsn(mail: MailView) -> list[Finding] | None:
    found = rfc3464.parse(mail)
    for f in found:
        f.diagnostic = _SES_LABEL.sub("", f.diagnostic).strip()
    return found or None


def _load(text: str) -> dict[str, Any] | None:
    import json  # only SES notifications need it: keeps start-up short

    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    chunk = text[start:end + 1]
    try:
        data = json.loads(chunk)
    except ValueError:
        try:  # a JSON document folded over several lines by the mail system
            data = json.loads(chunk.replace("\r", "").replace("\n", ""))
        except ValueError:
            return None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


@parser("amazonses", match)
def parse(mail: MailView) -> list[Finding] | None:
    if mail.dsn_texts:
        return _parse_dsn(mail)
    data = _load(mail.text_all)
    if not data:
        return None
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    out: list[Finding] = []
    if kind == "bounce":
        b = data.get("bounce", {})
        for r in b.get("bouncedRecipients", []):
            diag = str(r.get("diagnosticCode", ""))
            dtype, _, dtext = diag.partition(";") if ";" in diag else ("", "", diag)
            out.append(Finding(
                recipient=str(r.get("emailAddress", "")), status=str(r.get("status", "")),
                action=str(r.get("action", "")), diagnostic=dtext.strip(),
                diagnostic_type=dtype.strip().upper(), remote_mta=str(b.get("reportingMTA", "")),
                date=str(b.get("timestamp", "")),
            ))
    elif kind == "complaint":
        c = data.get("complaint", {})
        for r in c.get("complainedRecipients", []):
            out.append(Finding(
                recipient=str(r.get("emailAddress", "")), reason="feedback",
                feedback_type=str(c.get("complaintFeedbackType", "abuse")),
                date=str(c.get("timestamp", "")),
            ))
    elif kind == "delivery":
        d = data.get("delivery", {})
        for r in d.get("recipients", []):
            out.append(Finding(recipient=str(r), reason="delivered", status="2.0.0",
                               diagnostic=str(d.get("smtpResponse", ""))))
    return out or None

"""Bounce stage, SMTP replies from our own delivery attempts (no bounce mail involved).

Owns `classify_smtp_reply(code, text, enhanced)`: the same reason rules as for bounce mails,
applied to one reply of a remote server, answering (reason, status, hardbounce, error_status).
"""

from __future__ import annotations

from .classify import finish
from .record import Finding
from .smtp import find_status


def classify_smtp_reply(
    code: int, text: str, enhanced: str | None = None, *, host: str = "", command: str = ""
) -> tuple[str, str, bool, int]:
    """Reason, enhanced status, hard bounce flag and error status of one SMTP reply.

    Optional: `host`, the remote MX that answered (its provider's rules then apply), and
    `command`, the SMTP command answered (RCPT, DATA, MAIL, EHLO; CONN for the greeting) -
    a "user unknown" answered to DATA is a filter, a refusal at MAIL FROM concerns the sender.
    """
    reply = str(code) if 200 <= code <= 599 else ""
    status = enhanced or find_status(text)
    if reply and status and status[0] != reply[0]:
        status = ""
    if not status and reply[:1] in ("4", "5"):
        status = ""
    f = Finding(
        recipient="",
        status=status,
        replycode=reply,
        diagnostic=f"{reply} {status} {text}".strip() if reply else text,
        diagnostic_type="SMTP",
        rhost=host,
        command=command.upper().split()[0] if command.strip() else "",
    )
    rec = finish(f)
    st = rec.status
    # a 4xx reply is never final, whatever it says
    hard = False if reply.startswith("4") else rec.hardbounce
    return rec.reason, st, hard, rec.error_status

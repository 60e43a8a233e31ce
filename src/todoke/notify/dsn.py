"""Notify stage: the refusal DSN for a mail the gateway accepted but cannot turn into a fax.

Owns ``build_refusal_dsn``: an RFC 3464 delivery status notification inside an RFC 6522
``multipart/report; report-type=delivery-status`` with three parts:

1. ``text/plain``: a human-readable notice whose last line is the exact refusal message
   (SPEC-FAX, "Mail the gateway cannot accept"), e.g. ``*** No recipients found ***``,
   because senders are told to read the last line;
2. ``message/delivery-status``: Reporting-MTA and Arrival-Date, then for each recipient
   Final-Recipient, Action: failed, Status 5.x.x and Diagnostic-Code;
3. ``text/rfc822-headers``: the headers of the refused mail.

Subject ``Undelivered Mail Returned to Sender``; From is ``MAILER-DAEMON@<fax domain>``
(passed in). The empty envelope sender (``MAIL FROM:<>``) is the caller's concern, and so is
the rule that an unauthorised sender gets no DSN at all (against backscatter).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage, Message, MIMEPart
from email.utils import format_datetime

from todoke.notify.templating import render, set_standard_headers

SUBJECT = "Undelivered Mail Returned to Sender"

# Refusal message (SPEC-FAX) → enhanced status code (RFC 3463). Other messages get 5.0.0.
REFUSAL_STATUS: dict[str, str] = {
    "*** Cannot find password in body ***": "5.7.1",
    "*** No body is available for checking password ***": "5.7.1",
    "*** Could not authenticate with password from body ***": "5.7.1",
    "*** No recipients found ***": "5.1.1",
    "*** Message contains unsupported attachments ***": "5.6.1",
    "*** Failed ticket authentication - FaxInfo.XML not found ***": "5.7.1",
    "*** Cannot authenticate - signature not found ***": "5.7.1",
    "*** No documents found ***": "5.6.0",
}
DEFAULT_STATUS = "5.0.0"


def original_headers(original: bytes) -> str:
    """Return the header section of the raw mail ``original`` (up to the first blank line)."""
    text = original.decode("utf-8", errors="replace").replace("\r\n", "\n")
    head, _, _ = text.partition("\n\n")
    return head.rstrip("\n") + "\n"


def _fields(pairs: list[tuple[str, str]]) -> Message:
    """One block of a message/delivery-status body (a group of ``Name: value`` fields)."""
    block = Message()
    for name, value in pairs:
        block[name] = value
    return block


def build_refusal_dsn(
    *,
    original: bytes,
    reporting_mta: str,
    from_addr: str,
    to_addr: str,
    recipients: list[str],
    message: str,
    arrival: datetime,
    status: str | None = None,
    now: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Build the DSN that tells ``to_addr`` why its mail to ``recipients`` was refused.

    ``status`` defaults to the enhanced code for ``message`` in ``REFUSAL_STATUS``;
    ``now`` and ``message_id`` exist for reproducible tests.
    """
    if not recipients:
        raise ValueError("a DSN needs at least one recipient (RFC 3464, section 2.3)")
    if "\n" in message or "\r" in message:
        raise ValueError("the refusal message must be a single line")
    if arrival.tzinfo is None:
        raise ValueError("arrival must be timezone-aware")
    status = status or REFUSAL_STATUS.get(message, DEFAULT_STATUS)
    if not (status.startswith("5.") and status.count(".") == 2):
        raise ValueError(f"a refusal needs a permanent 5.x.x status, not {status!r}")
    when = now if now is not None else datetime.now(UTC)

    msg = EmailMessage()
    set_standard_headers(
        msg,
        from_addr=from_addr,
        to_addr=to_addr,
        subject=SUBJECT,
        auto_submitted="auto-replied",  # RFC 3834: a response to the refused mail
        now=when,
        message_id=message_id,
    )

    human = MIMEPart()
    notice = render(
        "refusal_dsn.txt.j2", reporting_mta=reporting_mta, recipients=recipients, message=message
    )
    human.set_content(notice, charset="utf-8")
    human["Content-Description"] = "Notification"

    report = MIMEPart()
    blocks = [_fields([("Reporting-MTA", f"dns; {reporting_mta}"),
                       ("Arrival-Date", format_datetime(arrival))])]
    for recipient in recipients:
        blocks.append(_fields([
            ("Final-Recipient", f"rfc822; {recipient}"),
            ("Action", "failed"),
            ("Status", status),
            ("Diagnostic-Code", f"X-Todoke; {message}"),
            ("Last-Attempt-Date", format_datetime(when)),
        ]))
    report["Content-Type"] = "message/delivery-status"
    report["Content-Description"] = "Delivery report"
    report.set_payload(blocks)

    headers = MIMEPart()
    head = original_headers(original)
    headers.set_content(head, subtype="rfc822-headers", charset="utf-8",
                        cte="7bit" if head.isascii() else "quoted-printable")
    headers["Content-Description"] = "Undelivered Message Headers"

    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = "multipart/report"
    msg.set_param("report-type", "delivery-status")
    msg.set_payload([human, report, headers])
    return msg

"""Ingest: the checks a fax mail passes and the commit of its jobs (no network here).

Sender identity is the Return-Path header if one is present, else the envelope sender, else
From. Notifications go to Reply-To, else that identity. The raw mail is stored once; each
fax number becomes one FaxJob. Returns the SMTP reply to give.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from zoneinfo import ZoneInfo

from sqlalchemy import select

from todoke import log, metrics
from todoke.config import Settings
from todoke.ingest.numbers import FaxNumber, parse_fax_number
from todoke.ingest.subject import parse_subject
from todoke.store.db import Store
from todoke.store.models import AuditLog, AuthorizedSender, FaxJob, InboundMail, utcnow

NO_RECIPIENTS = "*** No recipients found ***"


def decode_text(value: str | None) -> str:
    """A header value with RFC 2047 words decoded; undecodable bytes replaced."""
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value))).strip()
    except (UnicodeError, LookupError, ValueError):
        return value.strip()


def first_address(value: str | None) -> str:
    if not value:
        return ""
    _name, address = email.utils.parseaddr(decode_text(value))
    return address.strip().lower()


def sender_identity(headers: Message, envelope_from: str) -> str:
    """Return-Path, else the envelope sender, else From (lower case)."""
    return (
        first_address(headers.get("Return-Path"))
        or envelope_from.strip("<>").lower()
        or first_address(headers.get("From"))
    )


def fax_numbers(recipients: Iterable[str]) -> tuple[list[FaxNumber], list[str]]:
    """The distinct valid numbers of the recipients, and the local parts that are not."""
    numbers: dict[str, FaxNumber] = {}
    invalid: list[str] = []
    for address in recipients:
        local = address.rpartition("@")[0]
        number = parse_fax_number(local)
        if number is None:
            invalid.append(local)
        else:
            numbers.setdefault(number.e164, number)
    return list(numbers.values()), invalid


class FaxMailIntake:
    """Checks one received fax mail and commits it with its jobs."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def accept(self, envelope_from: str, rcpt_tos: list[str], raw: bytes, peer: str) -> str:
        started = time.perf_counter()
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        sender = sender_identity(headers, envelope_from)
        with self.store.session() as session:
            owner = session.scalar(
                select(AuthorizedSender).where(AuthorizedSender.address == sender)
            )
            if owner is None:
                session.add(AuditLog(kind="fax.unauthorised_sender", actor=sender, detail={
                    "envelope_from": envelope_from, "from": decode_text(headers.get("From")),
                    "recipients": rcpt_tos[:50], "subject": decode_text(headers.get("Subject")),
                    "message_id": headers.get("Message-ID", ""), "peer": peer,
                }))
                metrics.INGESTED.labels("dropped").inc()
                log.event("ingest.dropped", sender=sender, peer=peer,
                          reason="unauthorised sender")
                return "250 2.0.0 OK"
            org = owner.organisation
            numbers, invalid = fax_numbers(rcpt_tos)
            if not numbers:
                metrics.INGESTED.labels("refused").inc()
                log.event("ingest.refused", sender=sender, reason=NO_RECIPIENTS)
                return f"550 5.1.3 {NO_RECIPIENTS}"
            zone = ZoneInfo(org.timezone)
            now_local = datetime.now(zone).replace(tzinfo=None)
            subject, mods = parse_subject(decode_text(headers.get("Subject")), now=now_local)
            notes = list(mods.notes)
            if invalid:
                notes.append("not fax numbers, skipped / FAX番号ではないため除外: "
                             + ", ".join(invalid[:20]))
            now = utcnow()
            due = now
            if mods.send_at is not None:
                due = mods.send_at.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
            mail = InboundMail(
                organisation_id=org.id, envelope_from=envelope_from, sender=sender,
                notify_to=first_address(headers.get("Reply-To")) or sender,
                subject=subject, message_id=(headers.get("Message-ID") or "").strip()[:998],
                remote_addr=peer, options=mods.as_options(), notes=notes, size=len(raw),
                raw=raw, created=now,
            )
            session.add(mail)
            retries = org.fax_retries if mods.retries is None else mods.retries
            interval = org.fax_retry_interval if mods.interval is None else mods.interval
            session.add_all(
                FaxJob(
                    organisation_id=org.id, inbound_mail=mail, number=n.dialled, e164=n.e164,
                    max_attempts=retries + 1, retry_interval=interval,
                    notify=mods.notify or org.fax_notify, created=now, next_attempt_at=due,
                )
                for n in numbers
            )
            session.flush()
            mail_id = mail.id
        metrics.INGESTED.labels("accepted").inc()
        metrics.JOBS_CREATED.inc(len(numbers))
        log.event("ingest.accepted", mail=mail_id, sender=sender, jobs=len(numbers),
                  ms=round((time.perf_counter() - started) * 1000, 1))
        return f"250 2.0.0 OK queued as M{mail_id} ({len(numbers)} fax)"

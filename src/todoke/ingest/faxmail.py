"""Ingest: the checks a fax mail passes and the commit of its jobs (no network here).

Sender identity is the Return-Path header if one is present, else the envelope sender, else
From. Notifications go to Reply-To, else that identity. The raw mail is stored once; each
fax number becomes one FaxJob. Returns the SMTP reply to give.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from todoke import log, metrics
from todoke.config import Settings
from todoke.ingest.numbers import FaxNumber, parse_fax_number
from todoke.ingest.subject import parse_subject
from todoke.ingest.writer import GroupCommitter
from todoke.store.db import Store
from todoke.store.models import (
    AuditLog,
    AuthorizedSender,
    FaxJob,
    InboundMail,
    Organisation,
    utcnow,
)

NO_RECIPIENTS = "*** No recipients found ***"


RAW_CHARSETS = ("utf-8", "cp932", "euc-jp")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes of a header word: its declared charset, else raw 8-bit (RFC 6532) guessed."""
    if charset and charset != "unknown-8bit":
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    for candidate in RAW_CHARSETS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def decode_text(value: object) -> str:
    """A header value with RFC 2047 words and raw 8-bit text decoded."""
    if not value:
        return ""
    try:
        words = decode_header(value)  # type: ignore[arg-type]
    except (UnicodeError, LookupError, ValueError, TypeError):
        return str(value).strip()
    parts = [w if isinstance(w, str) else _decode_bytes(w, cs) for w, cs in words]
    if len(words) > 1 or any(cs for _, cs in words):
        # decode_header drops the space between an encoded word and plain text
        return "".join(parts).strip()
    return parts[0].strip() if parts else ""


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


@dataclass
class Received:
    """A fax mail as parsed before anything is written."""

    envelope_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: str
    headers: Message
    sender: str


@dataclass
class Outcome:
    reply: str
    event: str
    fields: dict[str, object] = field(default_factory=dict)


class FaxMailIntake:
    """Checks one received fax mail and commits it with its jobs (through group commit)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.committer: GroupCommitter[Received, Outcome] = GroupCommitter(
            store, self._apply, "ingest-writer")

    def parse(self, envelope_from: str, rcpt_tos: list[str], raw: bytes, peer: str) -> Received:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        return Received(envelope_from, rcpt_tos, raw, peer, headers,
                        sender_identity(headers, envelope_from))

    async def accept(self, envelope_from: str, rcpt_tos: list[str], raw: bytes,
                     peer: str) -> str:
        """Check and commit one mail; return the SMTP reply."""
        started = time.perf_counter()
        received = self.parse(envelope_from, rcpt_tos, raw, peer)
        outcome = await self.committer.submit(received)
        metrics.INGESTED.labels(outcome.event.removeprefix("ingest.")).inc()
        log.event(outcome.event, sender=received.sender, peer=peer,
                  ms=round((time.perf_counter() - started) * 1000, 1), **outcome.fields)
        return outcome.reply

    def close(self) -> None:
        self.committer.close()

    def _apply(self, session: Session, mails: list[Received]) -> list[Outcome]:
        """Commit a batch: one sender lookup, then bulk inserts of mails and jobs."""
        senders = {m.sender for m in mails}
        owners = {
            address: org
            for address, org in session.execute(
                select(AuthorizedSender.address, Organisation)
                .join(Organisation, Organisation.id == AuthorizedSender.organisation_id)
                .where(AuthorizedSender.address.in_(senders))
            ).tuples()
        }
        now = utcnow()
        outcomes: list[Outcome | None] = [None] * len(mails)
        audit: list[dict[str, object]] = []
        accepted: list[tuple[int, dict[str, object], list[dict[str, object]]]] = []
        for index, mail in enumerate(mails):
            org = owners.get(mail.sender)
            if org is None:
                audit.append(self._audit_row(mail, now))
                outcomes[index] = Outcome("250 2.0.0 OK", "ingest.dropped",
                                          {"reason": "unauthorised sender"})
                continue
            numbers, invalid = fax_numbers(mail.rcpt_tos)
            if not numbers:
                outcomes[index] = Outcome(f"550 5.1.3 {NO_RECIPIENTS}", "ingest.refused",
                                          {"reason": NO_RECIPIENTS})
                continue
            row, jobs = self._rows(mail, org, numbers, invalid, now)
            accepted.append((index, row, jobs))
        if audit:
            session.execute(insert(AuditLog), audit)
        if accepted:
            ids = session.scalars(
                insert(InboundMail).returning(InboundMail.id, sort_by_parameter_order=True),
                [row for _, row, _ in accepted],
            ).all()
            job_rows = []
            for (index, _row, jobs), mail_id in zip(accepted, ids, strict=True):
                for job in jobs:
                    job["inbound_mail_id"] = mail_id
                job_rows.extend(jobs)
                outcomes[index] = Outcome(
                    f"250 2.0.0 OK queued as M{mail_id} ({len(jobs)} fax)", "ingest.accepted",
                    {"mail": mail_id, "jobs": len(jobs)})
            session.execute(insert(FaxJob), job_rows)
            metrics.JOBS_CREATED.inc(len(job_rows))
        return [outcome for outcome in outcomes if outcome is not None]

    @staticmethod
    def _audit_row(mail: Received, now: datetime) -> dict[str, object]:
        headers = mail.headers
        return {"kind": "fax.unauthorised_sender", "actor": mail.sender, "created": now,
                "detail": {
                    "envelope_from": mail.envelope_from,
                    "from": decode_text(headers.get("From")),
                    "recipients": mail.rcpt_tos[:50],
                    "subject": decode_text(headers.get("Subject")),
                    "message_id": headers.get("Message-ID", ""), "peer": mail.peer}}

    @staticmethod
    def _rows(mail: Received, org: Organisation, numbers: list[FaxNumber], invalid: list[str],
              now: datetime) -> tuple[dict[str, object], list[dict[str, object]]]:
        """The InboundMail row and its FaxJob rows (without the mail id yet)."""
        headers = mail.headers
        zone = ZoneInfo(org.timezone)
        subject, mods = parse_subject(decode_text(headers.get("Subject")),
                                      now=now.replace(tzinfo=UTC).astimezone(zone)
                                      .replace(tzinfo=None))
        notes = list(mods.notes)
        if invalid:
            notes.append("not fax numbers, skipped / FAX番号ではないため除外: "
                         + ", ".join(invalid[:20]))
        due = now
        if mods.send_at is not None:
            due = mods.send_at.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        row: dict[str, object] = {
            "organisation_id": org.id, "envelope_from": mail.envelope_from,
            "sender": mail.sender,
            "notify_to": first_address(headers.get("Reply-To")) or mail.sender,
            "subject": subject, "message_id": (headers.get("Message-ID") or "").strip()[:998],
            "remote_addr": mail.peer, "options": mods.as_options(), "notes": notes,
            "size": len(mail.raw), "raw": mail.raw, "created": now,
        }
        retries = org.fax_retries if mods.retries is None else mods.retries
        interval = org.fax_retry_interval if mods.interval is None else mods.interval
        jobs: list[dict[str, object]] = [
            {"organisation_id": org.id, "number": n.dialled, "e164": n.e164,
             "max_attempts": retries + 1, "retry_interval": interval,
             "notify": mods.notify or org.fax_notify, "created": now, "next_attempt_at": due}
            for n in numbers
        ]
        return row, jobs

"""Ingest: one fax mail from SMTP to committed jobs, or to its exact refusal.

Sender identity is the Return-Path header if one is present, else the envelope sender, else
From; a sender no account authorises is dropped silently (audit log only). The checks
(ingest/checks.py) run in a worker thread; the commit goes through the group committer.
The mail is stored once, cleaned of password, ticket and signature; each fax number becomes
one FaxJob; a mail to ``list-<name>@`` becomes a list send over the list's numbers.
Refusals are SMTP replies, or with TODOKE_REJECT_MODE=bounce a DSN from MAILER-DAEMON.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from todoke import log, metrics
from todoke.accounts import LOCK_AFTER, LOCK_SECONDS
from todoke.config import Settings
from todoke.ingest.checks import (
    NO_RECIPIENTS,
    REPLIES,
    AuthPolicy,
    Refused,
    check_mail,
)
from todoke.ingest.numbers import FaxNumber, parse_fax_number
from todoke.ingest.subject import Modifiers, parse_subject
from todoke.ingest.writer import GroupCommitter
from todoke.notify import build_refusal_dsn
from todoke.queue.faxjobs import finish
from todoke.store.db import Store
from todoke.store.models import (
    AuditLog,
    AuthorizedSender,
    FaxJob,
    FaxList,
    InboundMail,
    ListSend,
    Organisation,
    Outbox,
    utcnow,
)

ACCOUNT_TTL = 1.0  # seconds an account without authentication stays cached
RAW_CHARSETS = ("utf-8", "cp932", "euc-jp")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes of a header word: its declared charset, else raw 8-bit (RFC 6532) guessed."""
    if charset and charset != "unknown-8bit":
        try:
            return data.decode(charset)
        except (LookupError, ValueError):
            pass
    for candidate in RAW_CHARSETS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def _plain(value: object) -> str:
    """A header as it stands, when its encoded words are broken beyond decoding."""
    if isinstance(value, str):
        return value.strip()
    try:
        return str(value).strip()
    except (UnicodeError, LookupError, ValueError, TypeError):
        return ""


def decode_text(value: object) -> str:
    """A header value with RFC 2047 words and raw 8-bit text decoded."""
    if not value:
        return ""
    try:
        words = decode_header(value)  # type: ignore[arg-type]
    except (UnicodeError, LookupError, ValueError, TypeError, MessageError):
        return _plain(value)
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


LIST_PREFIX = "list-"


def fax_numbers(recipients: Iterable[str]) -> tuple[list[FaxNumber], list[str]]:
    """The distinct valid numbers of the recipients, and the local parts that are not
    (list addresses are neither: see ``list_names``)."""
    numbers: dict[str, FaxNumber] = {}
    invalid: list[str] = []
    for address in recipients:
        local = address.rpartition("@")[0]
        if local.lower().startswith(LIST_PREFIX):
            continue
        number = parse_fax_number(local)
        if number is None:
            invalid.append(local)
        else:
            numbers.setdefault(number.e164, number)
    return list(numbers.values()), invalid


def list_names(recipients: Iterable[str]) -> list[str]:
    """The list names addressed as ``list-<name>@…`` (lower case, in order, once each)."""
    names: dict[str, None] = {}
    for address in recipients:
        local = address.rpartition("@")[0].lower()
        if local.startswith(LIST_PREFIX) and len(local) > len(LIST_PREFIX):
            names.setdefault(local[len(LIST_PREFIX):], None)
    return list(names)


@dataclass(frozen=True)
class Account:
    """What ingest needs of the account that owns a sender, read once per mail."""

    id: int
    timezone: str
    retries: int
    interval: float
    notify: str
    failed_logins: int
    locked: bool
    policy: AuthPolicy
    lists: dict[str, list[tuple[str, str]]]  # name → (dialled, e164), only the lists addressed


@dataclass
class Plan:
    """What the writer must do for one mail."""

    kind: str  # "dropped" | "refused" | "accepted"
    mail: Received
    account: Account | None = None
    refusal: Refused | None = None
    kept: bytes = b""
    numbers: list[FaxNumber] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    password_used: bool = False


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
        self.committer: GroupCommitter[Plan, Outcome] = GroupCommitter(
            store, self._apply, "ingest-writer")
        self._accounts: dict[tuple[str, tuple[str, ...]], tuple[float, Account | None]] = {}

    async def accept(self, envelope_from: str, rcpt_tos: list[str], raw: bytes,
                     peer: str) -> str:
        """Check and commit one mail; return the SMTP reply."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        plan = await loop.run_in_executor(None, self.prepare, envelope_from, rcpt_tos, raw, peer)
        outcome = await self.committer.submit(plan)
        metrics.INGESTED.labels(outcome.event.removeprefix("ingest.")).inc()
        log.event(outcome.event, sender=plan.mail.sender, peer=peer,
                  ms=round((time.perf_counter() - started) * 1000, 1), **outcome.fields)
        return outcome.reply

    def accept_sync(self, envelope_from: str, rcpt_tos: list[str], raw: bytes,
                    peer: str = "127.0.0.1") -> str:
        """The same as ``accept``, for callers without an event loop (tests, tools)."""
        plan = self.prepare(envelope_from, rcpt_tos, raw, peer)
        with self.store.session() as session:
            [outcome] = self._apply(session, [plan])
        return outcome.reply

    def close(self) -> None:
        self.committer.close()

    # -- phase 1: parse, look up, check (a worker thread; reads only) ----------------------

    def prepare(self, envelope_from: str, rcpt_tos: list[str], raw: bytes, peer: str) -> Plan:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        mail = Received(envelope_from, rcpt_tos, raw, peer, headers,
                        sender_identity(headers, envelope_from))
        account = self._account(mail.sender, list_names(rcpt_tos))
        if account is None:
            return Plan("dropped", mail)
        try:
            checked = check_mail(raw, account.policy)
        except Refused as refusal:
            return Plan("refused", mail, account, refusal)
        numbers, invalid = fax_numbers(rcpt_tos)
        lists = [name for name in list_names(rcpt_tos) if name in account.lists]
        if not numbers and not lists:
            return Plan("refused", mail, account, Refused(NO_RECIPIENTS),
                        password_used=checked.password_used)
        if checked.content_error:
            return Plan("refused", mail, account, Refused(checked.content_error),
                        password_used=checked.password_used)
        missing = [f"list-{n}" for n in list_names(rcpt_tos) if n not in account.lists]
        return Plan("accepted", mail, account, kept=checked.raw, numbers=numbers,
                    invalid=invalid + missing, lists=lists, password_used=checked.password_used)

    def _account(self, sender: str, wanted_lists: list[str]) -> Account | None:
        """The sender's account. Kept for a second for accounts that require no
        authentication (and for unknown senders), so a burst of mail reads it once; accounts
        with a password, ticket or signature are read every time, lock state included."""
        key = (sender, tuple(wanted_lists))
        now = time.monotonic()
        hit = self._accounts.get(key)
        if hit is not None and now - hit[0] < ACCOUNT_TTL:
            return hit[1]
        account = self._read_account(sender, wanted_lists)
        policy = account.policy if account is not None else None
        if policy is None or not (policy.require_password or policy.require_ticket
                                  or policy.require_smime):
            if len(self._accounts) > 10_000:
                self._accounts.clear()
            self._accounts[key] = (now, account)
        return account

    def _read_account(self, sender: str, wanted_lists: list[str]) -> Account | None:
        with self.store.read() as session:
            org = session.scalar(
                select(Organisation)
                .join(AuthorizedSender, AuthorizedSender.organisation_id == Organisation.id)
                .where(AuthorizedSender.address == sender)
            )
            if org is None:
                return None
            lists: dict[str, list[tuple[str, str]]] = {}
            if wanted_lists:
                for fax_list in session.scalars(select(FaxList).where(
                        FaxList.organisation_id == org.id,
                        func.lower(FaxList.name).in_(wanted_lists))):
                    lists[fax_list.name.lower()] = [(n.number, n.e164) for n in fax_list.numbers]
            locked = org.locked_until is not None and org.locked_until > utcnow()
            certs = tuple(pem_blocks(org.fax_smime_certs or ""))
            return Account(
                id=org.id, timezone=org.timezone, retries=org.fax_retries,
                interval=org.fax_retry_interval, notify=org.fax_notify,
                failed_logins=org.failed_logins, locked=locked, lists=lists,
                policy=AuthPolicy(
                    require_password=org.fax_require_password,
                    password_hash=org.fax_password_hash, locked=locked,
                    require_ticket=org.fax_require_ticket, ticket_key=org.fax_ticket_key,
                    require_smime=org.fax_require_smime, smime_certs=certs,
                ),
            )

    # -- phase 2: write (the group committer's thread; many mails per transaction) ---------

    def _apply(self, session: Session, plans: list[Plan]) -> list[Outcome]:
        now = utcnow()
        outcomes: list[Outcome | None] = [None] * len(plans)
        audit: list[dict[str, object]] = []
        accepted: list[tuple[int, Plan, dict[str, object], list[dict[str, object]]]] = []
        for index, plan in enumerate(plans):
            if plan.kind == "dropped":
                audit.append(self._audit_row(plan.mail, now))
                outcomes[index] = Outcome("250 2.0.0 OK", "ingest.dropped",
                                          {"reason": "unauthorised sender"})
                continue
            assert plan.account is not None
            self._count_password(session, plan, now)
            if plan.kind == "refused":
                assert plan.refusal is not None
                outcomes[index] = self._refuse(session, plan, now)
                continue
            if plan.lists:
                outcomes[index] = self._accept_lists(session, plan, now)
                continue
            row, jobs = self._rows(plan, now)
            accepted.append((index, plan, row, jobs))
        if audit:
            session.execute(insert(AuditLog), audit)
        if accepted:
            ids = session.scalars(
                insert(InboundMail).returning(InboundMail.id, sort_by_parameter_order=True),
                [row for _, _, row, _ in accepted],
            ).all()
            job_rows = []
            for (index, _plan, _row, jobs), mail_id in zip(accepted, ids, strict=True):
                for job in jobs:
                    job["inbound_mail_id"] = mail_id
                job_rows.extend(jobs)
                outcomes[index] = Outcome(
                    f"250 2.0.0 OK queued as M{mail_id} ({len(jobs)} fax)", "ingest.accepted",
                    {"mail": mail_id, "jobs": len(jobs)})
            session.execute(insert(FaxJob), job_rows)
            metrics.JOBS_CREATED.inc(len(job_rows))
        return [outcome for outcome in outcomes if outcome is not None]

    def _count_password(self, session: Session, plan: Plan, now: datetime) -> None:
        """Three wrong body passwords lock the account; a right one clears the count."""
        assert plan.account is not None
        org_id = plan.account.id
        if plan.refusal is not None and plan.refusal.wrong_password:
            until = now + timedelta(seconds=self.settings.minutes(LOCK_SECONDS / 60))
            session.execute(
                update(Organisation).where(Organisation.id == org_id).values(
                    failed_logins=Organisation.failed_logins + 1,
                    locked_until=case(
                        (Organisation.failed_logins + 1 >= LOCK_AFTER, until),
                        else_=Organisation.locked_until),
                ))
            session.add(AuditLog(kind="fax.wrong_password", organisation_id=org_id,
                                 actor=plan.mail.sender, created=now,
                                 detail={"peer": plan.mail.peer}))
        elif plan.password_used and plan.account.failed_logins:
            session.execute(update(Organisation).where(Organisation.id == org_id)
                            .values(failed_logins=0))

    def _refuse(self, session: Session, plan: Plan, now: datetime) -> Outcome:
        refusal = plan.refusal
        assert refusal is not None
        fields: dict[str, object] = {"reason": refusal.message}
        if refusal.detail:
            fields["detail"] = refusal.detail
        if self.settings.reject_mode != "bounce":
            return Outcome(refusal.reply, "ingest.refused", fields)
        mail = plan.mail
        to = mail.envelope_from.strip("<>")
        if to:  # never answer a bounce with a bounce
            dsn = build_refusal_dsn(
                original=mail.raw, reporting_mta=self.settings.hostname,
                from_addr=f"MAILER-DAEMON@{self.settings.fax_domain}", to_addr=to,
                recipients=mail.rcpt_tos or [f"unknown@{self.settings.fax_domain}"],
                message=refusal.message, arrival=now.replace(tzinfo=UTC),
                status=REPLIES.get(refusal.message, (550, "5.0.0"))[1],
            )
            session.add(Outbox(kind="fax.refusal_dsn", mail_from="", rcpt_to=to,
                               raw=dsn.as_bytes(), created=now, next_attempt_at=now))
        return Outcome("250 2.0.0 OK", "ingest.refused", {**fields, "mode": "bounce"})

    def _accept_lists(self, session: Session, plan: Plan, now: datetime) -> Outcome:
        """A mail to one or more lists (and maybe numbers): one list send per list."""
        assert plan.account is not None
        row, jobs = self._rows(plan, now)
        mail = InboundMail(**row)
        session.add(mail)
        session.flush()
        for job in jobs:
            job["inbound_mail_id"] = mail.id
        total = len(jobs)
        for name in plan.lists:
            send = ListSend(organisation_id=plan.account.id, inbound_mail_id=mail.id,
                            list_name=name, created=now)
            session.add(send)
            session.flush()
            if plan.account.locked:  # the stored list cannot be used while locked: 207000
                job = FaxJob(organisation_id=plan.account.id, inbound_mail_id=mail.id,
                             list_send_id=send.id, number=f"list-{name}", e164="",
                             max_attempts=1, notify=jobs_notify(plan), created=now,
                             next_attempt_at=now)
                session.add(job)
                session.flush()
                finish(session, self.settings, job, "207000",
                       "account locked after wrong passwords / アカウントがロックされています")
                total += 1
                continue
            template = self._job_template(plan, now)
            for dialled, e164 in plan.account.lists[name]:
                jobs.append({**template, "inbound_mail_id": mail.id, "list_send_id": send.id,
                             "number": dialled, "e164": e164})
                total += 1
        if jobs:
            session.execute(insert(FaxJob), jobs)
        metrics.JOBS_CREATED.inc(total)
        return Outcome(f"250 2.0.0 OK queued as M{mail.id} ({total} fax)", "ingest.accepted",
                       {"mail": mail.id, "jobs": total, "lists": plan.lists})

    @staticmethod
    def _audit_row(mail: Received, now: datetime) -> dict[str, object]:
        headers = mail.headers
        return {"kind": "fax.unauthorised_sender", "actor": mail.sender, "created": now,
                "detail": {
                    "envelope_from": mail.envelope_from,
                    "from": decode_text(headers.get("From")),
                    "recipients": mail.rcpt_tos[:50],
                    "subject": decode_text(headers.get("Subject")),
                    "message_id": decode_text(headers.get("Message-ID")), "peer": mail.peer}}

    def _job_template(self, plan: Plan, now: datetime) -> dict[str, object]:
        assert plan.account is not None
        account = plan.account
        mods = self._modifiers(plan, now)[1]
        due = now
        if mods.send_at is not None:
            zone = ZoneInfo(account.timezone)
            due = mods.send_at.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        retries = account.retries if mods.retries is None else mods.retries
        return {"organisation_id": account.id,
                "max_attempts": retries + 1,
                "retry_interval": account.interval if mods.interval is None else mods.interval,
                "notify": mods.notify or account.notify, "created": now, "next_attempt_at": due}

    @staticmethod
    def _modifiers(plan: Plan, now: datetime) -> tuple[str, Modifiers]:
        assert plan.account is not None
        zone = ZoneInfo(plan.account.timezone)
        local = now.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
        return parse_subject(decode_text(plan.mail.headers.get("Subject")), now=local)

    def _rows(self, plan: Plan, now: datetime
              ) -> tuple[dict[str, object], list[dict[str, object]]]:
        """The InboundMail row and the FaxJob rows of its numbers (without the mail id)."""
        assert plan.account is not None
        mail, headers = plan.mail, plan.mail.headers
        subject, mods = self._modifiers(plan, now)
        notes = list(mods.notes)
        if plan.invalid:
            notes.append("not fax numbers, skipped / FAX番号ではないため除外: "
                         + ", ".join(plan.invalid[:20]))
        row: dict[str, object] = {
            "organisation_id": plan.account.id, "envelope_from": mail.envelope_from,
            "sender": mail.sender,
            "notify_to": first_address(headers.get("Reply-To")) or mail.sender,
            "subject": subject, "message_id": decode_text(headers.get("Message-ID"))[:998],
            "remote_addr": mail.peer, "options": mods.as_options(), "notes": notes,
            "size": len(mail.raw), "raw": plan.kept, "created": now,
        }
        template = self._job_template(plan, now)
        jobs = [{**template, "number": n.dialled, "e164": n.e164} for n in plan.numbers]
        return row, jobs


def jobs_notify(plan: Plan) -> str:
    assert plan.account is not None
    return plan.account.notify


def pem_blocks(text: str) -> list[bytes]:
    """The PEM certificates in a bundle, one bytes each."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text,
                        re.DOTALL)
    return [block.encode() + b"\n" for block in blocks]

"""Mail delivery, outcomes: every answer classified, then written back in one transaction.

2xx → ``delivered``; 5xx → ``failed`` at once; 4xx or no answer → ``deferred`` (policy.py
says when next), or ``failed`` with reason ``expired`` (error status 3) past the queue
lifetime. Every failure gets the Sisimai reason, the enhanced status and the error status
(1–11, 99) from ``mail.bounce.classify_smtp_reply``; a hard bounce puts the address on the
server configuration's suppression list (配信停止, error status 10 from then on). Each write
adds a DeliveryEvent: the delivery log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from todoke.config import Settings
from todoke.errorlog.record import record_mail_error  # error log (issue 6)
from todoke.mail.bounce import classify_smtp_reply
from todoke.mail.delivery import policy
from todoke.mail.delivery.client import Reply
from todoke.mail.delivery.mx import DestinationError
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, DeliveryEvent, Suppression

FINAL = ("delivered", "failed", "blocked")


@dataclass
class Outcome:
    """What one attempt (or a bounce, or a block) did to a delivery."""

    status: str
    text: str
    reason: str = ""
    enhanced: str = ""
    reply_code: str = ""
    error_status: int | None = None
    hard: bool = False
    remote_mta: str = ""
    source_ip: str = ""
    next_attempt_at: datetime | None = None
    attempted: bool = True


def blocked(address: str) -> Outcome:
    """A suppressed recipient: never attempted."""
    return Outcome("blocked", f"{address} is on the suppression list; not sent",
                   reason="suppressed", enhanced="5.7.1", error_status=10, attempted=False)


def from_reply(settings: Settings, reply: Reply, attempts: int, created: datetime,
               now: datetime | None = None) -> Outcome:
    """Judge the answer to the ``attempts``-th attempt of a delivery queued at ``created``."""
    now = now or utcnow()
    code = reply.code
    if 200 <= code < 300:
        outcome = Outcome("delivered", reply.line, reason="delivered",
                          enhanced=_enhanced(reply.text, "2.0.0"))
    else:
        reason, status, hard, error_status = classify_smtp_reply(
            code, reply.text, host=reply.host, command=reply.command)
        if 500 <= code < 600:
            outcome = Outcome("failed", reply.line, reason=reason, enhanced=status,
                              error_status=error_status, hard=hard)
        elif policy.expired(settings, created, now):
            outcome = Outcome("failed", reply.line, reason="expired",
                              enhanced=status or "4.4.7", error_status=3)
        else:
            outcome = Outcome("deferred", reply.line, reason=reason, enhanced=status,
                              error_status=error_status,
                              next_attempt_at=policy.next_attempt(settings, now, attempts,
                                                                  reply.text))
    outcome.reply_code = str(code) if code else ""
    outcome.remote_mta = reply.host
    outcome.source_ip = reply.source_ip
    return outcome


def from_destination(settings: Settings, error: DestinationError, attempts: int,
                     created: datetime, now: datetime | None = None) -> Outcome:
    """Judge a domain that has nowhere to deliver to (NXDOMAIN, Null MX, DNS failure)."""
    now = now or utcnow()
    if error.final:
        return Outcome("failed", error.text, reason=error.reason, enhanced=error.status,
                       error_status=error.error_status, hard=True)
    if policy.expired(settings, created, now):
        return Outcome("failed", error.text, reason="expired", enhanced="4.4.7", error_status=3)
    return Outcome("deferred", error.text, reason=error.reason, enhanced=error.status,
                   error_status=error.error_status,
                   next_attempt_at=policy.next_attempt(settings, now, attempts))


def _enhanced(text: str, default: str) -> str:
    head = text.split(" ", 1)[0]
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return head
    return default


def apply(session: Session, delivery_id: int, token: str | None, outcome: Outcome) -> bool:
    """Write ``outcome``; with a token, only if the delivery is still held under it."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or (token is not None and delivery.claim_token != token):
        return False
    now = utcnow()
    if outcome.attempted:
        delivery.attempts += 1
    delivery.status = outcome.status
    delivery.last_reply = outcome.text[:20000]
    delivery.reply_code = outcome.reply_code[:3]
    delivery.enhanced_status = outcome.enhanced[:16]
    delivery.reason = outcome.reason
    delivery.error_status = outcome.error_status
    delivery.hardbounce = outcome.hard
    if outcome.remote_mta:
        delivery.remote_mta = outcome.remote_mta[:255]
    if outcome.source_ip:
        delivery.source_ip = outcome.source_ip
    delivery.claim_token = None
    delivery.lease_until = None
    delivery.updated = now
    if outcome.status in FINAL:
        delivery.completed = now
    if outcome.next_attempt_at is not None:
        delivery.next_attempt_at = outcome.next_attempt_at
    session.add(DeliveryEvent(delivery_id=delivery_id, created=now, status=outcome.status,
                              detail=outcome.text[:20000]))
    if outcome.status in ("failed", "blocked"):  # error log (issue 6)
        record_mail_error(session, delivery, delivery.message)
    if outcome.hard and outcome.status == "failed":
        suppress(session, delivery.message.server_config_id, delivery.rcpt, outcome.reason,
                 delivery.id)
    return True


def suppress(session: Session, server_config_id: int, address: str, reason: str,
             delivery_id: int | None) -> None:
    """Add ``address`` to the suppression list (no error if it is there already)."""
    values = {"server_config_id": server_config_id, "address": address.lower(),
              "reason": reason, "created": utcnow(), "source_delivery_id": delivery_id}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(Suppression).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(Suppression).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two engines are supported
        statement = insert(Suppression).values(**values)
    session.execute(statement)


def suppressed(session: Session, server_config_id: int, addresses: list[str]) -> set[str]:
    """The ones of ``addresses`` (lower case) on the server configuration's list."""
    if not addresses:
        return set()
    rows = session.scalars(select(Suppression.address).where(
        Suppression.server_config_id == server_config_id,
        Suppression.address.in_([a.lower() for a in addresses])))
    return set(rows)

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
from typing import Any

from sqlalchemy import DateTime, bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from todoke.config import Settings
from todoke.errorlog.record import record_mail_error  # error log (issue 6)
from todoke.mail.bounce import classify_smtp_reply
from todoke.mail.delivery import policy
from todoke.mail.delivery.client import Reply
from todoke.mail.delivery.mx import DestinationError
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, DeliveryEvent, Suppression
from todoke.webhooks import produce as webhook_events  # webhooks (issue 6)

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
    return apply_many(session, [(delivery_id, token, outcome)])[0]


def apply_many(session: Session, items: list[tuple[int, str | None, Outcome]]) -> list[bool]:
    """Write many outcomes with a few statements: one read (rows locked on PostgreSQL), one
    executemany UPDATE, one bulk INSERT of delivery events; the error log and the block list
    only for the failures. Each item is written only if its delivery is still held under its
    token (no token: unconditionally, for bounces and blocks at intake)."""
    if not items:
        return []
    ids = sorted({delivery_id for delivery_id, _, _ in items})
    held = dict(session.execute(
        select(Delivery.id, Delivery.claim_token).where(Delivery.id.in_(ids))
        .with_for_update()).tuples().all())
    now = utcnow()
    done: list[bool] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    failures: list[tuple[int, Outcome]] = []
    for delivery_id, token, outcome in items:
        ok = delivery_id in held and (token is None or held[delivery_id] == token)
        done.append(ok)
        if not ok:
            continue
        held[delivery_id] = None  # a second outcome for the same claim is not ours any more
        final = outcome.status in FINAL
        updates.append({
            "b_id": delivery_id, "b_inc": 1 if outcome.attempted else 0,
            "status": outcome.status, "last_reply": outcome.text[:20000],
            "reply_code": outcome.reply_code[:3], "enhanced_status": outcome.enhanced[:16],
            "reason": outcome.reason, "error_status": outcome.error_status,
            "hardbounce": outcome.hard, "b_mta": outcome.remote_mta[:255],
            "b_ip": outcome.source_ip, "updated": now, "b_completed": now if final else None,
            "b_next": outcome.next_attempt_at})
        events.append({"delivery_id": delivery_id, "created": now, "status": outcome.status,
                       "detail": outcome.text[:20000]})
        if outcome.status in ("failed", "blocked"):
            failures.append((delivery_id, outcome))
    if updates:
        session.connection().execute(_UPDATE, updates)
        session.execute(insert(DeliveryEvent), events)
        webhook_events.deliveries_changed(session, [u["b_id"] for u in updates])
    if failures:
        _record_failures(session, failures)
    return done


def _update_statement() -> Any:
    table = Delivery.__table__
    c = table.c
    return (update(table).where(c.id == bindparam("b_id")).values(
        attempts=c.attempts + bindparam("b_inc"),
        status=bindparam("status"), last_reply=bindparam("last_reply"),
        reply_code=bindparam("reply_code"), enhanced_status=bindparam("enhanced_status"),
        reason=bindparam("reason"), error_status=bindparam("error_status"),
        hardbounce=bindparam("hardbounce"),
        remote_mta=case((bindparam("b_mta") == "", c.remote_mta), else_=bindparam("b_mta")),
        source_ip=case((bindparam("b_ip") == "", c.source_ip), else_=bindparam("b_ip")),
        claim_token=None, lease_until=None, updated=bindparam("updated"),
        completed=func.coalesce(bindparam("b_completed", type_=DateTime), c.completed),
        next_attempt_at=func.coalesce(bindparam("b_next", type_=DateTime), c.next_attempt_at)))


_UPDATE = _update_statement()


def _record_failures(session: Session, failures: list[tuple[int, Outcome]]) -> None:
    """The error-log rows (issue 6) and hard-bounce suppressions of failed or blocked ones."""
    by_id = {d.id: d for d in session.scalars(
        select(Delivery).where(Delivery.id.in_([i for i, _ in failures]))
        .options(joinedload(Delivery.message)).execution_options(populate_existing=True))}
    for delivery_id, outcome in failures:
        delivery = by_id[delivery_id]
        record_mail_error(session, delivery, delivery.message)
        if outcome.hard and outcome.status == "failed":
            suppress(session, delivery.message.server_config_id, delivery.rcpt, outcome.reason,
                     delivery.id)


def suppress(session: Session, server_config_id: int, address: str, reason: str,
             delivery_id: int | None) -> None:
    """Add ``address`` to the suppression list. An active entry is left as it is; one
    removed earlier (by API or released after TODOKE_BLOCK_RELEASE_DAYS) is re-activated:
    removed = NULL, a new created, this bounce's reason and delivery (issue 6)."""
    now = utcnow()
    values = {"server_config_id": server_config_id, "address": address.lower(),
              "reason": reason, "created": now, "source_delivery_id": delivery_id}
    again = {"removed": None, "created": now, "reason": reason,
             "source_delivery_id": delivery_id}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert_(Suppression).values(**values).on_conflict_do_update(
            index_elements=["server_config_id", "address"], set_=again,
            where=Suppression.removed.is_not(None))
    else:  # pragma: no cover - only the two engines are supported
        statement = insert(Suppression).values(**values)
    if session.execute(statement).rowcount:  # newly on the list: webhooks (issue 6)
        webhook_events.block_changed(session, server_config_id, address, "added", reason,
                                     delivery_id)


def suppressed(session: Session, server_config_id: int, addresses: list[str]) -> set[str]:
    """The ones of ``addresses`` (lower case) on the server configuration's list and not
    removed from it."""
    if not addresses:
        return set()
    rows = session.scalars(select(Suppression.address).where(
        Suppression.server_config_id == server_config_id,
        Suppression.address.in_([a.lower() for a in addresses]),
        Suppression.removed.is_(None)))
    return set(rows)

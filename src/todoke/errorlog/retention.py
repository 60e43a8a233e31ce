"""Error log and delivery log, retention: delete what is older than TODOKE_RETENTION_DAYS (40)
in small batches.

Stage: run hourly by the housekeeper (schedule.py) in every worker process, and by
``todoke purge``. Each batch is its own short transaction, so writers recording new errors or
outcomes never wait long for the lock (on SQLite the housekeeper also pauses between batches,
because SQLite's lock is not fair to writers polling for it); on SQLite the FTS5 trigram
tables follow through their delete triggers. Searches never show expired rows even before the
purge (search.py clamps the period), so the purge only reclaims space. Every batch is
idempotent: two processes purging at once only delete each row once.

- ``purge``: error_log rows created before the cutoff.
- ``purge_deliveries``: mail messages accepted before the cutoff whose every delivery has
  ended (delivered, failed, blocked), with their deliveries and delivery events. A message
  with a delivery still queued, active or deferred is never touched (retries end after 5
  days, so that only happens to a stuck queue, which must stay visible). Block-list entries
  and unmatched bounces that point at a deleted delivery keep their row (the reference is
  set to NULL by the foreign key).

Settings: TODOKE_RETENTION_DAYS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select

from todoke import log
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage

FINISHED = ("delivered", "failed", "blocked")


def _check(days: int, batch: int) -> None:
    if days <= 0 or batch <= 0:
        raise ValueError("days and batch must be greater than 0")


def purge(store: Store, days: int = 40, batch: int = 5000, now: datetime | None = None,
          progress: Callable[[int], None] | None = None, pause: float = 0.0) -> int:
    """Delete error-log rows created more than ``days`` days ago; return how many."""
    _check(days, batch)
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        with store.session() as session:
            ids = list(session.scalars(
                select(ErrorLog.id).where(ErrorLog.created < cutoff)
                .order_by(ErrorLog.created).limit(batch)))
            if ids:
                session.execute(delete(ErrorLog).where(ErrorLog.id.in_(ids)))
        total += len(ids)
        if progress and ids:
            progress(len(ids))
        if len(ids) < batch:
            break
        if pause:
            time.sleep(pause)
    log.event("errorlog.purged", rows=total, days=days, cutoff=cutoff.isoformat())
    return total


def purge_deliveries(store: Store, days: int = 40, batch: int = 500,
                     now: datetime | None = None,
                     progress: Callable[[int], None] | None = None,
                     pause: float = 0.0) -> int:
    """Delete finished mail older than ``days`` days (messages, deliveries, events); return
    the number of deliveries deleted."""
    _check(days, batch)
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    after: tuple[datetime, int] | None = None  # keyset: (created, id) of the last message seen
    while True:
        with store.session() as session:
            query = select(MailMessage.id, MailMessage.created).where(
                MailMessage.created < cutoff)
            if after is not None:
                query = query.where(or_(MailMessage.created > after[0], and_(
                    MailMessage.created == after[0], MailMessage.id > after[1])))
            found = session.execute(query.order_by(MailMessage.created, MailMessage.id)
                                    .limit(batch)).all()
            if found:
                after = (found[-1].created, found[-1].id)
                ids = [row.id for row in found]
                busy = set(session.scalars(select(Delivery.message_id).where(
                    Delivery.message_id.in_(ids), Delivery.status.not_in(FINISHED))))
                done = [i for i in ids if i not in busy]
                deleted = 0
                if done:
                    deliveries = select(Delivery.id).where(Delivery.message_id.in_(done))
                    session.execute(delete(DeliveryEvent).where(
                        DeliveryEvent.delivery_id.in_(deliveries)))
                    deleted = session.execute(
                        delete(Delivery).where(Delivery.message_id.in_(done))).rowcount or 0
                    session.execute(delete(MailMessage).where(MailMessage.id.in_(done)))
                total += deleted
                if progress and deleted:
                    progress(deleted)
        if len(found) < batch:
            break
        if pause:
            time.sleep(pause)
    log.event("deliverylog.purged", deliveries=total, days=days, cutoff=cutoff.isoformat())
    return total

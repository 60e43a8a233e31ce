"""Error log, retention: delete rows older than TODOKE_RETENTION_DAYS (40) in small batches.

Stage: run by ``todoke purge`` (cron it hourly, or let an operator run it). Each batch of at
most ``batch`` rows is its own short transaction (select the oldest ids under the cutoff,
delete them), so writers recording new errors never wait long for the lock; on SQLite the
FTS5 trigram table follows through its delete trigger. Searches never show expired rows even
before the purge (search.py clamps the period), so the purge only reclaims space.

Settings: TODOKE_RETENTION_DAYS.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from todoke import log
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_log import ErrorLog


def purge(store: Store, days: int = 40, batch: int = 5000, now: datetime | None = None,
          progress: Callable[[int], None] | None = None) -> int:
    """Delete error-log rows created more than ``days`` days ago; return how many."""
    if days <= 0 or batch <= 0:
        raise ValueError("days and batch must be greater than 0")
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
    log.event("errorlog.purged", rows=total, days=days, cutoff=cutoff.isoformat())
    return total

"""Error log and delivery log, the housekeeper (stage: log): the retention purge and the
block-list release on a schedule, in every worker process.

Every TODOKE_PURGE_INTERVAL seconds (3600) it deletes error-log rows and finished mail
(messages, deliveries, delivery events) older than TODOKE_RETENTION_DAYS (retention.py), and
releases block-list entries older than TODOKE_BLOCK_RELEASE_DAYS (blocklist.py; 0 = never).
The first round runs shortly after start (a few seconds, jittered, so that workers started
together do not all begin at once).

Several workers run it: on PostgreSQL a round first takes the advisory lock
``pg_try_advisory_lock(ADVISORY_KEY)`` on its own connection and skips the round when another
process holds it; on SQLite the database lock serialises the batches. Either way every batch
is idempotent, so overlapping rounds are harmless. The work runs in a thread, in short
transactions with a pause between batches, so neither the event loop nor writers wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text

from todoke import log
from todoke.config import Settings
from todoke.errorlog import blocklist, retention
from todoke.store.db import Store

ADVISORY_KEY = 0x746F646F6B6501  # "todoke" + 1: the housekeeper's PostgreSQL advisory lock
PAUSE = 0.02  # seconds between batches


@dataclass
class Round:
    """What one round did (None when another process held the lock)."""

    errors: int = 0
    deliveries: int = 0
    released: int = 0


@contextlib.contextmanager
def exclusive(store: Store) -> Iterator[bool]:
    """True when this process may run a round now (PostgreSQL: the advisory lock was free)."""
    if not store.is_postgres:
        yield True
        return
    with store.engine.connect() as conn:
        got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}))
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()


def run_once(settings: Settings, store: Store, pause: float = PAUSE) -> Round | None:
    """One round: purge both logs, release old blocks. None if another process is at it."""
    with exclusive(store) as mine:
        if not mine:
            return None
        done = Round()
        done.errors = retention.purge(store, days=settings.retention_days, pause=pause)
        done.deliveries = retention.purge_deliveries(store, days=settings.retention_days,
                                                     pause=pause)
        done.released = blocklist.release(store, days=settings.block_release_days)
    log.event("housekeeper.round", errors=done.errors, deliveries=done.deliveries,
              released=done.released)
    return done


class Housekeeper:
    """Purges what is older than the retention, hourly, from every worker process."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.settings.purge_interval
        first = min(interval, 5.0) * random.uniform(0.5, 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), first)
        while not stop.is_set():
            try:
                await asyncio.to_thread(run_once, self.settings, self.store)
            except Exception:
                log.error("housekeeper.error", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

"""Ingest: group commit. One writer thread commits every mail waiting at that moment in one
transaction, so neither SQLite's single write lock nor PostgreSQL's commit flush is paid
once per mail; each SMTP session still gets its ``250`` only after its own mail is committed.

If a batch fails, its mails are retried one by one, so one bad mail cannot fail the others.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from todoke import log
from todoke.store.db import Store

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 200


class GroupCommitter(Generic[T, R]):
    """Runs ``apply(session, items) -> results`` for queued items, many per transaction."""

    def __init__(self, store: Store, apply: Callable[[Session, list[T]], list[R]],
                 name: str) -> None:
        self.store = store
        self.apply = apply
        self.queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    async def submit(self, item: T) -> R:
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` now; the returned future is done once it is committed."""
        future: Future[R] = Future()
        self.queue.put((item, future))
        return asyncio.wrap_future(future)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(30)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[tuple[T, Future[R]]]) -> None:
        try:
            with self.store.session() as session:
                results = self.apply(session, [item for item, _ in batch])
        except Exception:
            if len(batch) == 1:
                log.error("ingest.commit_error", exc_info=True)
                batch[0][1].set_exception(RuntimeError("commit failed"))
                return
            for entry in batch:  # isolate the bad one
                self._commit([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

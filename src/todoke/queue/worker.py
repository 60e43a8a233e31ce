"""Queue: the fax worker. Claims due jobs, places the calls, writes back the outcomes.

Up to TODOKE_FAX_LINES calls at once per process (like the modems of a fax server); many
worker processes on many hosts may share one PostgreSQL, and no job is sent twice because a
job is only ever held under one claim token (see queue/claims.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from datetime import datetime

from todoke import log
from todoke.config import Settings
from todoke.fax.documents import Documents
from todoke.fax.transport import FaxRequest, FaxResult, FaxTransport
from todoke.queue import claims, credit, faxjobs
from todoke.store.db import Store
from todoke.store.models import FaxJob, utcnow

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 60.0


class FaxWorker:
    def __init__(self, settings: Settings, store: Store, transport: FaxTransport) -> None:
        self.settings = settings
        self.store = store
        self.transport = transport
        self.documents = Documents(store)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.tasks: set[asyncio.Task[None]] = set()

    def _claim(self, limit: int) -> list[tuple[int, str]]:
        token = uuid.uuid4().hex
        with self.store.session() as session:
            claims.release_expired(session, FaxJob, back_to="retry")
            ids = claims.claim(session, FaxJob, ("queued", "retry", "held"), limit, token,
                               result_code="-3")
        return [(job_id, token) for job_id in ids]

    async def run(self, stop: asyncio.Event) -> None:
        log.event("worker.start", worker=self.name, lines=self.settings.fax_lines)
        while not stop.is_set():
            free = self.settings.fax_lines - len(self.tasks)
            claimed: list[tuple[int, str]] = []
            if free > 0:
                try:
                    claimed = await asyncio.to_thread(self._claim, free)
                except Exception:
                    log.error("worker.claim_error", exc_info=True, worker=self.name)
            for job_id, token in claimed:
                task = asyncio.create_task(self.process(job_id, token))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=30)
        log.event("worker.stop", worker=self.name)

    async def process(self, job_id: int, token: str) -> None:
        try:
            await self._process(job_id, token)
        except Exception:
            log.error("fax.worker_error", exc_info=True, job=job_id, worker=self.name)

    async def _process(self, job_id: int, token: str) -> None:
        view = await asyncio.to_thread(self._load, job_id)
        try:
            document = await self.documents.get(view.inbound_mail_id)
        except Exception as exc:  # the renderer itself broke: internal error 256, retried
            log.error("fax.render_failure", exc_info=True, job=job_id, worker=self.name)
            await asyncio.to_thread(
                self._record, job_id, token, utcnow(),
                FaxResult(code="256", pages_sent=0, duration_s=0.0, detail=f"renderer: {exc}"),
                0, view.pages_sent)
            return
        if document.error_code:
            await asyncio.to_thread(self._finish, job_id, token, document.error_code,
                                    document.error_detail)
            return
        if not await asyncio.to_thread(self._admit, job_id, token, document.pages):
            return
        request = FaxRequest(
            job_id=view.id, attempt=view.attempts + 1, number=view.number, e164=view.e164,
            tiff=document.tiff, pages_total=document.pages, first_page=view.pages_sent,
            resolution=view.resolution,
        )
        started = utcnow()
        heartbeat = asyncio.create_task(self._heartbeat(job_id, token))
        try:
            result = await self.transport.deliver(request)
        except Exception as exc:  # the transport broke: an internal error (256), retried
            log.error("fax.transport_error", exc_info=True, job=job_id, worker=self.name)
            result = FaxResult(code="256", pages_sent=0, duration_s=0.0,
                               detail=f"transport error: {exc}")
        finally:
            heartbeat.cancel()
        await asyncio.to_thread(self._record, job_id, token, started, result, document.pages,
                                view.pages_sent)

    def _admit(self, job_id: int, token: str, pages: int) -> bool:
        with self.store.session() as session:
            return credit.admit(session, self.settings, job_id, token, pages)

    def _load(self, job_id: int) -> faxjobs.JobView:
        with self.store.session() as session:
            return faxjobs.load_job(session, job_id)

    def _record(self, job_id: int, token: str, started: datetime, result: FaxResult,
                pages: int, first_page: int) -> None:
        with self.store.session() as session:
            faxjobs.record_attempt(session, self.settings, job_id, token, started, result,
                                   pages, self.name, first_page)

    def _finish(self, job_id: int, token: str, code: str, detail: str) -> None:
        with self.store.session() as session:
            job = session.get_one(FaxJob, job_id)
            if job.claim_token == token:
                faxjobs.finish(session, self.settings, job, code, detail)

    async def _heartbeat(self, job_id: int, token: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await asyncio.to_thread(self._extend, job_id, token)

    def _extend(self, job_id: int, token: str) -> None:
        with self.store.session() as session:
            claims.extend(session, FaxJob, job_id, token)

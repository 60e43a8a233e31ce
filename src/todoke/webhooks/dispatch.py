"""Webhooks, the dispatcher (stage: log / notify): posts queued events in signed batches.

Runs in every worker process (server.run_workers). Every TICK_SECONDS it claims the webhooks
that have events waiting (outbox.claim: no two workers ever hold the same webhook) and, for
each, posts its batches one after the other, at most BATCH_SIZE events each, until a batch is
not full (the rest waits for the next tick, so events are posted within about a second, or at
once when 100 are waiting). A post succeeds on any 2xx answer; anything else (3xx included:
redirects are not followed), a timeout (TIMEOUT_SECONDS) or a connection error puts the
webhook into backoff (outbox.failed). One ``httpx.AsyncClient`` is reused for every post.

Body: ``{"event": "deliveries"|"bounces"|"blocks"|"test", "webhook_id": N,
"sent": "<UTC ISO time>", "events": [{"event_id": …, …}, …]}``, signed as sign.py says.
Settings read: TODOKE_MINUTE_SECONDS (scales the backoff and the 24-hour give-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx

from todoke import __version__, log, metrics
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.webhooks import outbox, sign

TICK_SECONDS = 1.0
TIMEOUT_SECONDS = 10.0
MAX_WEBHOOKS = 32  # webhooks posted to at once by one process
MAX_BATCHES_PER_CLAIM = 50  # then the claim goes back, so other workers get a turn
SWEEP_TICKS = 60


class WebhookDispatcher:
    """Posts each webhook's due events (every second, or at 100 events)."""

    def __init__(self, settings: Settings, store: Store, *, tick: float = TICK_SECONDS,
                 timeout: float = TIMEOUT_SECONDS, batch_size: int = outbox.BATCH_SIZE) -> None:
        self.settings = settings
        self.store = store
        self.tick = tick
        self.timeout = timeout
        self.batch_size = batch_size
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.client: httpx.AsyncClient | None = None

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"User-Agent": f"todoke-webhooks/{__version__}",
                   "Content-Type": "application/json; charset=utf-8"}
        async with httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), headers=headers,
                                     follow_redirects=False, trust_env=False) as client:
            self.client = client
            ticks = 0
            while not stop.is_set():
                try:
                    await self.run_once()
                    if ticks % SWEEP_TICKS == 0:
                        await asyncio.to_thread(self._sweep)
                except Exception:
                    log.error("webhook.dispatch_error", exc_info=True)
                ticks += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick)
            if self.tasks:
                await asyncio.wait(list(self.tasks.values()), timeout=self.timeout + 5)
            self.client = None

    async def run_once(self) -> None:
        """Claim what is due and start posting to it (tasks run on past this call)."""
        free = MAX_WEBHOOKS - len(self.tasks)
        if free <= 0:
            return
        token = uuid.uuid4().hex
        claimed = await asyncio.to_thread(self._claim, token, free)
        for webhook_id in claimed:
            task = asyncio.create_task(self._serve(webhook_id, token))
            self.tasks[webhook_id] = task
            task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        for key, value in list(self.tasks.items()):
            if value is task:
                del self.tasks[key]

    async def drain(self) -> None:
        """Wait for the posts started so far (tests)."""
        while self.tasks:
            await asyncio.wait(list(self.tasks.values()))

    # -- one webhook --------------------------------------------------------------------------

    async def _serve(self, webhook_id: int, token: str) -> None:
        try:
            for _ in range(MAX_BATCHES_PER_CLAIM):
                batch = await asyncio.to_thread(self._next, webhook_id)
                if batch is None:
                    break
                error = await self._post(batch)
                if error is not None:
                    await asyncio.to_thread(self._failed, batch, token, error)
                    return  # failed() released the claim into backoff
                held = await asyncio.to_thread(self._succeeded, batch, token)
                if not held or len(batch.ids) < self.batch_size:
                    break
            await asyncio.to_thread(self._release, webhook_id, token)
        except Exception:
            log.error("webhook.serve_error", exc_info=True, webhook=webhook_id)

    async def _post(self, batch: outbox.Batch) -> str | None:
        """Post one batch; None on 2xx, else the reason it failed."""
        assert self.client is not None
        body = batch.body(utcnow())
        headers = sign.headers(batch.secret, body)
        try:
            response = await self.client.post(batch.url, content=body, headers=headers)
        except httpx.TimeoutException:
            metrics.WEBHOOK_POSTS.labels("timeout").inc()
            seconds = f"{self.timeout:g}"
            return f"timeout: no answer within {seconds} s / {seconds}秒以内に応答なし"
        except httpx.HTTPError as exc:
            metrics.WEBHOOK_POSTS.labels("connection_error").inc()
            return f"connection error / 接続エラー: {type(exc).__name__}: {exc}"[:2000]
        if 200 <= response.status_code < 300:
            metrics.WEBHOOK_POSTS.labels("ok").inc()
            return None
        metrics.WEBHOOK_POSTS.labels("http_error").inc()
        return f"HTTP {response.status_code}: {response.text[:500]}"

    # -- store work (in a thread) ---------------------------------------------------------------

    def _claim(self, token: str, limit: int) -> list[int]:
        with self.store.session() as session:
            return outbox.claim(session, token, limit)

    def _next(self, webhook_id: int) -> outbox.Batch | None:
        with self.store.read() as session:
            return outbox.next_batch(session, webhook_id, self.batch_size)

    def _succeeded(self, batch: outbox.Batch, token: str) -> bool:
        with self.store.session() as session:
            return outbox.succeeded(session, batch, token)

    def _failed(self, batch: outbox.Batch, token: str, error: str) -> None:
        with self.store.session() as session:
            dropped = outbox.failed(session, self.settings, batch, token, error)
        log.event("webhook.post_failed", webhook=batch.webhook_id, kind=batch.event,
                  events=len(batch.ids), error=error[:300], dropped=dropped or None)
        if dropped:
            metrics.WEBHOOK_DROPPED.inc(dropped)

    def _release(self, webhook_id: int, token: str) -> None:
        with self.store.session() as session:
            outbox.release(session, webhook_id, token)

    def _sweep(self) -> None:
        with self.store.session() as session:
            dropped = outbox.sweep_disabled(session, self.settings)
        if dropped:
            metrics.WEBHOOK_DROPPED.inc(dropped)
            log.event("webhook.dropped_disabled", events=dropped)

"""Mail delivery, the worker: claims due deliveries, delivers them, records the outcomes.

Claims ``queued`` and ``deferred`` deliveries whose time has come (queue/claims.py: no two
workers ever hold the same one), groups them by recipient domain and sends each group over
at most PER_DOMAIN connections at once (a semaphore per domain), each connection reused for
several deliveries. Destination: TODOKE_RELAY when set, else the domain's MX (mx.py). Each
outcome is written with its DeliveryEvent (and any suppression) in one transaction, only if
the claim is still ours. A recipient suppressed since it was queued is ``blocked`` here,
without a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke import log
from todoke.config import Settings
from todoke.ingest.writer import GroupCommitter
from todoke.mail.delivery import mx, outcome
from todoke.mail.delivery.client import Connection, Reply
from todoke.queue import claims
from todoke.store.db import Store
from todoke.store.models_mail import Delivery, MailMessage

POLL_SECONDS = 0.2
PER_DOMAIN = 4
MAX_IN_FLIGHT = 200


def verp_address(token: str, bounce_domain: str) -> str:
    """The return path of one delivery: ``bounces+<token>@<bounce domain>``."""
    return f"bounces+{token}@{bounce_domain}"


@dataclass
class Item:
    """A claimed delivery with what sending it needs."""

    id: int
    token: str
    rcpt: str
    domain: str
    attempts: int
    created: datetime
    mail_from: str
    raw: bytes


class MailWorker:
    def __init__(self, settings: Settings, store: Store, per_domain: int = PER_DOMAIN) -> None:
        self.settings = settings
        self.store = store
        self.per_domain = per_domain
        self.semaphores: dict[str, asyncio.Semaphore] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.writer: GroupCommitter[tuple[Item, outcome.Outcome], bool] | None = None

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.writer = GroupCommitter(self.store, self._write_batch, "mail-outcomes")
        try:
            await self._loop(stop)
        finally:
            await asyncio.to_thread(self.writer.close)

    async def _loop(self, stop: asyncio.Event) -> None:
        log.event("mail.worker_start", per_domain=self.per_domain,
                  relay=":".join(map(str, self.settings.relay)) if self.settings.relay else None)
        while not stop.is_set():
            free = MAX_IN_FLIGHT - self.in_flight
            items: list[Item] = []
            if free > 0:
                try:
                    items = await asyncio.to_thread(self._claim, free)
                except Exception:
                    log.error("mail.claim_error", exc_info=True)
            self._dispatch(items)
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=30)

    def _dispatch(self, items: list[Item]) -> None:
        by_domain: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            by_domain[item.domain].append(item)
        for domain, group in by_domain.items():
            lanes = min(self.per_domain, len(group))
            for lane in range(lanes):
                chunk = group[lane::lanes]
                self.in_flight += len(chunk)
                task = asyncio.create_task(self._run_chunk(domain, chunk))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _run_chunk(self, domain: str, chunk: list[Item]) -> None:
        try:
            semaphore = self.semaphores.setdefault(domain, asyncio.Semaphore(self.per_domain))
            async with semaphore:
                await self.deliver(domain, chunk)
        except Exception:
            log.error("mail.worker_error", exc_info=True, domain=domain)
        finally:
            self.in_flight -= len(chunk)

    # -- claiming ---------------------------------------------------------------------------

    def _claim(self, limit: int) -> list[Item]:
        token = uuid.uuid4().hex
        with self.store.session() as session:
            claims.release_expired(session, Delivery, back_to="deferred")
            ids = claims.claim(session, Delivery, ("queued", "deferred"), limit, token)
            if not ids:
                return []
            return self._load(session, ids, token)

    def _load(self, session: Session, ids: list[int], token: str) -> list[Item]:
        rows = session.execute(
            select(Delivery, MailMessage.server_config_id)
            .join(MailMessage, MailMessage.id == Delivery.message_id)
            .where(Delivery.id.in_(ids))
        ).all()
        by_config: dict[int, list[Delivery]] = defaultdict(list)
        for delivery, config_id in rows:
            by_config[config_id].append(delivery)
        wanted: list[Delivery] = []
        for config_id, deliveries in by_config.items():
            blocked = outcome.suppressed(session, config_id, [d.rcpt for d in deliveries])
            for delivery in deliveries:
                if delivery.rcpt.lower() in blocked:
                    outcome.apply(session, delivery.id, token, outcome.blocked(delivery.rcpt))
                else:
                    wanted.append(delivery)
        message_ids = sorted({d.message_id for d in wanted})
        raws = dict(session.execute(
            select(MailMessage.id, MailMessage.raw).where(MailMessage.id.in_(message_ids))
        ).tuples().all()) if message_ids else {}
        bounce_domain = self.settings.bounce_domain
        return [Item(d.id, token, d.rcpt, d.domain, d.attempts, d.created,
                     verp_address(d.verp_token, bounce_domain), raws[d.message_id])
                for d in wanted]

    # -- delivering -------------------------------------------------------------------------

    async def _hosts(self, domain: str) -> list[tuple[str, int]]:
        if self.settings.relay:
            return [self.settings.relay]
        return await mx.mail_exchangers(domain)

    async def _connect(self, hosts: list[tuple[str, int]]) -> tuple[Connection | None, Reply]:
        failure = Reply(0, "no host to connect to", "CONN", "")
        for host, port in hosts:
            connection = Connection(host, port, self.settings.hostname)
            result = await connection.open()
            if result is None:
                return connection, failure
            failure = result
        return None, failure

    async def deliver(self, domain: str, chunk: list[Item]) -> None:
        """Send every delivery of ``chunk`` (one domain) over one reused connection. The next
        mail goes out while the outcome of the one before is being committed (group commit);
        the chunk ends once every outcome is written."""
        pending: list[asyncio.Future[bool]] = []
        try:
            await self._deliver(domain, chunk, pending)
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _deliver(self, domain: str, chunk: list[Item],
                       pending: list[asyncio.Future[bool]]) -> None:
        try:
            hosts = await self._hosts(domain)
        except mx.DestinationError as error:
            for item in chunk:
                pending.append(self._record(item, outcome.from_destination(
                    self.settings, error, item.attempts + 1, item.created)))
            return
        connection: Connection | None = None
        try:
            for index, item in enumerate(chunk):
                if connection is None or not connection.alive:
                    connection, failure = await self._connect(hosts)
                    if connection is None:
                        for rest in chunk[index:]:
                            pending.append(self._record(rest, outcome.from_reply(
                                self.settings, failure, rest.attempts + 1, rest.created)))
                        return
                reply = await connection.send(item.mail_from, item.rcpt, item.raw)
                pending.append(self._record(item, outcome.from_reply(
                    self.settings, reply, item.attempts + 1, item.created)))
        finally:
            if connection is not None:
                await connection.close()

    def _record(self, item: Item, result: outcome.Outcome) -> asyncio.Future[bool]:
        """Hand the outcome to the writer; the future is done once it is committed."""
        assert self.writer is not None
        if result.status != "delivered":
            log.event(f"mail.{result.status}", delivery=item.id, rcpt=item.rcpt,
                      reason=result.reason or None, reply=result.text[:300])
        return self.writer.enqueue((item, result))

    @staticmethod
    def _write_batch(session: Session, batch: list[tuple[Item, outcome.Outcome]]) -> list[bool]:
        """Outcomes of many lanes in one transaction (group commit, ingest/writer.py)."""
        return outcome.apply_many(session, [(item.id, item.token, result)
                                            for item, result in batch])

"""Mail: the outbox sender, which hands the mails todoke writes itself (notifications, DSNs)
to TODOKE_RELAY, or to the recipient domain's MX when no relay is set.

A mail stays in the outbox until a server accepts it: a 4xx reply or a connection error is
retried with backoff (1, 2, 4 … 60 minutes, scaled by TODOKE_MINUTE_SECONDS) for 5 days;
a 5xx reply fails it at once. Envelope sender: empty (``<>``, RFC 3834 for auto-generated
mail) unless the row names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.resolver

from todoke import log, metrics
from todoke.config import Settings
from todoke.queue import claims
from todoke.store.db import Store
from todoke.store.models import Outbox, utcnow

GIVE_UP = timedelta(days=5)
PARALLEL = 8


class PermanentFailure(Exception):
    pass


async def mail_exchangers(domain: str) -> list[tuple[str, int]]:
    """The hosts to try for ``domain``: MX by preference, else the domain itself (RFC 5321)."""
    try:
        answer = await dns.asyncresolver.resolve(domain, "MX")
    except dns.resolver.NXDOMAIN as exc:
        raise PermanentFailure(f"domain {domain} does not exist") from exc
    except (dns.resolver.NoAnswer, dns.exception.Timeout, dns.resolver.NoNameservers):
        return [(domain, 25)]
    records = sorted(answer, key=lambda r: r.preference)  # type: ignore[attr-defined]
    hosts = [(str(r.exchange).rstrip("."), 25) for r in records]  # type: ignore[attr-defined]
    if hosts == [("", 25)]:
        raise PermanentFailure(f"domain {domain} accepts no mail (null MX)")
    return hosts


class OutboxSender:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def _claim(self) -> list[tuple[int, str]]:
        token = uuid.uuid4().hex
        with self.store.session() as session:
            claims.release_expired(session, Outbox, back_to="queued")
            ids = claims.claim(session, Outbox, ("queued",), PARALLEL, token)
        return [(i, token) for i in ids]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = []
            try:
                claimed = await asyncio.to_thread(self._claim)
            except Exception:
                log.error("outbox.claim_error", exc_info=True)
            if claimed:
                await asyncio.gather(*(self.send(i, t) for i, t in claimed))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    def _row(self, row_id: int) -> tuple[str, str, bytes]:
        with self.store.session() as session:
            row = session.get_one(Outbox, row_id)
            return row.mail_from, row.rcpt_to, row.raw

    async def send(self, row_id: int, token: str) -> None:
        mail_from, rcpt, raw = await asyncio.to_thread(self._row, row_id)
        try:
            await self._deliver(mail_from, rcpt, raw)
        except PermanentFailure as exc:
            await asyncio.to_thread(self._done, row_id, token, "failed", str(exc))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            code = getattr(exc, "code", 0)
            if isinstance(code, int) and 500 <= code < 600:
                await asyncio.to_thread(self._done, row_id, token, "failed", str(exc))
            else:
                await asyncio.to_thread(self._defer, row_id, token, str(exc))
        except Exception as exc:  # a bug must not stop the outbox: keep the mail, retry later
            log.error("outbox.error", exc_info=True, outbox=row_id)
            await asyncio.to_thread(self._defer, row_id, token, repr(exc))
        else:
            await asyncio.to_thread(self._done, row_id, token, "sent", "")

    async def _deliver(self, mail_from: str, rcpt: str, raw: bytes) -> None:
        if self.settings.relay:
            hosts = [self.settings.relay]
        else:
            hosts = await mail_exchangers(rcpt.rpartition("@")[2])
        last: Exception | None = None
        for host, port in hosts:
            try:
                client = aiosmtplib.SMTP(
                    hostname=host, port=port, local_hostname=self.settings.hostname,
                    start_tls=None, timeout=60, validate_certs=False,
                )
                async with client:
                    await client.sendmail(mail_from, [rcpt], raw)
                return
            except aiosmtplib.SMTPResponseException as exc:
                if 500 <= exc.code < 600:
                    raise
                last = exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                last = exc
        assert last is not None
        raise last

    def _done(self, row_id: int, token: str, status: str, error: str) -> None:
        with self.store.session() as session:
            row = session.get_one(Outbox, row_id)
            if row.claim_token != token:
                return
            row.attempts += 1
            row.status = status
            row.last_error = error[:2000]
            row.claim_token = None
            row.lease_until = None
            if status == "sent":
                row.sent_at = utcnow()
        metrics.OUTBOX_SENT.labels(status).inc()
        log.event(f"outbox.{status}", outbox=row_id, error=error or None)

    def _defer(self, row_id: int, token: str, error: str) -> None:
        with self.store.session() as session:
            row = session.get_one(Outbox, row_id)
            if row.claim_token != token:
                return
            row.attempts += 1
            row.last_error = error[:2000]
            row.claim_token = None
            row.lease_until = None
            if utcnow() - row.created > GIVE_UP:
                row.status = "failed"
            else:
                row.status = "queued"
                delay = self.settings.minutes(min(2 ** (row.attempts - 1), 60))
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)
        log.warning("outbox.deferred", outbox=row_id, error=error[:300])

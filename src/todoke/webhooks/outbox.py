"""Webhooks, the outbox (stage: log / notify): claiming webhooks, reading their next batch, and
writing back what a post did. Synchronous store work; the dispatcher runs it in a thread.

The unit of claim is the webhook, not the event: ``UPDATE webhooks SET claim_token=:t,
lease_until=… WHERE id IN (SELECT id … FOR UPDATE SKIP LOCKED)`` (the pattern of
queue/claims.py). Only the holder posts, so at most one batch per webhook is in flight in the
whole installation and its events leave in order; a dead worker's claim runs out with its
lease and another worker posts the batch again (delivery is at least once: receivers
de-duplicate by ``event_id``).

A batch is the oldest waiting kind's events, in id order, at most BATCH_SIZE: the events of
one kind reach a webhook in the order they were made. After a failed post the webhook waits
``30 s × 1.3^(failures-1)`` (at most an hour; schedule minutes, so TODOKE_MINUTE_SECONDS
shortens it) and every event of it older than 24 hours is dropped (counted in ``dropped``;
``last_error`` is kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from todoke.config import Settings
from todoke.store.models import utcnow
from todoke.store.models_hooks import WEBHOOK_EVENTS, Webhook, WebhookEvent

BATCH_SIZE = 100
LEASE = timedelta(seconds=60)  # a post times out after 10 s; renewed after every batch
BACKOFF_FIRST_MINUTES = 0.5  # 30 s
BACKOFF_FACTOR = 1.3
BACKOFF_CAP_MINUTES = 60.0
GIVE_UP_MINUTES = 24 * 60.0
KINDS = (*WEBHOOK_EVENTS, "test")


@dataclass(frozen=True)
class Batch:
    """Up to BATCH_SIZE events of one kind for one webhook, oldest first, with where they go
    (read with the batch, so a changed URL or secret counts from the next batch on)."""

    webhook_id: int
    event: str
    ids: list[int]
    payloads: list[dict[str, Any]]
    url: str = ""
    secret: str = ""

    def body(self, sent: datetime) -> bytes:
        """The JSON posted: ``{"event", "webhook_id", "sent", "events": [...]}``; each event
        carries its ``event_id`` (stable across retries, for de-duplication)."""
        events = [{"event_id": event_id, **payload}
                  for event_id, payload in zip(self.ids, self.payloads, strict=True)]
        document = {"event": self.event, "webhook_id": self.webhook_id,
                    "sent": sent.strftime("%Y-%m-%dT%H:%M:%SZ"), "events": events}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def backoff_minutes(failures: int) -> float:
    """Schedule minutes to wait after the ``failures``-th failed post in a row."""
    return min(BACKOFF_CAP_MINUTES,
               BACKOFF_FIRST_MINUTES * BACKOFF_FACTOR ** max(failures - 1, 0))


def claim(session: Session, token: str, limit: int, now: datetime | None = None) -> list[int]:
    """Claim up to ``limit`` enabled webhooks that have events and are not in backoff; return
    their ids."""
    now = now or utcnow()
    waiting = exists().where(WebhookEvent.webhook_id == Webhook.id)
    free = or_(Webhook.claim_token.is_(None), Webhook.lease_until < now)
    due = (
        select(Webhook.id)
        .where(Webhook.enabled.is_(True), Webhook.next_attempt_at <= now, free, waiting)
        .order_by(Webhook.next_attempt_at, Webhook.id)
        .limit(limit)
        # NO KEY UPDATE: producers' FOR KEY SHARE (events.emit) do not make us skip the row
        .with_for_update(key_share=True, skip_locked=True)
    )
    statement = (
        update(Webhook)
        .where(Webhook.id.in_(due), free)
        .values(claim_token=token, lease_until=now + LEASE)
        .returning(Webhook.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement).all())


def next_batch(session: Session, webhook_id: int, size: int = BATCH_SIZE) -> Batch | None:
    """The webhook's next batch: the kind whose oldest event is oldest, in id order; None when
    nothing waits, or the webhook was disabled or deleted meanwhile."""
    hook = session.execute(select(Webhook.url, Webhook.secret).where(
        Webhook.id == webhook_id, Webhook.enabled.is_(True))).first()
    if hook is None:
        return None
    heads: list[tuple[int, str]] = []
    for kind in KINDS:  # one index lookup each on (webhook_id, event, id)
        first = session.scalar(select(func.min(WebhookEvent.id)).where(
            WebhookEvent.webhook_id == webhook_id, WebhookEvent.event == kind))
        if first is not None:
            heads.append((first, kind))
    if not heads:
        return None
    _first, kind = min(heads)
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.payload)
        .where(WebhookEvent.webhook_id == webhook_id, WebhookEvent.event == kind)
        .order_by(WebhookEvent.id).limit(size)).all()
    return Batch(webhook_id, kind, [row.id for row in rows],
                 [json.loads(row.payload) for row in rows], hook.url, hook.secret)


def succeeded(session: Session, batch: Batch, token: str) -> bool:
    """The endpoint took ``batch``: delete its events, renew the lease; False if the claim
    was lost meanwhile (the events are deleted all the same: they arrived)."""
    now = utcnow()
    held = session.execute(
        update(Webhook).where(Webhook.id == batch.webhook_id, Webhook.claim_token == token)
        .values(failures=0, last_success=now, lease_until=now + LEASE)
        .execution_options(synchronize_session=False)).rowcount
    session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(batch.ids))
                    .execution_options(synchronize_session=False))
    return bool(held)


def failed(session: Session, settings: Settings, batch: Batch, token: str,
           error: str) -> int:
    """The post failed: back off, keep ``error``, drop what is older than 24 hours; release
    the claim. Returns how many events were dropped."""
    now = utcnow()
    hook = session.execute(select(Webhook.failures).where(
        Webhook.id == batch.webhook_id, Webhook.claim_token == token)).first()
    if hook is None:  # no longer ours: whoever holds it now decides
        return 0
    failures = hook.failures + 1
    wait = timedelta(seconds=settings.minutes(backoff_minutes(failures)))
    session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(batch.ids))
                    .values(attempts=WebhookEvent.attempts + 1)
                    .execution_options(synchronize_session=False))
    cutoff = now - timedelta(seconds=settings.minutes(GIVE_UP_MINUTES))
    dropped = session.execute(delete(WebhookEvent).where(
        WebhookEvent.webhook_id == batch.webhook_id, WebhookEvent.created < cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0
    if dropped:
        error += (f" ({dropped} events older than 24 h dropped / "
                  f"24時間を過ぎたイベント{dropped}件を破棄)")
    session.execute(
        update(Webhook).where(Webhook.id == batch.webhook_id)
        .values(failures=failures, last_error=error[:2000], last_error_at=now,
                next_attempt_at=now + wait, dropped=Webhook.dropped + dropped,
                claim_token=None, lease_until=None)
        .execution_options(synchronize_session=False))
    return dropped


def release(session: Session, webhook_id: int, token: str) -> None:
    """Give the claim back (nothing more to post now)."""
    session.execute(update(Webhook).where(Webhook.id == webhook_id, Webhook.claim_token == token)
                    .values(claim_token=None, lease_until=None)
                    .execution_options(synchronize_session=False))


def sweep_disabled(session: Session, settings: Settings) -> int:
    """Drop the events older than 24 hours of disabled webhooks (nothing posts them)."""
    cutoff = utcnow() - timedelta(seconds=settings.minutes(GIVE_UP_MINUTES))
    total = 0
    for webhook_id in session.scalars(select(Webhook.id).where(Webhook.enabled.is_(False))):
        dropped = session.execute(delete(WebhookEvent).where(
            WebhookEvent.webhook_id == webhook_id, WebhookEvent.created < cutoff)
            .execution_options(synchronize_session=False)).rowcount or 0
        if dropped:
            session.execute(update(Webhook).where(Webhook.id == webhook_id)
                            .values(dropped=Webhook.dropped + dropped)
                            .execution_options(synchronize_session=False))
            total += dropped
    return total

"""Webhooks, the event outbox (stage: log): ``emit`` queues one event for every enabled webhook
of a server configuration that subscribes to it, in the caller's transaction, so an event
exists exactly when the change that made it was committed.

The subscriptions are cached per process for CACHE_SECONDS, so the delivery engine's hot path
does not query the webhooks table for every outcome; a new or changed webhook takes effect
within that time. The cache only says who *may* listen: before inserting, ``emit`` reads those
webhooks again (one primary-key lookup, ``FOR KEY SHARE`` on PostgreSQL), so a webhook
deleted, disabled or moved meanwhile never gets a row, and a concurrent delete waits for the
producer's commit (then its events go with it) instead of failing the producer's transaction.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from todoke.store.models import utcnow
from todoke.store.models_hooks import WEBHOOK_EVENTS, Webhook, WebhookEvent

CACHE_SECONDS = 1.0

_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, list[int]]] = {}
_anyone: dict[str, tuple[float, bool]] = {}


def forget() -> None:
    """Drop the cached subscriptions (after a webhook is created, changed or deleted)."""
    with _lock:
        _cache.clear()
        _anyone.clear()


def anyone(session: Session, event: str) -> bool:
    """Whether any enabled webhook of any server configuration wants ``event`` (cached like
    ``subscribers``): producers skip building payloads at all when nobody listens."""
    now = time.monotonic()
    with _lock:
        hit = _anyone.get(event)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = session.execute(select(Webhook.events).where(Webhook.enabled.is_(True))).scalars()
    wanted = any(event in events.split(",") for events in rows)
    with _lock:
        _anyone[event] = (now, wanted)
    return wanted


def subscribers(session: Session, server_config_id: int, event: str) -> list[int]:
    """The ids of the enabled webhooks of ``server_config_id`` that want ``event``."""
    key = (server_config_id, event)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = session.execute(select(Webhook.id, Webhook.events).where(
        Webhook.server_config_id == server_config_id, Webhook.enabled.is_(True))).all()
    ids = [row.id for row in rows if event in row.events.split(",")]
    with _lock:
        _cache[key] = (now, ids)
    return ids


def emit(session: Session, server_config_id: int | None, event: str,
         payloads: list[dict[str, Any]]) -> int:
    """Queue ``payloads`` (JSON-able dicts) as ``event`` events; returns how many rows."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if server_config_id is None or not payloads:
        return 0
    hooks = subscribers(session, server_config_id, event)
    if not hooks:
        return 0
    live = session.execute(
        select(Webhook.id, Webhook.events)
        .where(Webhook.id.in_(hooks), Webhook.server_config_id == server_config_id,
               Webhook.enabled.is_(True))
        .order_by(Webhook.id)
        .with_for_update(read=True, key_share=True)).all()
    return queue(session, [row.id for row in live if event in row.events.split(",")], event,
                 payloads)


def queue(session: Session, webhook_ids: list[int], event: str,
          payloads: list[dict[str, Any]]) -> int:
    """Queue ``payloads`` for exactly these webhooks (``emit`` after its lookup; the test
    event of one webhook); returns how many rows."""
    now = utcnow()
    rows = [{"webhook_id": hook, "event": event, "created": now, "attempts": 0,
             "payload": json.dumps(payload, ensure_ascii=False, default=str)}
            for hook in webhook_ids for payload in payloads]
    if rows:
        session.execute(insert(WebhookEvent), rows)
    return len(rows)

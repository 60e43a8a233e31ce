"""Store: webhooks (issue 6) — where a server configuration's events go, and their outbox.

Stage: written by the stages that make events (the mail delivery engine for ``deliveries``,
the error log for ``bounces``, the block list for ``blocks``), read by the webhook dispatcher
in the worker, which posts them in signed batches (every second or at 100 events) and retries
with backoff. A ``webhook_events`` row is one event for one endpoint; it is deleted once the
endpoint has answered 2xx. All times are naive UTC.

A webhook row is also the dispatcher's unit of claim (``claim_token``, ``lease_until``): only
the worker holding it posts, so at most one batch per webhook is in flight and the order of
its events is kept; ``next_attempt_at`` is when it may be posted to again (backoff after a
failed post), ``dropped`` counts events given up after 24 h.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from todoke.store.models import Base, BigId, utcnow

__all__ = ["WEBHOOK_EVENTS", "Webhook", "WebhookEvent"]

WEBHOOK_EVENTS = ("deliveries", "bounces", "blocks")


class Webhook(Base):
    """An HTTPS (or, for tests, HTTP) endpoint of one server configuration."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", name="fk_webhooks_organisation", ondelete="CASCADE")
    )
    server_config_id: Mapped[int] = mapped_column(
        ForeignKey("server_configs.id", name="fk_webhooks_server_config", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))  # HMAC-SHA256 key, shown once
    events: Mapped[str] = mapped_column(String(64), default=",".join(WEBHOOK_EVENTS))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_success: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed posts
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    dropped: Mapped[int] = mapped_column(Integer, default=0)  # events given up (24 h)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # backoff
    claim_token: Mapped[str | None] = mapped_column(String(40))  # the posting worker
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_webhooks_server_config", "server_config_id"),)


class WebhookEvent(Base):
    """One event waiting to be posted to one webhook."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", name="fk_webhook_events_webhook", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(16))  # deliveries | bounces | blocks
    payload: Mapped[str] = mapped_column(Text)  # one JSON object
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed posts so far

    # a webhook's next batch: its oldest events of one kind, in id order
    __table_args__ = (Index("ix_webhook_events_batch", "webhook_id", "event", "id"),)

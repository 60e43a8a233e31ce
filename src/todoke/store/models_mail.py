"""Store: the tables of transactional mail delivery (issue 5).

MailMessage (the mail as built by the API, kept once) → Delivery (one per recipient: the
queue row, afterwards the delivery-log and error-log row) → DeliveryEvent (every attempt and
every status change; the delivery log's detail). Suppression is the block list of a server
configuration (配信停止アドレス, error status 10). BounceAudit keeps bounce mails that could
not be matched to a delivery, so that none is lost. All times are naive UTC.

Delivery.status: queued → active → (deferred → active)* → delivered | failed; ``blocked``
for a suppressed recipient that is never attempted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from todoke.store.models import Base, BigId, utcnow

__all__ = ["BounceAudit", "Delivery", "DeliveryEvent", "MailMessage", "Suppression"]


class MailMessage(Base):
    """A transactional mail as built by ``POST /v1/mail/send``, kept once for its deliveries."""

    __tablename__ = "mail_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", name="fk_mail_messages_organisation"), index=True
    )
    server_config_id: Mapped[int] = mapped_column(
        ForeignKey("server_configs.id", name="fk_mail_messages_server_config"), index=True
    )
    api_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_users.id", name="fk_mail_messages_api_user")
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    mail_from: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    x_api_data: Mapped[str] = mapped_column(String(998), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="message", order_by="Delivery.id"
    )

    __table_args__ = (  # the delivery log's scoped pages and the purge (migration 0006)
        Index("ix_mail_messages_org_config_created", "organisation_id", "server_config_id",
              "created"),
        Index("ix_mail_messages_org_user_created", "organisation_id", "api_user_id", "created"),
        Index("ix_mail_messages_created", "created"),
    )


class Delivery(Base):
    """One recipient of a MailMessage: the queue row and the delivery/error log row."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("mail_messages.id", name="fk_deliveries_message", ondelete="CASCADE"),
        index=True,
    )
    rcpt: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_reply: Mapped[str] = mapped_column(Text, default="")
    reply_code: Mapped[str] = mapped_column(String(3), default="")
    enhanced_status: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(String(32), default="")
    error_status: Mapped[int | None] = mapped_column(Integer)
    hardbounce: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_mta: Mapped[str] = mapped_column(String(255), default="")
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    verp_token: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed: Mapped[datetime | None] = mapped_column(DateTime)

    message: Mapped[MailMessage] = relationship(back_populates="deliveries")

    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_message_status", "message_id", "status"),  # 0006
    )


class DeliveryEvent(Base):
    """One status change of a delivery (attempt outcome, bounce, block): the delivery log."""

    __tablename__ = "delivery_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", name="fk_delivery_events_delivery", ondelete="CASCADE"),
        index=True,
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str] = mapped_column(Text, default="")


class Suppression(Base):
    """An address a server configuration no longer sends to (hard bounce, or by hand)."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    server_config_id: Mapped[int] = mapped_column(
        ForeignKey("server_configs.id", name="fk_suppressions_server_config")
    )
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(32), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(DateTime)  # released; kept for blocks/list
    source_delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", name="fk_suppressions_source_delivery", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ux_suppressions_address", "server_config_id", "address", unique=True),
        Index("ix_suppressions_source_delivery", "source_delivery_id"),  # 0006
    )


class BounceAudit(Base):
    """A bounce mail received at the bounce domain: matched or not, it is kept here."""

    __tablename__ = "bounce_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    rcpt_to: Mapped[str] = mapped_column(String(320), default="")
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", name="fk_bounce_audit_delivery", ondelete="SET NULL")
    )
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(32), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_bounce_audit_delivery", "delivery_id"),)  # 0006

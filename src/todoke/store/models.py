"""Store: the tables of todoke, as SQLAlchemy 2 declarative models.

Tenancy: Organisation → ConsoleUser, ServerConfig → ApiUser; an organisation is one fax
account (its fax settings live on it). Fax pipeline: InboundMail (raw mail, kept once) →
FaxJob (one per number) → FaxAttempt (one per call); FaxDocument holds the rendered pages of
a mail. Outbox holds mail todoke writes itself (notifications, DSNs) until it is sent.
All times are naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now, as the naive UTC the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    """A customer: one fax account with its settings, users, server configurations."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # fax settings (account properties)
    fax_retries: Mapped[int] = mapped_column(Integer, default=3)
    fax_retry_interval: Mapped[float] = mapped_column(Float, default=3.0)  # minutes
    fax_notify: Mapped[str] = mapped_column(String(10), default="always")
    fax_notify_html: Mapped[bool] = mapped_column(Boolean, default=True)
    fax_resolution: Mapped[str] = mapped_column(String(10), default="fine")
    fax_page_size: Mapped[str] = mapped_column(String(10), default="a4")
    fax_require_password: Mapped[bool] = mapped_column(Boolean, default=False)
    fax_password_hash: Mapped[str | None] = mapped_column(String(255))
    fax_require_ticket: Mapped[bool] = mapped_column(Boolean, default=False)
    fax_ticket_key: Mapped[str | None] = mapped_column(String(255))
    fax_require_smime: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(5), default="ja")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    fax_smime_certs: Mapped[str] = mapped_column(Text, default="")  # PEM bundle
    credit_limit: Mapped[float | None] = mapped_column(Numeric(14, 2))
    page_price: Mapped[float] = mapped_column(Numeric(10, 2), default=10)
    download_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # transactional mail may come only from these domains (and their subdomains); "" = any
    mail_sender_domains: Mapped[str] = mapped_column(String(2000), default="",
                                                     server_default="")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)

    senders: Mapped[list[AuthorizedSender]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )
    server_configs: Mapped[list[ServerConfig]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )


class ConsoleUser(Base):
    """A person who logs in to the console; organisation None = system administrator."""

    __tablename__ = "console_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="user")  # admin | group_admin | user
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ServerConfig(Base):
    """A server configuration (サーバ構成): a group of API users and their logs."""

    __tablename__ = "server_configs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="server_configs")
    api_users: Mapped[list[ApiUser]] = relationship(
        back_populates="server_config", cascade="all, delete-orphan"
    )


class ApiUser(Base):
    """An API user: its key is stored only as a SHA-256 hash."""

    __tablename__ = "api_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    server_config_id: Mapped[int] = mapped_column(ForeignKey("server_configs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # client networks (CIDRs, comma-separated) that may submit as this user without AUTH
    networks: Mapped[str] = mapped_column(String(1000), default="", server_default="")

    server_config: Mapped[ServerConfig] = relationship(back_populates="api_users")


class AuthorizedSender(Base):
    """An address allowed to send faxes for an organisation (unique across the gateway)."""

    __tablename__ = "authorized_senders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)

    organisation: Mapped[Organisation] = relationship(back_populates="senders")


class AuditLog(Base):
    """Events only administrators see, e.g. mail from an unauthorised sender, dropped."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class InboundMail(Base):
    """A fax mail as received, kept once for all of its jobs."""

    __tablename__ = "inbound_mails"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    envelope_from: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str] = mapped_column(String(320))
    notify_to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    options: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class FaxDocument(Base):
    """The rendered pages of an inbound mail (or the rendering error)."""

    __tablename__ = "fax_documents"
    inbound_mail_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_mails.id", ondelete="CASCADE"), primary_key=True
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    tiff: Mapped[bytes | None] = mapped_column(LargeBinary)
    parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_code: Mapped[str | None] = mapped_column(String(10))
    error_detail: Mapped[str | None] = mapped_column(Text)


class FaxJob(Base):
    """One fax to one number: the queue row and, afterwards, the send-history row.

    status: queued → active → (retry → active)* → done | failed | cancelled.
    result_code follows the service's convention: -2 ready, -3 sending or waiting to retry,
    then the final code (0 = OK).
    """

    __tablename__ = "fax_jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    inbound_mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mails.id"), index=True)
    resend_of: Mapped[int | None] = mapped_column(ForeignKey("fax_jobs.id"))
    list_send_id: Mapped[int | None] = mapped_column(ForeignKey("list_sends.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    e164: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(12), default="queued")
    result_code: Mapped[str] = mapped_column(String(10), default="-2")
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=4)
    retry_interval: Mapped[float] = mapped_column(Float, default=3.0)  # minutes
    notify: Mapped[str] = mapped_column(String(10), default="always")
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    pages_sent: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed: Mapped[datetime | None] = mapped_column(DateTime)
    held_since: Mapped[datetime | None] = mapped_column(DateTime)  # waiting for credit (-22)
    claim_token: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)

    inbound_mail: Mapped[InboundMail] = relationship()
    attempt_rows: Mapped[list[FaxAttempt]] = relationship(
        back_populates="job", order_by="FaxAttempt.number", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_fax_jobs_due", "status", "next_attempt_at"),
        Index("ix_fax_jobs_history", "organisation_id", "id"),
    )


class FaxList(Base):
    """A named list of fax numbers of an account; mail to list-<name>@<fax domain> uses it."""

    __tablename__ = "fax_lists"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    numbers: Mapped[list[FaxListNumber]] = relationship(
        back_populates="fax_list", cascade="all, delete-orphan", order_by="FaxListNumber.id"
    )

    __table_args__ = (Index("ux_fax_lists_name", "organisation_id", "name", unique=True),)


class FaxListNumber(Base):
    __tablename__ = "fax_list_numbers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("fax_lists.id", ondelete="CASCADE"),
                                         index=True)
    number: Mapped[str] = mapped_column(String(40))
    e164: Mapped[str] = mapped_column(String(40))

    fax_list: Mapped[FaxList] = relationship(back_populates="numbers")


class ListSend(Base):
    """One mail to a list: one history row over the jobs it made."""

    __tablename__ = "list_sends"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    inbound_mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mails.id"))
    list_name: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FaxAttempt(Base):
    """One call placed for a job."""

    __tablename__ = "fax_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("fax_jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started: Mapped[datetime] = mapped_column(DateTime)
    finished: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    result_code: Mapped[str] = mapped_column(String(10))
    first_page: Mapped[int] = mapped_column(Integer, default=0)
    pages_sent: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    worker: Mapped[str] = mapped_column(String(100), default="")

    job: Mapped[FaxJob] = relationship(back_populates="attempt_rows")


class Outbox(Base):
    """A mail todoke wrote itself (notification, DSN), kept until it is handed on."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    fax_job_id: Mapped[int | None] = mapped_column(ForeignKey("fax_jobs.id"), index=True)
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_to: Mapped[str] = mapped_column(String(320))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    claim_token: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


from todoke.store.models_hooks import *  # noqa: E402,F403  (webhooks, issue 6)
from todoke.store.models_log import *  # noqa: E402,F403  (error log, issue 6)
from todoke.store.models_mail import *  # noqa: E402,F403  (mail delivery tables, issue 5)

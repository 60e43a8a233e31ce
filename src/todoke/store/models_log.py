"""Store: the error log table (エラーログ, issue 6).

Stage: written by the mail delivery engine (a delivery ends ``failed`` or ``blocked``) and by
the fax queue (a job ends ``failed``), read by ``todoke.errorlog`` (search, export, purge).
Append-only and denormalised: each row carries everything the list, the detail dialog and the
CSV need, so a search never joins. Kept ``TODOKE_RETENTION_DAYS`` (40) days.

Indexes: (server_config_id, created), (organisation_id, created), (api_user_id, created) for
the scoped, newest-first pages; (created) for the purge. Partial match on to_addr / api_data
is served by migration 0004: pg_trgm GIN indexes on PostgreSQL, an FTS5 ``trigram`` table
(``error_log_fts``, kept by triggers) on SQLite. All times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from todoke.store.models import Base, BigId, utcnow

__all__ = ["ErrorLog"]

_Ref = BigInteger().with_variant(Integer(), "sqlite")


class ErrorLog(Base):
    """One delivery error: a failed or blocked mail recipient, or a failed fax."""

    __tablename__ = "error_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    organisation_id: Mapped[int] = mapped_column(_Ref)
    server_config_id: Mapped[int | None] = mapped_column(_Ref)  # None for fax
    api_user_id: Mapped[int | None] = mapped_column(_Ref)
    kind: Mapped[str] = mapped_column(String(4))  # mail | fax
    status: Mapped[int] = mapped_column(Integer)  # error status 1-11, 99
    reason: Mapped[str] = mapped_column(String(32), default="")  # Sisimai reason / fax code
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    return_path: Mapped[str] = mapped_column(String(320), default="")
    to_addr: Mapped[str] = mapped_column(String(320), default="")  # recipient / fax number
    subject: Mapped[str] = mapped_column(String(998), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="")
    api_data: Mapped[str] = mapped_column(String(998), default="")  # X-Api-Data
    response: Mapped[str] = mapped_column(Text, default="")  # SMTP reply / bounce / fax code
    delivery_id: Mapped[int | None] = mapped_column(_Ref)
    fax_job_id: Mapped[int | None] = mapped_column(_Ref)

    __table_args__ = (
        Index("ix_error_log_server_config_created", "server_config_id", "created"),
        Index("ix_error_log_organisation_created", "organisation_id", "created"),
        Index("ix_error_log_api_user_created", "api_user_id", "created"),
        Index("ix_error_log_created", "created"),
        Index("ix_error_log_org_status_created", "organisation_id", "status", "created",
              "server_config_id", "kind"),  # searches by status (migration 0007)
    )

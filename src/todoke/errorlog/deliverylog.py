"""Delivery log (配信ログ): search, detail and encrypted CSV export of every mail delivery.

Stage: read side of ``deliveries`` joined with their ``mail_messages`` for the API
(``GET /v1/deliveries``, ``/v1/deliveries/{id}``, ``POST /v1/deliveries/download``), the
reference shape (``/transaction/v2/deliveries/list.json``), the console and the CLI
(``todoke deliveries search|export``). The search form is the error log's (search.py): both
dates required (the organisation's days), end not before start, at most the retention apart;
status; recipient, sender and X-Api-Data partial match; the same scope (an admin key sees its
server configuration, any other key its own API user's mail, always inside the organisation);
newest first by the time the mail was accepted; 10 per page, at most 100.

Status: the delivery log speaks the four words of SPEC-MAIL, mapped from the delivery
engine's states (store/models_mail.py):

    queued     ← queued (waiting for its first attempt), active (an attempt is under way)
    deferred   ← deferred (a 4xx or no answer; it will be tried again)
    succeeded  ← delivered (2xx from the receiving server)
    failed     ← failed (5xx, a hard bounce, expired) and blocked (on the block list, never
                 attempted: error status 10)

The internal state stays visible as ``state``. Detail adds the relay source IP, the remote
MTA, the last reply and every delivery event. Download: every hit as CSV (UTF-8, LF) in an
AES-256 ZIP, columns ``created,status,from,to,messageId,returnPath,subject,apiData,sourceIp,
reply`` (returnPath = the VERP address ``bounces+<token>@`` TODOKE_BOUNCE_DOMAIN).

Partial match: PostgreSQL pg_trgm GIN on deliveries.rcpt and mail_messages.x_api_data;
SQLite FTS5 trigram tables ``deliveries_fts`` and ``mail_messages_fts`` (migration 0006).
Settings: TODOKE_RETENTION_DAYS (40), TODOKE_BOUNCE_DOMAIN.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from todoke.errorlog import export
from todoke.errorlog.record import _bounce_domain
from todoke.errorlog.search import (
    DEFAULT_PER_PAGE,
    RETENTION_DAYS,
    Criteria,
    Page,
    Scope,
    SearchError,
    iso,
    paginate,
    partial,
    period,
    zone_of,
)
from todoke.errorlog.search import parse_criteria as _parse_criteria
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage

COLUMNS = ("created", "status", "from", "to", "messageId", "returnPath", "subject", "apiData",
           "sourceIp", "reply")
# public status -> the delivery engine's states
STATES: dict[str, tuple[str, ...]] = {
    "queued": ("queued", "active"),
    "deferred": ("deferred",),
    "succeeded": ("delivered",),
    "failed": ("failed", "blocked"),
}
PUBLIC = {state: word for word, states in STATES.items() for state in states}
LABELS = {  # for people (the reference shape, the console)
    "queued": ("配信待ち", "Queued"), "deferred": ("再送待ち", "Deferred"),
    "succeeded": ("配信成功", "Succeeded"), "failed": ("配信失敗", "Failed"),
}


def public_status(state: str) -> str:
    """The delivery log's word for a delivery engine state."""
    return PUBLIC.get(state, "queued")


def delivery_status(value: Any) -> str | None:
    """A status word queued | succeeded | deferred | failed (None when empty)."""
    if value is None or str(value).strip() == "":
        return None
    word = str(value).strip().lower()
    if word not in STATES:
        raise SearchError("status", "配信ステータス(status)は queued, succeeded, deferred, "
                                    "failed のいずれかです",
                          "status must be one of queued, succeeded, deferred, failed")
    return word


def parse_criteria(start_date: str | None, end_date: str | None, status: Any = None,
                   to: str | None = None, api_data: str | None = None,
                   retention_days: int = RETENTION_DAYS,
                   sender: str | None = None) -> Criteria:
    """The error log's form rules with the delivery log's status words."""
    return _parse_criteria(start_date, end_date, status, to, api_data, retention_days, sender,
                           status_parser=delivery_status)


def _unindexed(column: Any) -> Any:
    """``+column``: the same value, but SQLite will not drive the query by an index on it."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def scope_conditions(scope: Scope, drive: bool = True) -> list[ColumnElement[bool]]:
    """Whose mail: always the organisation; its server configuration or its API user. With
    ``drive`` False the message-side indexes are not offered to SQLite's planner."""
    col = (lambda c: c) if drive else _unindexed
    where: list[ColumnElement[bool]] = [col(MailMessage.organisation_id) == scope.organisation_id]
    if scope.api_user_id is not None:
        where.append(col(MailMessage.api_user_id) == scope.api_user_id)
    elif scope.server_config_id is not None:
        where.append(col(MailMessage.server_config_id) == scope.server_config_id)
    return where


def conditions(session: Session, scope: Scope, criteria: Criteria,
               retention_days: int = RETENTION_DAYS, now: datetime | None = None,
               tz: tzinfo | None = None) -> list[ColumnElement[bool]]:
    """The WHERE of a delivery-log search (over deliveries JOIN mail_messages)."""
    tz = tz or zone_of(session, scope.organisation_id)
    low, high = period(criteria, tz, retention_days, now)
    # SQLite: a match through a trigram table is far more selective than the period;
    # without this the planner walks every message of the period (4 s at 300,000 rows) and
    # tests each one against the match, instead of starting from the few hits.
    drive = not (session.get_bind().dialect.name == "sqlite" and any(
        value is not None and len(value) >= 3 for value in (criteria.to, criteria.api_data)))
    created = MailMessage.created if drive else _unindexed(MailMessage.created)
    where = scope_conditions(scope, drive)
    where += [created >= low, created < high]
    if criteria.status is not None:
        where.append(Delivery.status.in_(STATES[str(criteria.status)]))
    if criteria.to:
        where.append(partial(session, Delivery.rcpt, criteria.to, 1,
                             ("deliveries_fts", Delivery.id)))
    if criteria.api_data:
        where.append(partial(session, MailMessage.x_api_data, criteria.api_data, 2,
                             ("mail_messages_fts", MailMessage.id)))
    if criteria.sender:
        where.append(partial(session, MailMessage.mail_from, criteria.sender, 3))
    return where


def _rows() -> Select[Any]:
    """Deliveries with their message loaded in the same query (without its raw mail)."""
    return (select(Delivery).join(Delivery.message)
            .options(contains_eager(Delivery.message).defer(MailMessage.raw)))


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(MailMessage.created.desc(), Delivery.id.desc())


def search(session: Session, scope: Scope, criteria: Criteria, page: int = 1,
           per_page: int = DEFAULT_PER_PAGE, retention_days: int = RETENTION_DAYS,
           screen: bool = False, now: datetime | None = None) -> Page[Delivery]:
    """A page of deliveries (``row.message`` loaded), newest first."""
    tz = zone_of(session, scope.organisation_id)
    where = conditions(session, scope, criteria, retention_days, now, tz)
    ids = select(Delivery.id).join(Delivery.message).where(*where)
    return paginate(session, ids, _newest_first(_rows().where(*where)), page, per_page,
                    screen, tz)


def count(session: Session, scope: Scope, criteria: Criteria,
          retention_days: int = RETENTION_DAYS, now: datetime | None = None) -> int:
    """The exact number of hits (the export's progress bar)."""
    where = conditions(session, scope, criteria, retention_days, now)
    return session.scalar(select(func.count()).select_from(Delivery)
                          .join(Delivery.message).where(*where)) or 0


def get(session: Session, scope: Scope, delivery_id: int,
        retention_days: int = RETENTION_DAYS, now: datetime | None = None) -> Delivery | None:
    """One delivery, if it is in ``scope`` and within the retention."""
    oldest = (now or utcnow()) - timedelta(days=retention_days)
    return session.scalars(_rows().where(
        Delivery.id == delivery_id, MailMessage.created >= oldest,
        *scope_conditions(scope))).first()


def return_path(delivery: Delivery, bounce_domain: str | None = None) -> str:
    return f"bounces+{delivery.verp_token}@{bounce_domain or _bounce_domain()}"


def summary(row: Delivery, tz: tzinfo = UTC, bounce_domain: str | None = None) -> dict[str, Any]:
    """A delivery as the list shows it (camelCase, like the reference API)."""
    message = row.message
    return {
        "id": row.id, "created": iso(message.created, tz), "status": public_status(row.status),
        "state": row.status, "from": message.mail_from, "to": row.rcpt,
        "messageId": message.message_id, "returnPath": return_path(row, bounce_domain),
        "subject": message.subject, "apiData": message.x_api_data,
        "errorStatus": row.error_status, "reason": row.reason,
        "updated": iso(row.updated, tz),
    }


def events(session: Session, delivery_id: int) -> list[DeliveryEvent]:
    """Every status change of a delivery, oldest first."""
    return list(session.scalars(select(DeliveryEvent)
                                .where(DeliveryEvent.delivery_id == delivery_id)
                                .order_by(DeliveryEvent.id)))


def detail(session: Session, row: Delivery, tz: tzinfo = UTC,
           bounce_domain: str | None = None) -> dict[str, Any]:
    """Every field of the detail dialog: the summary plus source IP, remote MTA, the reply
    and the events."""
    return {
        **summary(row, tz, bounce_domain), "sourceIp": row.source_ip,
        "remoteMta": row.remote_mta, "reply": row.last_reply, "replyCode": row.reply_code,
        "enhancedStatus": row.enhanced_status, "hardbounce": row.hardbounce,
        "attempts": row.attempts, "completed": iso(row.completed, tz),
        "events": [{"created": iso(e.created, tz), "status": e.status, "detail": e.detail}
                   for e in events(session, row.id)],
    }


def sheet_cells(dialect: str, tz: tzinfo, low: datetime, high: datetime,
                bounce_domain: str) -> list[export.Cell]:
    """The cells of a delivery's CSV line (see export.sheet_cells)."""
    status = case(*[(Delivery.status.in_(states), literal(word))
                    for word, states in STATES.items()], else_=literal("queued"))
    path = literal("bounces+") + Delivery.verp_token + literal(f"@{bounce_domain}")
    return [export.plain(export.created_cell(MailMessage.created, dialect, tz, low, high)),
            export.plain(status),
            *(export.Cell(c) for c in (MailMessage.mail_from, Delivery.rcpt,
                                       MailMessage.message_id, path, MailMessage.subject,
                                       MailMessage.x_api_data, Delivery.source_ip,
                                       Delivery.last_reply))]


def write_zip(store: Store, scope: Scope, criteria: Criteria, password: str,
              out: str | Path | BinaryIO, retention_days: int = RETENTION_DAYS,
              progress: Callable[[int], None] | None = None, block: int = export.BLOCK,
              bounce_domain: str | None = None, now: datetime | None = None) -> int:
    """Every hit into an encrypted ZIP at ``out``; return the number of rows."""
    domain = bounce_domain or _bounce_domain()

    def sheet(session: Session) -> export.Sheet:
        tz = zone_of(session, scope.organisation_id)
        low, high = period(criteria, tz, retention_days, now)
        where = conditions(session, scope, criteria, retention_days, now, tz)
        return export.Sheet(
            sheet_cells(store.dialect, tz, low, high, domain),
            lambda columns: _newest_first(columns.select_from(Delivery)
                                          .join(Delivery.message).where(*where)))

    return export.write_csv_zip(store, export.entry_name(criteria, "deliveries"), COLUMNS,
                                sheet, password, out, progress, block)

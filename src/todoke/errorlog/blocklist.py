"""Block list (配信停止アドレス): search, soft removal, release after N days, encrypted export.

Stage: read and manage side of the ``suppressions`` table for the API (``GET /v1/blocks``,
``DELETE /v1/blocks/{address}``, ``POST /v1/blocks/download``), the reference shape
(``/transaction/v2/blocks/list.json``, ``blocks/delete.json``), the console, the CLI
(``todoke blocks search|export``) and the housekeeper. A hard bounce adds an address
(mail/delivery/outcome.py ``suppress``); mail to an active entry is recorded as error
status 10 and never attempted.

Removal is soft: the row stays with ``removed`` set, so ``removed=true`` lists what was
released; ``suppressed`` ignores it, and a new hard bounce re-activates the row (removed =
NULL, a new ``created``). Every removal, by API or by age, queues a ``blocks`` webhook event
in the same transaction. Postal's rule: an entry is released after
TODOKE_BLOCK_RELEASE_DAYS (30; 0 = never) days, by the housekeeper (schedule.py).

Search: email partial match (case-insensitive; addresses are kept in lower case),
start_date / end_date on ``created`` (optional; days in the organisation's zone), removed
false (default: active entries) | true. Scope: an admin key sees its server configuration's
list; any other key only the entries its own mail caused (the source delivery's API user);
always inside the organisation. Newest first. Download columns ``created,email,reason,removed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.orm import Session

from todoke import log
from todoke.errorlog import export
from todoke.errorlog.search import (
    DEFAULT_PER_PAGE,
    Page,
    Scope,
    SearchError,
    check_order,
    iso,
    paginate,
    parse_date,
    partial,
    partial_text,
    to_utc,
    zone_of,
)
from todoke.store.db import Store
from todoke.store.models import ServerConfig, utcnow
from todoke.store.models_mail import Delivery, MailMessage, Suppression
from todoke.webhooks import events as webhook_events
from todoke.webhooks.produce import iso as utc_iso

COLUMNS = ("created", "email", "reason", "removed")
MAX_PER_PAGE = 500  # the block list's API page (unchanged since issue 5)
RELEASE_DAYS = 30
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class BlockCriteria:
    """Validated block-list criteria (days in the organisation's zone)."""

    email: str | None = None
    start: date | None = None
    end: date | None = None
    removed: bool = False


def parse_removed(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SearchError("removed", "removed は true または false で指定してください",
                      "removed must be true or false")


def parse_criteria(email: str | None = None, start_date: str | None = None,
                   end_date: str | None = None, removed: Any = None) -> BlockCriteria:
    """Check the fields; the dates are optional here (a block list is not a log)."""
    start = parse_date("start_date", start_date) if start_date else None
    end = parse_date("end_date", end_date) if end_date else None
    if start and end:
        check_order(start, end)
    text = partial_text("email", email, 320, "メールアドレス")
    return BlockCriteria(text.lower() if text else None, start, end, parse_removed(removed))


def scope_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """Whose entries: the organisation's, then its server configuration's or those caused
    by the API user's own mail."""
    configs = select(ServerConfig.id).where(ServerConfig.organisation_id == scope.organisation_id)
    where: list[ColumnElement[bool]] = [Suppression.server_config_id.in_(configs)]
    if scope.api_user_id is not None:
        where.append(exists().where(
            Delivery.id == Suppression.source_delivery_id,
            MailMessage.id == Delivery.message_id,
            MailMessage.api_user_id == scope.api_user_id))
    elif scope.server_config_id is not None:
        where.append(Suppression.server_config_id == scope.server_config_id)
    return where


def conditions(session: Session, scope: Scope, criteria: BlockCriteria,
               tz: tzinfo | None = None) -> list[ColumnElement[bool]]:
    where = scope_conditions(scope)
    where.append(Suppression.removed.is_not(None) if criteria.removed
                 else Suppression.removed.is_(None))
    if criteria.start or criteria.end:
        tz = tz or zone_of(session, scope.organisation_id)
        if criteria.start:
            where.append(Suppression.created >= to_utc(criteria.start, tz))
        if criteria.end:
            where.append(Suppression.created < to_utc(criteria.end + timedelta(days=1), tz))
    if criteria.email:
        where.append(partial(session, Suppression.address, criteria.email, 1))
    return where


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(Suppression.created.desc(), Suppression.id.desc())


def search(session: Session, scope: Scope, criteria: BlockCriteria, page: int = 1,
           per_page: int = DEFAULT_PER_PAGE, screen: bool = False,
           max_per_page: int = MAX_PER_PAGE) -> Page[Suppression]:
    """A page of entries, newest first."""
    tz = zone_of(session, scope.organisation_id)
    where = conditions(session, scope, criteria, tz)
    return paginate(session, select(Suppression.id).where(*where),
                    _newest_first(select(Suppression).where(*where)), page, per_page, screen,
                    tz, max_per_page)


def count(session: Session, scope: Scope, criteria: BlockCriteria) -> int:
    where = conditions(session, scope, criteria)
    return session.scalar(select(func.count()).select_from(Suppression).where(*where)) or 0


def summary(row: Suppression, tz: tzinfo = UTC) -> dict[str, Any]:
    return {"email": row.address, "reason": row.reason, "created": iso(row.created, tz),
            "removed": iso(row.removed, tz), "delivery_id": row.source_delivery_id}


def _event(row: Suppression, by: str, when: datetime) -> dict[str, Any]:
    """The ``blocks`` webhook event of a removal, in the shape of webhooks/produce.py
    (times UTC with ``Z``) plus the entry's ``created`` and who removed it (api | release)."""
    return {"action": "removed", "email": row.address, "reason": row.reason,
            "time": utc_iso(when), "created": utc_iso(row.created),
            "deliveryId": row.source_delivery_id, "removedBy": by}


def remove(session: Session, scope: Scope, address: str,
           now: datetime | None = None) -> Suppression | None:
    """Soft-remove the active entry of ``address`` in ``scope`` (it no longer blocks) and
    queue the ``blocks`` webhook event; None if there is no such active entry."""
    where = scope_conditions(scope)
    row = session.scalars(select(Suppression).where(
        *where, Suppression.address == address.strip().lower(),
        Suppression.removed.is_(None)).with_for_update()).first()
    if row is None:
        return None
    row.removed = now or utcnow()
    webhook_events.emit(session, row.server_config_id, "blocks",
                        [_event(row, "api", row.removed)])
    return row


def release(store: Store, days: int = RELEASE_DAYS, batch: int = 1000,
            now: datetime | None = None) -> int:
    """Release active entries created more than ``days`` days ago (0 = never), in batches of
    short transactions; return how many."""
    if days <= 0:
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    total = 0
    while True:
        with store.session() as session:
            rows = list(session.scalars(
                select(Suppression)
                .where(Suppression.removed.is_(None), Suppression.created < cutoff)
                .order_by(Suppression.id).limit(batch)))
            if rows:
                session.execute(update(Suppression).where(
                    Suppression.id.in_([row.id for row in rows]),
                    Suppression.removed.is_(None)).values(removed=now))
                by_config: dict[int, list[dict[str, Any]]] = {}
                for row in rows:
                    by_config.setdefault(row.server_config_id, []).append(
                        _event(row, "release", now))
                for config_id, payloads in by_config.items():
                    webhook_events.emit(session, config_id, "blocks", payloads)
        total += len(rows)
        if len(rows) < batch:
            break
    if total:
        log.event("blocklist.released", rows=total, days=days)
    return total


def sheet_cells(dialect: str, tz: tzinfo, low: datetime, high: datetime) -> list[export.Cell]:
    return [export.plain(export.created_cell(Suppression.created, dialect, tz, low, high)),
            export.Cell(Suppression.address), export.Cell(Suppression.reason),
            export.plain(export.created_cell(Suppression.removed, dialect, tz, low, high))]


def write_zip(store: Store, scope: Scope, criteria: BlockCriteria, password: str,
              out: str | Path | BinaryIO, progress: Callable[[int], None] | None = None,
              block: int = export.BLOCK) -> int:
    """Every entry the criteria find into an encrypted ZIP at ``out``; the number of rows."""

    def sheet(session: Session) -> export.Sheet:
        tz = zone_of(session, scope.organisation_id)
        where = conditions(session, scope, criteria, tz)
        low, high = session.execute(select(func.min(Suppression.created),
                                           func.max(func.coalesce(Suppression.removed,
                                                                  Suppression.created)))
                                    .where(*where)).one()
        now = utcnow()
        return export.Sheet(sheet_cells(store.dialect, tz, low or now,
                                        (high or now) + timedelta(seconds=1)),
                            lambda columns: _newest_first(columns.where(*where)))

    return export.write_csv_zip(store, entry_name(criteria), COLUMNS, sheet, password, out,
                                progress, block)


def entry_name(criteria: BlockCriteria) -> str:
    start = f"{criteria.start:%Y%m%d}" if criteria.start else ""
    end = f"{criteria.end:%Y%m%d}" if criteria.end else ""
    return f"blocks_{start}-{end}.csv" if start or end else "blocks.csv"

"""Error log, search: validated criteria, tenant scope, and the newest-first page.

Stage: read side of the ``error_log`` table for the API (``GET /v1/errors``), the CLI
(``todoke errors search``) and the export. Owns the rules of the seed's search form:
start_date and end_date (YYYY-MM-DD) both required, end not before start, a span of at most
the retention; error status (1-11, 99); recipient and X-Api-Data partial match. The screen
shows at most the first 100 hits (``shown``), 10 per page; the API pages by ``page`` /
``per_page`` (≤ 100). Nothing older than the retention is ever returned, even before the
hourly purge has removed it. Days are UTC days.

Scope: an admin API key sees its server configuration (and its organisation's fax errors,
which belong to no server configuration); any other key only its own API user's rows; the
CLI sees a whole organisation.

Partial match: PostgreSQL ``ILIKE '%…%'`` served by the pg_trgm GIN indexes; SQLite the FTS5
``trigram`` table ``error_log_fts`` (3 characters or more; shorter strings use LIKE).
``total`` is exact up to ``COUNT_CAP`` (10,000) hits, so a page stays fast on millions of rows;
``total_exact`` says whether it was capped.

Settings: TODOKE_RETENTION_DAYS (40).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.orm import Session

from todoke.store.models import utcnow
from todoke.store.models_log import ErrorLog

RETENTION_DAYS = 40
SCREEN_LIMIT = 100
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
COUNT_CAP = 10_000
STATUSES = frozenset([*range(1, 12), 99])
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SearchError(ValueError):
    """A search parameter is missing or wrong; ``field`` names it, messages in ja and en."""

    def __init__(self, field: str, ja: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field = field
        self.ja = ja
        self.en = en

    def message(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class Scope:
    """Whose rows: an organisation, optionally narrowed to a server configuration or user."""

    organisation_id: int
    server_config_id: int | None = None
    api_user_id: int | None = None

    @classmethod
    def for_key(cls, organisation_id: int, server_config_id: int, api_user_id: int,
                is_admin: bool) -> Scope:
        if is_admin:
            return cls(organisation_id, server_config_id=server_config_id)
        return cls(organisation_id, api_user_id=api_user_id)


@dataclass(frozen=True)
class Criteria:
    """Validated search criteria."""

    start: date
    end: date
    status: int | None = None
    to: str | None = None
    api_data: str | None = None


def _parse_date(field: str, value: str | None) -> date:
    label = {"start_date": "検索開始日", "end_date": "検索終了日"}.get(field, field)
    if value is None or not str(value).strip():
        raise SearchError(field, f"{label}({field})は必須です。YYYY-MM-DD 形式で指定してください",
                          f"{field} is required (YYYY-MM-DD)")
    value = str(value).strip()
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise SearchError(field, f"{label}({field})は YYYY-MM-DD 形式の日付で指定してください: "
                                 f"{value[:40]!r}",
                          f"{field} must be a date in YYYY-MM-DD form: {value[:40]!r}") from None


def parse_criteria(start_date: str | None, end_date: str | None, status: str | int | None = None,
                   to: str | None = None, api_data: str | None = None,
                   retention_days: int = RETENTION_DAYS) -> Criteria:
    """Check the form's fields; raise SearchError naming the first wrong one."""
    start = _parse_date("start_date", start_date)
    end = _parse_date("end_date", end_date)
    if end < start:
        raise SearchError("end_date", "検索終了日(end_date)は検索開始日より前にできません",
                          "end_date must not be before start_date")
    if (end - start).days > retention_days:
        raise SearchError("end_date", f"検索期間は{retention_days}日以内で指定してください"
                                      f"(エラーログの保持期間)",
                          f"the period may span at most {retention_days} days "
                          f"(the error log's retention)")
    number: int | None = None
    if status is not None and str(status).strip() != "":
        try:
            number = int(str(status).strip())
        except ValueError:
            number = -1
        if number not in STATUSES:
            raise SearchError("status", "エラーステータス(status)は 1〜11 または 99 です",
                              "status must be 1-11 or 99")
    to = (to or "").strip() or None
    if to is not None and len(to) > 320:
        raise SearchError("to", "宛先アドレス(to)は320文字以内です", "to: at most 320 characters")
    api_data = (api_data or "").strip() or None
    if api_data is not None and len(api_data) > 998:
        raise SearchError("api_data", "X-Api-Data(api_data)は998文字以内です",
                          "api_data: at most 998 characters")
    return Criteria(start, end, number, to, api_data)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _partial(session: Session, column: str, value: str, n: int) -> ColumnElement[bool]:
    col = getattr(ErrorLog, column)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return col.ilike(_like(value), escape="\\")
    if dialect == "sqlite" and len(value) >= 3:
        phrase = '"' + value.replace('"', '""') + '"'
        match = text(f"SELECT rowid FROM error_log_fts WHERE error_log_fts MATCH :m{n}")
        return ErrorLog.id.in_(match.bindparams(**{f"m{n}": f"{column} : {phrase}"}))
    return col.like(_like(value), escape="\\")


def conditions(session: Session, scope: Scope, criteria: Criteria,
               retention_days: int = RETENTION_DAYS,
               now: datetime | None = None) -> list[ColumnElement[bool]]:
    """The WHERE of a search: scope, period (clamped to the retention), filters."""
    now = now or utcnow()
    oldest = now - timedelta(days=retention_days)
    start = max(datetime.combine(criteria.start, datetime.min.time()), oldest)
    end = datetime.combine(criteria.end + timedelta(days=1), datetime.min.time())
    where: list[ColumnElement[bool]] = [ErrorLog.organisation_id == scope.organisation_id]
    if scope.api_user_id is not None:
        where.append(ErrorLog.api_user_id == scope.api_user_id)
    elif scope.server_config_id is not None:
        where.append(or_(ErrorLog.server_config_id == scope.server_config_id,
                         and_(ErrorLog.server_config_id.is_(None), ErrorLog.kind == "fax")))
    where += [ErrorLog.created >= start, ErrorLog.created < end]
    if criteria.status is not None:
        where.append(ErrorLog.status == criteria.status)
    if criteria.to:
        where.append(_partial(session, "to_addr", criteria.to, 1))
    if criteria.api_data:
        where.append(_partial(session, "api_data", criteria.api_data, 2))
    return where


@dataclass
class Page:
    """One page of hits, newest first."""

    rows: list[ErrorLog]
    total: int
    total_exact: bool
    page: int
    per_page: int

    @property
    def shown(self) -> int:
        """How many hits the screen shows: at most the first 100."""
        return min(self.total, SCREEN_LIMIT)


def search(session: Session, scope: Scope, criteria: Criteria, page: int = 1,
           per_page: int = DEFAULT_PER_PAGE, retention_days: int = RETENTION_DAYS,
           screen: bool = False, now: datetime | None = None) -> Page:
    """A page of hits; with ``screen`` only the first 100 hits can be paged to."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    where = conditions(session, scope, criteria, retention_days, now)
    capped = select(ErrorLog.id).where(*where).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    exact = total <= COUNT_CAP
    total = min(total, COUNT_CAP)
    offset = (page - 1) * per_page
    limit = per_page
    if screen:
        limit = max(0, min(per_page, SCREEN_LIMIT - offset))
    rows: list[ErrorLog] = []
    if limit:
        rows = list(session.scalars(
            select(ErrorLog).where(*where)
            .order_by(ErrorLog.created.desc(), ErrorLog.id.desc())
            .limit(limit).offset(offset)))
    return Page(rows, total, exact, page, per_page)


def count(session: Session, scope: Scope, criteria: Criteria,
          retention_days: int = RETENTION_DAYS, now: datetime | None = None) -> int:
    """The exact number of hits (the export's progress bar)."""
    where = conditions(session, scope, criteria, retention_days, now)
    return session.scalar(select(func.count()).select_from(ErrorLog).where(*where)) or 0


def get(session: Session, scope: Scope, error_id: int, retention_days: int = RETENTION_DAYS,
        now: datetime | None = None) -> ErrorLog | None:
    """One row, if it is in ``scope`` and within the retention."""
    row = session.get(ErrorLog, error_id)
    if row is None or row.organisation_id != scope.organisation_id:
        return None
    if scope.api_user_id is not None and row.api_user_id != scope.api_user_id:
        return None
    if scope.server_config_id is not None and scope.api_user_id is None and not (
            row.server_config_id == scope.server_config_id
            or (row.server_config_id is None and row.kind == "fax")):
        return None
    if row.created < (now or utcnow()) - timedelta(days=retention_days):
        return None
    return row


def summary(row: ErrorLog) -> dict[str, Any]:
    """A row as the list and the CSV name its fields (camelCase, like the reference API)."""
    return {
        "id": row.id, "created": row.created.strftime("%Y-%m-%d %H:%M:%S"), "kind": row.kind,
        "status": row.status, "reason": row.reason, "from": row.from_addr, "to": row.to_addr,
        "messageId": row.message_id, "returnPath": row.return_path, "subject": row.subject,
        "apiData": row.api_data,
    }


def detail(row: ErrorLog) -> dict[str, Any]:
    """Every field of the detail dialog (配信詳細): the summary plus the response message."""
    return {**summary(row), "response": row.response}

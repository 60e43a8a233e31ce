"""Error log, search: validated criteria, tenant scope, the organisation's days, and the
newest-first page. The delivery log (deliverylog.py) and the block list (blocklist.py) reuse
the criteria parsing, the scope, the partial-match and the paging helpers defined here.

Stage: read side of the ``error_log`` table for the API (``GET /v1/errors``), the CLI
(``todoke errors search``), the console and the export. Owns the rules of the seed's search
form: start_date and end_date (YYYY-MM-DD) both required, end not before start, a span of at
most the retention; error status (1-11, 99); recipient, sender and X-Api-Data partial match.
The screen shows at most the first 100 hits (``shown``), 10 per page; the API pages by
``page`` / ``per_page`` (≤ 100). Nothing older than the retention is ever returned, even
before the hourly purge has removed it.

Days are the organisation's (Organisation.timezone, default Asia/Tokyo): a search from D1 to
D2 covers 00:00 of D1 to 24:00 of D2 in that zone, turned into naive UTC bounds for the
query (the store keeps naive UTC); ``created`` comes back as ISO 8601 with the zone's offset.

Scope: an admin API key sees its server configuration (and its organisation's fax errors,
which belong to no server configuration); any other key only its own API user's rows; the
CLI sees a whole organisation.

Partial match: PostgreSQL ``ILIKE '%…%'`` served by pg_trgm GIN indexes; SQLite an FTS5
``trigram`` table (3 characters or more; shorter strings use LIKE). ``total`` is exact up to
``COUNT_CAP`` (10,000) hits, so a page stays fast on millions of rows; ``total_exact`` says
whether it was capped.

Settings: TODOKE_RETENTION_DAYS (40).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from todoke.errorlog import trigrams
from todoke.store.models import Organisation, utcnow
from todoke.store.models_log import ErrorLog

RETENTION_DAYS = 40
SCREEN_LIMIT = 100
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
COUNT_CAP = 10_000
DEFAULT_ZONE = "Asia/Tokyo"
STATUSES = frozenset([*range(1, 12), 99])
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

T = TypeVar("T")


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
    """Validated search criteria (days in the organisation's zone). ``status`` is an error
    status (int) for the error log, a word (queued, succeeded, …) for the delivery log."""

    start: date
    end: date
    status: int | str | None = None
    to: str | None = None
    api_data: str | None = None
    sender: str | None = None
    kind: str | None = None  # error log: mail | fax (the reference shape's bounces: mail)
    hour: int | None = None  # 0-23: only that hour of the (single) day (deliveries/list)


# --- the organisation's zone ---------------------------------------------------------------

@lru_cache(maxsize=128)
def zone(name: str | None) -> ZoneInfo:
    """The zone called ``name``; the default (Asia/Tokyo) when empty or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def zone_of(session: Session, organisation_id: int) -> ZoneInfo:
    """The organisation's time zone (Organisation.timezone)."""
    return zone(session.scalar(
        select(Organisation.timezone).where(Organisation.id == organisation_id)))


def to_utc(day: date, tz: tzinfo) -> datetime:
    """00:00 of ``day`` in ``tz`` as the naive UTC the store keeps."""
    return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)


def period(criteria: Criteria, tz: tzinfo, retention_days: int = RETENTION_DAYS,
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """[low, high) naive UTC: 00:00 of the start day to 24:00 of the end day in ``tz``, the
    low end clamped to the retention."""
    oldest = (now or utcnow()) - timedelta(days=retention_days)
    if criteria.hour is not None:
        at = datetime.combine(criteria.start, time(criteria.hour), tz).astimezone(UTC)
        low = at.replace(tzinfo=None)
        return max(low, oldest), low + timedelta(hours=1)
    low = max(to_utc(criteria.start, tz), oldest)
    return low, to_utc(criteria.end + timedelta(days=1), tz)


def iso(value: datetime | None, tz: tzinfo = UTC) -> str | None:
    """A stored naive UTC time as ISO 8601 in ``tz`` with its offset (seconds precision)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(tz).isoformat(timespec="seconds")


# --- criteria parsing ------------------------------------------------------------------------

def parse_date(field: str, value: str | None) -> date:
    """A YYYY-MM-DD field, or SearchError naming it."""
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


def check_order(start: date, end: date) -> None:
    if end < start:
        raise SearchError("end_date", "検索終了日(end_date)は検索開始日より前にできません",
                          "end_date must not be before start_date")


def parse_period(start_date: str | None, end_date: str | None,
                 retention_days: int = RETENTION_DAYS) -> tuple[date, date]:
    """Both dates required, end not before start, at most the retention apart."""
    start = parse_date("start_date", start_date)
    end = parse_date("end_date", end_date)
    check_order(start, end)
    if (end - start).days > retention_days:
        raise SearchError("end_date", f"検索期間は{retention_days}日以内で指定してください"
                                      f"(ログの保持期間)",
                          f"the period may span at most {retention_days} days "
                          f"(the log's retention)")
    return start, end


def parse_hour(value: str | int | None, start: date, end: date) -> int | None:
    """An hour 0-23 of a single day (None when empty)."""
    if value is None or str(value).strip() == "":
        return None
    raw = str(value).strip()
    if not raw.isdigit() or int(raw) > 23:
        raise SearchError("hour", "hour は 0〜23 の整数で指定してください",
                          "hour must be an integer from 0 to 23")
    if start != end:
        raise SearchError("hour", "hour は1日だけの検索(date)で指定できます",
                          "hour needs a search of one day (date)")
    return int(raw)


def error_status(value: str | int | None) -> int | None:
    """An error status 1-11 or 99 (None when empty)."""
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number not in STATUSES:
        raise SearchError("status", "エラーステータス(status)は 1〜11 または 99 です",
                          "status must be 1-11 or 99")
    return number


def partial_text(field: str, value: str | None, limit: int, label: str) -> str | None:
    """A partial-match field: stripped, None when empty, at most ``limit`` characters."""
    value = (value or "").strip() or None
    if value is not None and len(value) > limit:
        raise SearchError(field, f"{label}({field})は{limit}文字以内です",
                          f"{field}: at most {limit} characters")
    return value


def parse_criteria(start_date: str | None, end_date: str | None, status: str | int | None = None,
                   to: str | None = None, api_data: str | None = None,
                   retention_days: int = RETENTION_DAYS, sender: str | None = None,
                   status_parser: Callable[[Any], int | str | None] = error_status) -> Criteria:
    """Check the form's fields; raise SearchError naming the first wrong one."""
    start, end = parse_period(start_date, end_date, retention_days)
    return Criteria(start, end, status_parser(status),
                    partial_text("to", to, 320, "宛先アドレス"),
                    partial_text("api_data", api_data, 998, "X-Api-Data"),
                    partial_text("from", sender, 320, "差出人アドレス"))


# --- partial match and paging (shared by the three logs) -------------------------------------

def like_pattern(value: str) -> str:
    """``%value%`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


#: How common a character is in mail addresses and X-Api-Data, roughly: trigrams of rare
#: characters have short FTS5 doclists. Only the speed depends on it (see fts_query).
_COMMON = set("etaoinsrlcmd.@-_ ")


def _weight(trigram: str) -> int:
    return sum(0 if ch.isdigit() else 2 if ch in _COMMON else 1 for ch in trigram)


def fts_query(column: str, value: str, terms: int = 3) -> str:
    """An FTS5 trigram query for rows whose ``column`` contains ``value`` (3+ characters):
    short values as one phrase; longer ones as the AND of their ``terms`` rarest trigrams,
    because a phrase makes FTS5 read the doclist of every trigram, and a trigram like "com"
    is in nearly every row (10M rows: 156 ms against 7 ms). The AND finds a superset; the
    caller keeps LIKE beside it for the exact answer."""
    value = value.lower()
    grams = list(dict.fromkeys(value[i:i + 3] for i in range(len(value) - 2)))
    if len(grams) <= terms:
        chosen = [value]
    else:
        chosen = sorted(grams, key=lambda g: (_weight(g), -grams.index(g)))[:terms]
    return " AND ".join(f'{column} : "' + g.replace('"', '""') + '"' for g in chosen)


def rare_window(value: str, size: int = 6) -> str:
    """The ``size`` characters of ``value`` whose trigrams are rarest (all of a short value).
    pg_trgm reads the posting list of every trigram of a LIKE pattern, and one like "use" is
    in every row of a big table; the window's are short."""
    if len(value) <= size:
        return value
    lower = value.lower()
    starts = range(len(value) - size + 1)
    best = min(starts, key=lambda i: (sum(_weight(lower[j:j + 3]) for j in range(i, i + size - 2)),
                                      -i))
    return value[best:best + size]


def uses_fts(session: Session, value: str | None) -> bool:
    """Whether a partial match on ``value`` is answered by an FTS5 table (SQLite, 3+ chars);
    then the other conditions should not use their indexes (see unindexed)."""
    return bool(value) and len(value or "") >= 3 and session.get_bind().dialect.name == "sqlite"


def unindexed(column: Any) -> Any:
    """``+column``: SQLite will not drive the query by this column's indexes, so the few rows
    an FTS match returns drive it instead of a scan of the whole period (10M rows: 2.5 s
    against 57 ms)."""
    return literal_column(f"+{column.table.name}.{column.key}", type_=column.type)


def partial(session: Session, column: Any, value: str, n: int,
            fts: tuple[str, Any] | None = None) -> ColumnElement[bool]:
    """``column`` contains ``value`` (any case). ``fts`` = (FTS5 trigram table, id column
    its rowid mirrors) serves it on SQLite from 3 characters; the FTS column has the name of
    ``column``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        window = trigrams.best_window(session, column, value) or rare_window(value)
        if window == value:
            return column.ilike(like_pattern(value), escape="\\")  # type: ignore[no-any-return]
        # the trigram index answers for the rarest part only; the whole value is checked on
        # the rows it returns, through an expression the index cannot serve
        return and_(column.ilike(like_pattern(window), escape="\\"),
                    column.op("||")(literal("")).ilike(like_pattern(value), escape="\\"))
    like = column.like(like_pattern(value), escape="\\")
    if dialect == "sqlite" and fts is not None and len(value) >= 3:
        table, id_column = fts
        match = text(f"SELECT rowid FROM {table} WHERE {table} MATCH :m{n}")
        return and_(id_column.in_(match.bindparams(**{f"m{n}": fts_query(column.key, value)})),
                    like)
    return like  # type: ignore[no-any-return]


@dataclass
class Page(Generic[T]):
    """One page of hits, newest first; ``zone`` is the organisation's, for ``created``."""

    rows: list[T]
    total: int
    total_exact: bool
    page: int
    per_page: int
    zone: tzinfo = field(default=UTC)

    @property
    def shown(self) -> int:
        """How many hits the screen shows: at most the first 100."""
        return min(self.total, SCREEN_LIMIT)

    def body(self, name: str, items: list[Any]) -> dict[str, Any]:
        """The JSON answer of a search: counts, paging and ``items`` under ``name``."""
        return {"total": self.total, "total_exact": self.total_exact, "shown": self.shown,
                "page": self.page, "per_page": self.per_page, name: items}


def paginate(session: Session, ids: Select[Any], rows: Select[Any], page: int, per_page: int,
             screen: bool = False, tz: tzinfo = UTC,
             max_per_page: int = MAX_PER_PAGE) -> Page[Any]:
    """Count ``ids`` (capped at COUNT_CAP) and fetch one page of ``rows`` (already ordered);
    with ``screen`` only the first 100 hits can be paged to."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), max_per_page)
    capped = ids.limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    exact = total <= COUNT_CAP
    total = min(total, COUNT_CAP)
    offset = (page - 1) * per_page
    limit = per_page
    if screen:
        limit = max(0, min(per_page, SCREEN_LIMIT - offset))
    found: list[Any] = []
    if limit:
        found = list(session.scalars(rows.limit(limit).offset(offset)))
    return Page(found, total, exact, page, per_page, tz)


# --- the error log ---------------------------------------------------------------------------

def conditions(session: Session, scope: Scope, criteria: Criteria,
               retention_days: int = RETENTION_DAYS, now: datetime | None = None,
               tz: tzinfo | None = None) -> list[ColumnElement[bool]]:
    """The WHERE of an error-log search: scope, period (the organisation's days, clamped to
    the retention), filters."""
    tz = tz or zone_of(session, scope.organisation_id)
    low, high = period(criteria, tz, retention_days, now)
    fts_drives = uses_fts(session, criteria.to) or uses_fts(session, criteria.api_data)
    col = unindexed if fts_drives else (lambda column: column)
    where: list[ColumnElement[bool]] = [col(ErrorLog.organisation_id) == scope.organisation_id]
    if scope.api_user_id is not None:
        where.append(col(ErrorLog.api_user_id) == scope.api_user_id)
    elif scope.server_config_id is not None:
        where.append(or_(col(ErrorLog.server_config_id) == scope.server_config_id,
                         and_(ErrorLog.server_config_id.is_(None), ErrorLog.kind == "fax")))
    where += [col(ErrorLog.created) >= low, col(ErrorLog.created) < high]
    if criteria.status is not None:
        where.append(ErrorLog.status == criteria.status)
    if criteria.kind:
        where.append(ErrorLog.kind == criteria.kind)
    fts = ("error_log_fts", ErrorLog.id)
    if criteria.to:
        where.append(partial(session, ErrorLog.to_addr, criteria.to, 1, fts))
    if criteria.api_data:
        where.append(partial(session, ErrorLog.api_data, criteria.api_data, 2, fts))
    if criteria.sender:
        where.append(partial(session, ErrorLog.from_addr, criteria.sender, 3))
    return where


def search(session: Session, scope: Scope, criteria: Criteria, page: int = 1,
           per_page: int = DEFAULT_PER_PAGE, retention_days: int = RETENTION_DAYS,
           screen: bool = False, now: datetime | None = None) -> Page[ErrorLog]:
    """A page of hits; with ``screen`` only the first 100 hits can be paged to."""
    tz = zone_of(session, scope.organisation_id)
    where = conditions(session, scope, criteria, retention_days, now, tz)
    return paginate(session, select(ErrorLog.id).where(*where),
                    select(ErrorLog).where(*where)
                    .order_by(ErrorLog.created.desc(), ErrorLog.id.desc()),
                    page, per_page, screen, tz)


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


def summary(row: ErrorLog, tz: tzinfo = UTC) -> dict[str, Any]:
    """A row as the list and the CSV name its fields (camelCase, like the reference API);
    ``created`` in ISO 8601 with the offset of ``tz`` (the organisation's zone)."""
    return {
        "id": row.id, "created": iso(row.created, tz), "kind": row.kind,
        "status": row.status, "reason": row.reason, "from": row.from_addr, "to": row.to_addr,
        "messageId": row.message_id, "returnPath": row.return_path, "subject": row.subject,
        "apiData": row.api_data,
    }


def detail(row: ErrorLog, tz: tzinfo = UTC) -> dict[str, Any]:
    """Every field of the detail dialog (配信詳細): the summary plus the response message."""
    return {**summary(row, tz), "response": row.response}

"""Error log, export: every hit as CSV inside an AES-256 encrypted ZIP (ダウンロード).

Stage: the download of ``POST /v1/errors/download`` and ``todoke errors export``, and the
machinery the delivery-log and block-list downloads reuse (``write_csv_zip``, ``cell``,
``join_cells``, ``created_cell``). Owns the CSV shape of the seed: UTF-8, LF line ends, the
columns ``created,status,from,to,messageId,returnPath,subject,apiData,reason`` (reason = the
SMTP reply or the bounce's text, as the seed's table says; created = ISO 8601 with the offset
of the organisation's zone, e.g. ``2026-11-23T21:30:00+09:00``), every hit (not capped at 100).

Standards: WinZip AE-2 encryption (APPNOTE, compression method 99, extra field 0x9901) with a
256-bit key, through pyzipper; the password (8 characters or more) is only ever held in
memory, never logged or stored. CSV injection: a cell starting with = + - @ TAB or CR gets a
leading ``'`` (OWASP).

Memory stays flat: the database builds each CSV line (cells quoted, neutralised, the time
shifted into the zone: a CASE over the zone's offset changes within the period), rows come
from a server-side cursor (``yield_per``) and go into the ZIP entry in chunks; the ZIP is
written to a file (the API streams a temporary file, then deletes it).

Settings: TODOKE_RETENTION_DAYS (40).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

import pyzipper
from sqlalchemy import Select, String, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session

from todoke.errorlog.search import (
    RETENTION_DAYS,
    Criteria,
    Scope,
    SearchError,
    conditions,
    period,
    zone_of,
)
from todoke.store.db import Store
from todoke.store.models_log import ErrorLog

COLUMNS = ("created", "status", "from", "to", "messageId", "returnPath", "subject", "apiData",
           "reason")
MIN_PASSWORD = 8
CHUNK = 5000
_DANGER = ("=", "+", "-", "@", "\t", "\r")


def check_password(password: str | None) -> str:
    """The password, or SearchError if it is missing or shorter than 8 characters."""
    if not password or len(password) < MIN_PASSWORD:
        raise SearchError("password",
                          f"パスワード(password)は{MIN_PASSWORD}文字以上で指定してください",
                          f"password must be at least {MIN_PASSWORD} characters")
    return password


def entry_name(criteria: Criteria, prefix: str = "errors") -> str:
    return f"{prefix}_{criteria.start:%Y%m%d}-{criteria.end:%Y%m%d}.csv"


def cell(column: Any) -> Any:
    """SQL for one quoted CSV cell: neutralised, quotes doubled, always in quotes."""
    text = func.coalesce(column, "")
    safe = case((func.substr(text, 1, 1).in_(_DANGER), literal("'") + text), else_=text)
    return literal('"') + func.replace(safe, '"', '""') + literal('"')


def join_cells(cells: Sequence[Any]) -> Any:
    """SQL concatenating ``cells`` with commas: one CSV line."""
    line = cells[0]
    for one in cells[1:]:
        line = line + literal(",") + one
    return line


def _offset(tz: tzinfo, at: datetime) -> int:
    offset = at.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offsets(tz: tzinfo, low: datetime, high: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over [low, high) (naive UTC): ``[(until, seconds), …]``, each
    offset valid before ``until``, the last one open (None). Found by stepping a day at a time
    (zones change at most a few times a year) and bisecting each change to the second."""
    spans: list[tuple[datetime | None, int]] = []
    current = _offset(tz, low)
    at = low
    while at < high:
        nxt = min(at + timedelta(days=1), high)
        if _offset(tz, nxt) != current:
            a, b = at, nxt
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if _offset(tz, mid) == current:
                    a = mid
                else:
                    b = mid
            change = a.replace(microsecond=0) + timedelta(seconds=1)
            spans.append((change, current))
            current = _offset(tz, change)
        at = nxt
    spans.append((None, current))
    return spans


def _suffix(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _shifted(column: Any, dialect: str, seconds: int) -> Any:
    if dialect == "postgresql":
        local = func.to_char(column + literal_column(f"interval '{int(seconds)} seconds'"),
                             'YYYY-MM-DD"T"HH24:MI:SS', type_=String)
    else:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; strftime parses it and shifts it
        local = func.strftime("%Y-%m-%dT%H:%M:%S", column, f"{int(seconds):+d} seconds",
                              type_=String)
    return local + literal(_suffix(seconds))


def created_cell(column: Any, dialect: str, tz: tzinfo, low: datetime,
                 high: datetime) -> Any:
    """SQL for a time column as ISO 8601 in ``tz`` with its offset, for rows in [low, high)
    (empty when NULL)."""
    spans = offsets(tz, low, high)
    if len(spans) == 1:
        expression = _shifted(column, dialect, spans[0][1])
    else:
        whens = [(column < until, _shifted(column, dialect, seconds))
                 for until, seconds in spans[:-1]]
        expression = case(*whens, else_=_shifted(column, dialect, spans[-1][1]))
    return func.coalesce(expression, "", type_=String)


def csv_line(dialect: str, tz: tzinfo = UTC, low: datetime | None = None,
             high: datetime | None = None) -> Any:
    """SQL that builds a whole error-log CSV line per row, so the database, not Python, does
    the per-cell work (quoting, neutralising, formatting the time): an export is then a
    stream of ready lines. Text cells are always quoted (valid RFC 4180)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    created = created_cell(ErrorLog.created, dialect, tz, low or now, high or now)
    status = func.coalesce(cast(ErrorLog.status, String), "")
    return join_cells([created, status, *(cell(c) for c in (
        ErrorLog.from_addr, ErrorLog.to_addr, ErrorLog.message_id, ErrorLog.return_path,
        ErrorLog.subject, ErrorLog.api_data, ErrorLog.response))])


def write_csv_zip(store: Store, entry: str, header: Sequence[str],
                  build: Callable[[Session], Select[Any]], password: str,
                  out: str | Path | BinaryIO, progress: Callable[[int], None] | None = None,
                  chunk: int = CHUNK, compresslevel: int = 1) -> int:
    """Write the lines ``build(session)`` selects (one ready CSV line per row) under
    ``header`` into the encrypted ZIP ``out`` as ``entry``; return the number of rows."""
    check_password(password)
    rows = 0
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             compresslevel=compresslevel, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        with store.read() as session, zf.open(entry, "w", force_zip64=True) as member:
            member.write((",".join(header) + "\n").encode("utf-8"))
            result = session.connection().execution_options(
                stream_results=True, yield_per=chunk).execute(build(session))
            for part in result.scalars().partitions(chunk):
                member.write(("\n".join(part) + "\n").encode("utf-8"))
                rows += len(part)
                if progress:
                    progress(len(part))
    return rows


def write_zip(store: Store, scope: Scope, criteria: Criteria, password: str,
              out: str | Path | BinaryIO, retention_days: int = RETENTION_DAYS,
              progress: Callable[[int], None] | None = None, chunk: int = CHUNK,
              compresslevel: int = 1, now: datetime | None = None) -> int:
    """Write every error-log hit into an encrypted ZIP at ``out``; return the number of rows."""

    def build(session: Session) -> Select[Any]:
        tz = zone_of(session, scope.organisation_id)
        low, high = period(criteria, tz, retention_days, now)
        where = conditions(session, scope, criteria, retention_days, now, tz)
        return (select(csv_line(store.dialect, tz, low, high)).where(*where)
                .order_by(ErrorLog.created.desc(), ErrorLog.id.desc()))

    return write_csv_zip(store, entry_name(criteria), COLUMNS, build, password, out, progress,
                         chunk, compresslevel)

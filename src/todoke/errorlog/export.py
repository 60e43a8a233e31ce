"""Error log, export: every hit as CSV inside an AES-256 encrypted ZIP (ダウンロード).

Stage: the download of ``POST /v1/errors/download`` and ``todoke errors export``, and the
machinery the delivery-log and block-list downloads reuse (``write_csv_zip``, ``Sheet``,
``Cell``, ``plain``, ``created_cell``). Owns the CSV shape of the seed: UTF-8, LF line ends, the
columns ``created,status,from,to,messageId,returnPath,subject,apiData,reason`` (reason = the
SMTP reply or the bounce's text, as the seed's table says; created = ISO 8601 with the offset
of the organisation's zone, e.g. ``2026-11-23T21:30:00+09:00``), every hit (not capped at 100).

Standards: WinZip AE-2 encryption (APPNOTE, compression method 99, extra field 0x9901) with a
256-bit key, through pyzipper; the password (8 characters or more) is only ever held in
memory, never logged or stored. CSV injection: a cell starting with = + - @ TAB or CR gets a
leading ``'`` (OWASP).

Speed, with memory flat: the database does the per-cell work (neutralising, the time shifted
into the zone by a CASE over the zone's offset changes within the period) and writes the CSV
itself: PostgreSQL through ``COPY … TO STDOUT (FORMAT csv, FORCE_QUOTE …)``, SQLite through
one ``printf()`` per line (``%w`` doubles quotes) returned as bytes. A thread reads the next
blocks while this one compresses (deflate level 1) and encrypts, at most four 1 MB blocks
ahead. The ZIP is written to a file (the API streams a temporary file, then deletes it).
Text cells are always quoted; times, numbers and status words never need to be.

Settings: TODOKE_RETENTION_DAYS (40).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pyzipper
from sqlalchemy import (
    Column,
    LargeBinary,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
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
BLOCK = 1 << 20  # bytes of CSV handed to the ZIP at a time
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


@dataclass(frozen=True)
class Cell:
    """One CSV column of an export: SQL for its value and whether it is the user's text
    (quoted, neutralised, NULL as an empty string) or a plain word, number or time (as is,
    NULL as an empty cell)."""

    sql: Any
    text: bool = True


def plain(expression: Any) -> Cell:
    return Cell(expression, text=False)


class Sheet(NamedTuple):
    """What an export writes: its cells, and the FROM / WHERE / ORDER BY around them."""

    cells: Sequence[Cell]
    frame: Callable[[Select[Any]], Select[Any]]


def _may_be_null(expression: Any) -> bool:
    column = getattr(expression, "expression", expression)  # a mapped attribute's Column
    return not (isinstance(column, Column) and not column.nullable)


def _neutralised(cell: Cell, dialect: str) -> Any:
    """SQL for a text cell's value with a leading ' when a spreadsheet would read a formula."""
    value = cell.sql
    if _may_be_null(value):
        value = func.coalesce(value, "", type_=String)
    if dialect == "postgresql":
        first = func.left(value, 1).in_(_DANGER)
    else:  # unicode() of the first character: cheaper than substr() in SQLite
        first = func.unicode(value).in_([ord(c) for c in _DANGER])
    return case((first, literal("'") + value), else_=value)


def _statement(sheet: Sheet, dialect: str) -> tuple[Select[Any], list[str]]:
    """The SELECT of an export and the names of its quoted columns. On SQLite one printf()
    builds the whole line (``%w`` doubles the quotes), so the rows arrive as finished lines;
    on PostgreSQL COPY writes the CSV from separate columns."""
    values = [_neutralised(c, dialect) if c.text else c.sql for c in sheet.cells]
    if dialect == "postgresql":
        names = [f"c{i}" for i in range(len(values))]
        return (sheet.frame(select(*(v.label(n) for v, n in zip(values, names, strict=True)))),
                [n for n, c in zip(names, sheet.cells, strict=True) if c.text])
    layout = ",".join('"%w"' if c.text else "%s" for c in sheet.cells)
    # as a BLOB: the driver hands over the UTF-8 bytes as they are, nothing decoded and
    # encoded again (this halves the time of an export)
    return sheet.frame(select(cast(func.printf(layout, *values, type_=String),
                                   LargeBinary))), []


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
    (NULL when NULL)."""
    spans = offsets(tz, low, high)
    if len(spans) == 1:
        expression = _shifted(column, dialect, spans[0][1])
    else:
        whens = [(column < until, _shifted(column, dialect, seconds))
                 for until, seconds in spans[:-1]]
        expression = case(*whens, else_=_shifted(column, dialect, spans[-1][1]))
    return expression


def sheet_cells(dialect: str, tz: tzinfo = UTC, low: datetime | None = None,
                high: datetime | None = None) -> list[Cell]:
    """The cells of an error-log line: time in the organisation's zone, status, the texts."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return [plain(created_cell(ErrorLog.created, dialect, tz, low or now, high or now)),
            plain(ErrorLog.status),
            *(Cell(c) for c in (ErrorLog.from_addr, ErrorLog.to_addr, ErrorLog.message_id,
                                ErrorLog.return_path, ErrorLog.subject, ErrorLog.api_data,
                                ErrorLog.response))]


Blocks = Iterator[tuple[bytes, int]]


def _copy_blocks(store: Store, sheet: Callable[[Session], Sheet], block: int) -> Blocks:
    """PostgreSQL: COPY … TO STDOUT (FORMAT csv) writes the lines; rows arrive one CopyData
    message each and are gathered into blocks of about ``block`` bytes."""
    with store.read() as session:
        statement, quoted = _statement(sheet(session), store.dialect)
        connection = session.connection()
        compiled = statement.compile(dialect=connection.dialect,
                                     compile_kwargs={"render_postcompile": True})
        force = f", FORCE_QUOTE ({', '.join(quoted)})" if quoted else ""
        raw = connection.connection.dbapi_connection
        assert raw is not None
        with raw.cursor().copy(f"COPY ({compiled}) TO STDOUT (FORMAT csv{force})",
                               compiled.params) as copy:
            parts: list[bytes] = []
            size = 0
            for row in copy:
                parts.append(bytes(row))
                size += len(row)
                if size >= block:
                    yield b"".join(parts), len(parts)
                    parts, size = [], 0
            if parts:
                yield b"".join(parts), len(parts)


def _line_blocks(store: Store, sheet: Callable[[Session], Sheet], block: int) -> Blocks:
    """SQLite: rows that are whole lines (printf), fetched in blocks."""
    lines = max(1, block // 256)
    with store.read() as session:
        statement, _ = _statement(sheet(session), store.dialect)
        cursor = session.connection().execute(statement).cursor
        while rows := cursor.fetchmany(lines):
            yield b"\n".join([r[0] for r in rows]) + b"\n", len(rows)


def _prefetched(blocks: Callable[[], Blocks], depth: int = 4) -> Blocks:
    """The blocks of ``blocks()``, produced by a thread of its own at most ``depth`` blocks
    ahead (memory stays flat): the database builds the next lines while this thread
    compresses and encrypts (zlib and the cipher let go of the GIL, and so do sqlite3 and
    psycopg while they step or wait). A second reader over another part of the period was
    measured slower on SQLite, not faster: one producer it is."""
    ahead: queue.Queue[tuple[bytes, int] | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[bytes, int] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in blocks():
                if not put(item):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="todoke-export", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _blocks(store: Store, sheet: Callable[[Session], Sheet], block: int) -> Blocks:
    """The export's CSV as (bytes, rows) blocks of about ``block`` bytes, newest row first."""
    produce = _copy_blocks if store.is_postgres else _line_blocks
    return _prefetched(functools.partial(produce, store, sheet, block))


def write_csv_zip(store: Store, entry: str, header: Sequence[str],
                  sheet: Callable[[Session], Sheet], password: str,
                  out: str | Path | BinaryIO, progress: Callable[[int], None] | None = None,
                  block: int = BLOCK, compresslevel: int = 1) -> int:
    """Write the rows of ``sheet(session)`` as CSV under ``header`` into the encrypted ZIP
    ``out`` as ``entry``; return the number of rows."""
    check_password(password)
    rows = 0
    zf = pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             compresslevel=compresslevel, encryption=pyzipper.WZ_AES)
    member = None
    try:
        zf.setpassword(password.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        member = zf.open(entry, "w", force_zip64=True)
        member.write((",".join(header) + "\n").encode("utf-8"))
        with contextlib.closing(_blocks(store, sheet, block)) as blocks:  # stops the reader
            for data, count in blocks:
                member.write(data)
                rows += count
                if progress:
                    progress(count)
        member.close()
        zf.close()
    except BaseException:
        # the first error is the one to report: closing a half-written archive (on a full
        # disk, say) fails again and would hide it
        if member is not None:
            with contextlib.suppress(Exception):
                member.close()
            zf._writing = False  # pyzipper leaves it set when the member's close fails
        with contextlib.suppress(Exception):
            zf.close()
        raise
    return rows


def write_zip(store: Store, scope: Scope, criteria: Criteria, password: str,
              out: str | Path | BinaryIO, retention_days: int = RETENTION_DAYS,
              progress: Callable[[int], None] | None = None, block: int = BLOCK,
              compresslevel: int = 1, now: datetime | None = None) -> int:
    """Write every error-log hit into an encrypted ZIP at ``out``; return the number of rows."""

    def sheet(session: Session) -> Sheet:
        tz = zone_of(session, scope.organisation_id)
        low, high = period(criteria, tz, retention_days, now)
        where = conditions(session, scope, criteria, retention_days, now, tz)
        return Sheet(sheet_cells(store.dialect, tz, low, high),
                     lambda columns: columns.where(*where).order_by(ErrorLog.created.desc(),
                                                                    ErrorLog.id.desc()))

    return write_csv_zip(store, entry_name(criteria), COLUMNS, sheet, password, out, progress,
                         block, compresslevel)

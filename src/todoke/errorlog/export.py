"""Error log, export: every hit as CSV inside an AES-256 encrypted ZIP (ダウンロード).

Stage: the download of ``POST /v1/errors/download`` and ``todoke errors export``. Owns the
CSV shape of the seed: UTF-8, LF line ends, the columns ``created,status,from,to,messageId,
returnPath,subject,apiData,reason`` (reason = the SMTP reply or the bounce's text, as the
seed's table says; created = "YYYY-MM-DD HH:MM:SS" UTC), every hit (not capped at 100).

Standards: WinZip AE-2 encryption (APPNOTE, compression method 99, extra field 0x9901) with a
256-bit key, through pyzipper; the password (8 characters or more) is only ever held in
memory, never logged or stored. CSV injection: a cell starting with = + - @ TAB or CR gets a
leading ``'`` (OWASP).

Memory stays flat: the database builds each CSV line (csv_line), rows come from a
server-side cursor (``yield_per``) and go into the ZIP entry in chunks; the ZIP is written to
a file (the API streams a temporary file, then deletes it).

Settings: TODOKE_RETENTION_DAYS (40).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pyzipper
from sqlalchemy import String, case, cast, func, literal, select

from todoke.errorlog.search import RETENTION_DAYS, Criteria, Scope, SearchError, conditions
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


def entry_name(criteria: Criteria) -> str:
    return f"errors_{criteria.start:%Y%m%d}-{criteria.end:%Y%m%d}.csv"


def _cell(column: Any) -> Any:
    """SQL for one quoted CSV cell: neutralised, quotes doubled, always in quotes."""
    text = func.coalesce(column, "")
    safe = case((func.substr(text, 1, 1).in_(_DANGER), literal("'") + text), else_=text)
    return literal('"') + func.replace(safe, '"', '""') + literal('"')


def csv_line(dialect: str) -> Any:
    """SQL that builds a whole CSV line per row, so the database, not Python, does the
    per-cell work (quoting, neutralising, formatting the time): an export is then a stream of
    ready lines. Text cells are always quoted (valid RFC 4180)."""
    if dialect == "postgresql":
        created = func.to_char(ErrorLog.created, "YYYY-MM-DD HH24:MI:SS")
    else:  # SQLAlchemy keeps SQLite times as "YYYY-MM-DD HH:MM:SS.ffffff": cut, not parse
        created = func.substr(ErrorLog.created, 1, 19)
    status = func.coalesce(cast(ErrorLog.status, String), "")
    cells = [created, status, *(_cell(c) for c in (
        ErrorLog.from_addr, ErrorLog.to_addr, ErrorLog.message_id, ErrorLog.return_path,
        ErrorLog.subject, ErrorLog.api_data, ErrorLog.response))]
    line = cells[0]
    for cell in cells[1:]:
        line = line + literal(",") + cell
    return line


def write_zip(store: Store, scope: Scope, criteria: Criteria, password: str,
              out: str | Path | BinaryIO, retention_days: int = RETENTION_DAYS,
              progress: Callable[[int], None] | None = None, chunk: int = CHUNK,
              compresslevel: int = 1) -> int:
    """Write every hit into an encrypted ZIP at ``out``; return the number of rows."""
    check_password(password)
    rows = 0
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             compresslevel=compresslevel, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        with store.read() as session, zf.open(entry_name(criteria), "w",
                                              force_zip64=True) as entry:
            entry.write((",".join(COLUMNS) + "\n").encode("utf-8"))
            where = conditions(session, scope, criteria, retention_days)
            statement = (select(csv_line(store.dialect)).where(*where)
                         .order_by(ErrorLog.created.desc(), ErrorLog.id.desc()))
            result = session.connection().execution_options(
                stream_results=True, yield_per=chunk).execute(statement)
            for part in result.scalars().partitions(chunk):
                entry.write(("\n".join(part) + "\n").encode("utf-8"))
                rows += len(part)
                if progress:
                    progress(len(part))
    return rows

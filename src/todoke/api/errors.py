"""API: the error log (エラーログ, issue 6): search, detail, encrypted CSV download; and the
helpers the delivery-log and block-list routes share (scope of a key, 422 in the caller's
language, the download grant, the temporary ZIP answered as a file).

``GET /v1/errors?start_date=&end_date=&status=&to=&from=&api_data=&page=&per_page=`` answers
``{total, total_exact, shown, page, per_page, errors: [...]}`` newest first (10 per page by
default, at most 100; ``created`` ISO 8601 with the offset of the organisation's zone, the
dates are days in that zone); ``GET /v1/errors/{id}`` every field of the detail dialog;
``POST /v1/errors/download {start_date, end_date, status?, to?, from?, api_data?, password}``
an AES-256 ZIP of every hit, only for an organisation with ``download=true`` (403 otherwise).
An admin key sees its server configuration, any other key only its own API user's rows.
Wrong parameters are 422 ``{"detail": {"field", "message"}}`` in the language of
Accept-Language (ja unless en). Settings: TODOKE_RETENTION_DAYS.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from todoke.api.auth import KeyScope, current_key, get_store, language
from todoke.errorlog import export
from todoke.errorlog.search import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    Criteria,
    Scope,
    SearchError,
    detail,
    parse_criteria,
    search,
    summary,
    zone_of,
)
from todoke.errorlog.search import get as get_row
from todoke.store.db import Store
from todoke.store.models import Organisation

router = APIRouter(prefix="/v1/errors", tags=["error log"])


def retention(request: Request) -> int:
    return int(getattr(request.app.state.settings, "retention_days", 40))


def key_scope(key: KeyScope) -> Scope:
    return Scope.for_key(key.organisation_id, key.server_config_id, key.api_user_id,
                         key.is_admin)


def unprocessable(exc: SearchError, lang: str) -> HTTPException:
    return HTTPException(422, {"field": exc.field, "message": exc.message(lang)})


def _criteria(lang: str, days: int, start_date: str | None, end_date: str | None,
              status: str | int | None, to: str | None, api_data: str | None,
              sender: str | None = None) -> Criteria:
    try:
        return parse_criteria(start_date, end_date, status, to, api_data, days, sender)
    except SearchError as exc:
        raise unprocessable(exc, lang) from exc


def require_download(store: Store, key: KeyScope, lang: str) -> None:
    """403 unless an administrator granted downloads to the key's organisation."""
    with store.read() as session:
        org = session.get(Organisation, key.organisation_id)
        allowed = bool(org and org.download_allowed)
    if not allowed:
        raise HTTPException(403, "ダウンロードは許可されていません(管理者に依頼してください)"
                            if lang == "ja" else "download is not enabled for this account")


def zip_response(request: Request, filename: str, write: Callable[[str], int]) -> FileResponse:
    """Run ``write(path)`` into a temporary file under the data dir and answer it as a ZIP;
    the file is deleted once sent (or when writing fails)."""
    tmp_dir = getattr(request.app.state.settings, "data_dir", None)
    if tmp_dir is not None:
        tmp_dir = tmp_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="download-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    try:
        write(path)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type="application/zip", filename=filename,
                        background=BackgroundTask(os.unlink, path))


def checked_password(password: str | None, lang: str) -> str:
    try:
        return export.check_password(password)
    except SearchError as exc:
        raise unprocessable(exc, lang) from exc


@router.get("")
def list_errors(
    request: Request,
    start_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    end_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    status: str | None = Query(None, description="error status 1-11 or 99"),
    to: str | None = Query(None, description="recipient, partial match"),
    sender: str | None = Query(None, alias="from", description="sender, partial match"),
    api_data: str | None = Query(None, description="X-Api-Data, partial match"),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
    lang: str = Depends(language),
) -> Any:
    """Error log search, newest first."""
    days = retention(request)
    criteria = _criteria(lang, days, start_date, end_date, status, to, api_data, sender)
    with store.read() as session:
        result = search(session, key_scope(key), criteria, page, per_page, days)
        return result.body("errors", [summary(row, result.zone) for row in result.rows])


@router.get("/{error_id}")
def get_error(error_id: int, request: Request, key: KeyScope = Depends(current_key),
              store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """One error with every field of the detail dialog."""
    with store.read() as session:
        row = get_row(session, key_scope(key), error_id, retention(request))
        if row is None:
            raise HTTPException(404, "エラーログが見つかりません" if lang == "ja"
                                else "no such error log entry")
        return detail(row, zone_of(session, key.organisation_id))


class DownloadRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start_date: str | None = None
    end_date: str | None = None
    status: int | str | None = None
    to: str | None = None
    sender: str | None = Field(None, alias="from")
    api_data: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password in a log or a traceback
        return f"{type(self).__name__}({self.start_date}..{self.end_date})"

    __str__ = __repr__


@router.post("/download")
def download(body: DownloadRequest, request: Request, key: KeyScope = Depends(current_key),
             store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Every hit as CSV in a ZIP encrypted (AES-256) with ``password``."""
    require_download(store, key, lang)
    days = retention(request)
    criteria = _criteria(lang, days, body.start_date, body.end_date, body.status, body.to,
                         body.api_data, body.sender)
    password = checked_password(body.password, lang)
    return zip_response(request, export.entry_name(criteria).replace(".csv", ".zip"),
                        lambda path: export.write_zip(store, key_scope(key), criteria,
                                                      password, path, days))

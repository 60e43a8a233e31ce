"""API: the error log (エラーログ, issue 6): search, detail, encrypted CSV download.

``GET /v1/errors?start_date=&end_date=&status=&to=&api_data=&page=&per_page=`` answers
``{total, total_exact, shown, page, per_page, errors: [...]}`` newest first (10 per page by
default, at most 100; ``created`` ISO 8601 with the offset of the organisation's zone, the
dates are days in that zone); ``GET /v1/errors/{id}`` every field of the detail dialog;
``POST /v1/errors/download {start_date, end_date, status?, to?, api_data?, password}`` an
AES-256 ZIP of every hit, only for an organisation with ``download=true`` (403 otherwise).
An admin key sees its server configuration, any other key only its own API user's rows.
Wrong parameters are 422 ``{"detail": {"field", "message"}}`` in the language of
Accept-Language (ja unless en). Settings: TODOKE_RETENTION_DAYS.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
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


def _retention(request: Request) -> int:
    return int(getattr(request.app.state.settings, "retention_days", 40))


def _scope(key: KeyScope) -> Scope:
    return Scope.for_key(key.organisation_id, key.server_config_id, key.api_user_id,
                         key.is_admin)


def _criteria(lang: str, retention: int, start_date: str | None, end_date: str | None,
              status: str | int | None, to: str | None, api_data: str | None) -> Criteria:
    try:
        return parse_criteria(start_date, end_date, status, to, api_data, retention)
    except SearchError as exc:
        raise HTTPException(422, {"field": exc.field, "message": exc.message(lang)}) from exc


@router.get("")
def list_errors(
    request: Request,
    start_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    end_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    status: str | None = Query(None, description="error status 1-11 or 99"),
    to: str | None = Query(None, description="recipient, partial match"),
    api_data: str | None = Query(None, description="X-Api-Data, partial match"),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
    lang: str = Depends(language),
) -> Any:
    """Error log search, newest first."""
    retention = _retention(request)
    criteria = _criteria(lang, retention, start_date, end_date, status, to, api_data)
    with store.read() as session:
        result = search(session, _scope(key), criteria, page, per_page, retention)
        return {"total": result.total, "total_exact": result.total_exact,
                "shown": result.shown, "page": result.page, "per_page": result.per_page,
                "errors": [summary(row, result.zone) for row in result.rows]}


@router.get("/{error_id}")
def get_error(error_id: int, request: Request, key: KeyScope = Depends(current_key),
              store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """One error with every field of the detail dialog."""
    with store.read() as session:
        row = get_row(session, _scope(key), error_id, _retention(request))
        if row is None:
            raise HTTPException(404, "エラーログが見つかりません" if lang == "ja"
                                else "no such error log entry")
        return detail(row, zone_of(session, key.organisation_id))


class DownloadRequest(BaseModel):
    start_date: str | None = None
    end_date: str | None = None
    status: int | str | None = None
    to: str | None = None
    api_data: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password in a log or a traceback
        return f"DownloadRequest({self.start_date}..{self.end_date})"

    __str__ = __repr__


@router.post("/download")
def download(body: DownloadRequest, request: Request, key: KeyScope = Depends(current_key),
             store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Every hit as CSV in a ZIP encrypted (AES-256) with ``password``."""
    with store.read() as session:
        org = session.get(Organisation, key.organisation_id)
        allowed = bool(org and org.download_allowed)
    if not allowed:
        raise HTTPException(403, "ダウンロードは許可されていません(管理者に依頼してください)"
                            if lang == "ja" else "download is not enabled for this account")
    retention = _retention(request)
    criteria = _criteria(lang, retention, body.start_date, body.end_date, body.status, body.to,
                         body.api_data)
    try:
        password = export.check_password(body.password)
    except SearchError as exc:
        raise HTTPException(422, {"field": exc.field, "message": exc.message(lang)}) from exc
    settings = request.app.state.settings
    tmp_dir = getattr(settings, "data_dir", None)
    if tmp_dir is not None:
        tmp_dir = tmp_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="errors-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    try:
        export.write_zip(store, _scope(key), criteria, password, path, retention)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type="application/zip",
                        filename=export.entry_name(criteria).replace(".csv", ".zip"),
                        background=BackgroundTask(os.unlink, path))

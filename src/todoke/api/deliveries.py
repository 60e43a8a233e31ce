"""API: the delivery log (配信ログ, issue 6): search, detail, encrypted CSV download.

``GET /v1/deliveries?start_date=&end_date=&status=&to=&from=&api_data=&page=&per_page=``
answers ``{total, total_exact, shown, page, per_page, deliveries: [...]}`` newest first (10 per
page, at most 100); status is queued | succeeded | deferred | failed (errorlog/deliverylog.py
maps the delivery engine's states onto them); ``GET /v1/deliveries/{id}`` adds the relay
source IP, the remote MTA, the reply and every event; ``POST /v1/deliveries/download
{start_date, end_date, status?, to?, from?, api_data?, password}`` every hit as CSV
(``created,status,from,to,messageId,returnPath,subject,apiData,sourceIp,reply``) in an AES-256
ZIP, only with the download grant (403 otherwise). Scope, dates in the organisation's zone,
422 in the caller's language: as ``/v1/errors``. ``GET /v1/mail/deliveries`` (issue 5) stays.
Settings: TODOKE_RETENTION_DAYS, TODOKE_BOUNCE_DOMAIN.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from todoke.api.auth import KeyScope, current_key, get_store, language
from todoke.api.errors import (
    DownloadRequest,
    checked_password,
    key_scope,
    require_download,
    retention,
    unprocessable,
    zip_response,
)
from todoke.errorlog import deliverylog, export
from todoke.errorlog.search import DEFAULT_PER_PAGE, MAX_PER_PAGE, Criteria, SearchError, zone_of
from todoke.store.db import Store

router = APIRouter(prefix="/v1/deliveries", tags=["delivery log"])


def _bounce_domain(request: Request) -> str | None:
    return getattr(request.app.state.settings, "bounce_domain", None)


def _criteria(lang: str, days: int, start_date: str | None, end_date: str | None,
              status: str | None, to: str | None, api_data: str | None,
              sender: str | None) -> Criteria:
    try:
        return deliverylog.parse_criteria(start_date, end_date, status, to, api_data, days,
                                          sender)
    except SearchError as exc:
        raise unprocessable(exc, lang) from exc


@router.get("")
def list_deliveries(
    request: Request,
    start_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    end_date: str | None = Query(None, description="YYYY-MM-DD (required)"),
    status: str | None = Query(None, description="queued, succeeded, deferred or failed"),
    to: str | None = Query(None, description="recipient, partial match"),
    sender: str | None = Query(None, alias="from", description="sender, partial match"),
    api_data: str | None = Query(None, description="X-Api-Data, partial match"),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
    lang: str = Depends(language),
) -> Any:
    """Delivery log search, newest first."""
    days = retention(request)
    criteria = _criteria(lang, days, start_date, end_date, status, to, api_data, sender)
    domain = _bounce_domain(request)
    with store.read() as session:
        result = deliverylog.search(session, key_scope(key), criteria, page, per_page, days)
        return result.body("deliveries", [deliverylog.summary(row, result.zone, domain)
                                          for row in result.rows])


@router.get("/{delivery_id}")
def get_delivery(delivery_id: int, request: Request, key: KeyScope = Depends(current_key),
                 store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """One delivery with the relay source IP, remote MTA, reply and every event."""
    with store.read() as session:
        row = deliverylog.get(session, key_scope(key), delivery_id, retention(request))
        if row is None:
            raise HTTPException(404, "配信ログが見つかりません" if lang == "ja"
                                else "no such delivery")
        return deliverylog.detail(session, row, zone_of(session, key.organisation_id),
                                  _bounce_domain(request))


@router.post("/download")
def download(body: DownloadRequest, request: Request, key: KeyScope = Depends(current_key),
             store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Every hit as CSV in a ZIP encrypted (AES-256) with ``password``."""
    require_download(store, key, lang)
    days = retention(request)
    criteria = _criteria(lang, days, body.start_date, body.end_date,
                         None if body.status is None else str(body.status), body.to,
                         body.api_data, body.sender)
    password = checked_password(body.password, lang)
    name = export.entry_name(criteria, "deliveries").replace(".csv", ".zip")
    return zip_response(request, name, lambda path: deliverylog.write_zip(
        store, key_scope(key), criteria, password, path, days,
        bounce_domain=_bounce_domain(request)))

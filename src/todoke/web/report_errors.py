"""Web console, delivery reports: the error-log tab (エラーログ) (stage: web).

The seed's screen: a search form (検索開始日 and 検索終了日 required, エラー理由 one of the 12
error statuses, 宛先アドレス and X-Api-Data partial match); the result table (日時, 宛先アドレス,
件名, エラー理由) of at most the first 100 hits, 10 per page, with the pager at its top right;
clicking an address opens the detail dialog (配信詳細, loaded by htmx into a <dialog>); the
download dialog asks for the ZIP password and streams every hit as CSV in an AES-256 ZIP.
The rules are ``todoke.errorlog.search`` and ``todoke.errorlog.export``; this module only
shows them. The download is offered, and answered, only under the download grant
(``report_scope.may_download``); anyone else gets 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from todoke.errorlog import export
from todoke.errorlog.search import SearchError, parse_criteria, search, zone
from todoke.errorlog.search import get as get_error
from todoke.store.models_log import ErrorLog
from todoke.web.common import PREFIX, Ctx, context, render, store_of
from todoke.web.i18n import ERROR_STATUSES, text
from todoke.web.report_pages import (
    PER_PAGE,
    download_form,
    form_values,
    frame,
    page_number,
    pager,
    retention_days,
    show_time,
    zip_response,
)
from todoke.web.report_scope import Selection

router = APIRouter(include_in_schema=False)

FIELDS = ("start_date", "end_date", "status", "to", "api_data")


def _row(row: ErrorLog, sel: Selection) -> dict[str, Any]:
    return {"id": row.id, "created": show_time(row.created, zone(sel.org.timezone)),
            "to": row.to_addr, "subject": row.subject, "status": row.status, "kind": row.kind,
            "reason": row.reason}


def _page(request: Request, ctx: Ctx, params: Mapping[str, Any], http_status: int = 200,
          download_error: str = "") -> Response:
    """The tab: form, validation message, counts, pager, rows (and the dialogs)."""
    sel, values = frame(request, ctx, "errors", params)
    if sel is None:
        return render(ctx, "report_errors.html", **values)
    fv = form_values(params, FIELDS, sel.org.timezone)
    retention = retention_days(request)
    error: dict[str, str] | None = None
    rows: list[dict[str, Any]] = []
    total, exact, shown = 0, True, 0
    pg = pager(1, 0)
    try:
        criteria = parse_criteria(fv["start_date"], fv["end_date"], fv["status"], fv["to"],
                                  fv["api_data"], retention)
    except SearchError as exc:
        error = {"field": exc.field, "message": exc.message(ctx.lang)}
        http_status = max(http_status, 422)
    else:
        wanted = page_number(params.get("page"))
        with store_of(request).read() as session:
            result = search(session, sel.scope, criteria, wanted, PER_PAGE, retention,
                            screen=True)
            pg = pager(wanted, result.shown)
            if pg["page"] != wanted:  # past the last page: show the last one
                result = search(session, sel.scope, criteria, pg["page"], PER_PAGE,
                                retention, screen=True)
            rows = [_row(row, sel) for row in result.rows]
            total, exact, shown = result.total, result.total_exact, result.shown
    query = urlencode({**sel.params, **fv})
    return render(ctx, "report_errors.html", http_status=http_status, **values, fv=fv,
                  error=error, rows=rows, total=total, exact=exact, shown=shown, pg=pg,
                  query=query, statuses=ERROR_STATUSES, retention=retention,
                  min_password=export.MIN_PASSWORD, download_error=download_error)


@router.get(f"{PREFIX}/reports/errors")
def errors_tab(request: Request) -> Response:
    ctx = context(request)
    return _page(request, ctx, request.query_params)


@router.get(f"{PREFIX}/reports/errors/{{error_id:int}}")
def error_detail(request: Request, error_id: int) -> Response:
    """The detail dialog (配信詳細): a <dialog> for htmx, a whole page otherwise."""
    ctx = context(request)
    sel, values = frame(request, ctx, "errors")
    row = None
    if sel is not None:
        with store_of(request).read() as session:
            row = get_error(session, sel.scope, error_id, retention_days(request))
    if sel is None or row is None:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    item = {**_row(row, sel), "from": row.from_addr, "return_path": row.return_path,
            "message_id": row.message_id, "api_data": row.api_data, "response": row.response}
    if request.headers.get("hx-request"):
        return render(ctx, "detail_dialog.html", item=item, fields="error_fields.html")
    return render(ctx, "detail_page.html", **values, item=item, fields="error_fields.html")


@router.post(f"{PREFIX}/reports/errors/download")
async def error_download(request: Request) -> Response:
    """Every hit of the search as CSV in an AES-256 ZIP under the typed password."""
    ctx = context(request)
    sel, data = await download_form(request, ctx, "errors")
    retention = retention_days(request)
    fv = form_values(data, FIELDS, sel.org.timezone)
    password = data.get("password")
    try:
        criteria = parse_criteria(fv["start_date"], fv["end_date"], fv["status"], fv["to"],
                                  fv["api_data"], retention)
        secret = export.check_password(password if isinstance(password, str) else None)
    except SearchError as exc:
        return _page(request, ctx, data, 422, download_error=exc.message(ctx.lang))
    store, scope = store_of(request), sel.scope
    return await zip_response(
        request, ctx, lambda path: export.write_zip(store, scope, criteria, secret, path,
                                                    retention),
        export.entry_name(criteria).replace(".csv", ".zip"))

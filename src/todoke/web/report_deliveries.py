"""Web console, delivery reports: the delivery-log tab (配信ログ) (stage: web).

Every mail delivery of the chosen server configuration (or API user), searched like the error
log (both dates required, status queued | succeeded | deferred | failed, recipient, sender
and X-Api-Data partial match; at most the first 100 hits, 10 per page); clicking an address
opens the detail dialog with the relay's source IP, the receiving server, its reply and every
event; the download (under the download grant) streams every hit as CSV in an AES-256 ZIP.
The rules are ``todoke.errorlog.deliverylog``; this module only shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from todoke.errorlog import deliverylog, export
from todoke.errorlog.search import SearchError, zone
from todoke.store.models_mail import Delivery
from todoke.web.common import PREFIX, Ctx, context, render, store_of
from todoke.web.i18n import text
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

FIELDS = ("start_date", "end_date", "status", "to", "from", "api_data")


def _criteria(fv: Mapping[str, str], retention: int) -> Any:
    return deliverylog.parse_criteria(fv["start_date"], fv["end_date"], fv["status"], fv["to"],
                                      fv["api_data"], retention, sender=fv["from"])


def _row(row: Delivery, sel: Selection) -> dict[str, Any]:
    message = row.message
    return {"id": row.id, "created": show_time(message.created, zone(sel.org.timezone)),
            "to": row.rcpt, "subject": message.subject,
            "status": deliverylog.public_status(row.status), "state": row.status,
            "error_status": row.error_status}


def _page(request: Request, ctx: Ctx, params: Mapping[str, Any], http_status: int = 200,
          download_error: str = "") -> Response:
    sel, values = frame(request, ctx, "deliveries", params)
    if sel is None:
        return render(ctx, "report_deliveries.html", **values)
    fv = form_values(params, FIELDS, sel.org.timezone)
    retention = retention_days(request)
    error: dict[str, str] | None = None
    rows: list[dict[str, Any]] = []
    total, exact = 0, True
    pg = pager(1, 0)
    try:
        criteria = _criteria(fv, retention)
    except SearchError as exc:
        error = {"field": exc.field, "message": exc.message(ctx.lang)}
        http_status = max(http_status, 422)
    else:
        wanted = page_number(params.get("page"))
        with store_of(request).read() as session:
            result = deliverylog.search(session, sel.scope, criteria, wanted, PER_PAGE,
                                        retention, screen=True)
            pg = pager(wanted, result.shown)
            if pg["page"] != wanted:
                result = deliverylog.search(session, sel.scope, criteria, pg["page"], PER_PAGE,
                                            retention, screen=True)
            rows = [_row(row, sel) for row in result.rows]
            total, exact = result.total, result.total_exact
    return render(ctx, "report_deliveries.html", http_status=http_status, **values, fv=fv,
                  error=error, rows=rows, total=total, exact=exact, pg=pg,
                  query=urlencode({**sel.params, **fv}), statuses=tuple(deliverylog.STATES),
                  labels=deliverylog.LABELS, retention=retention,
                  min_password=export.MIN_PASSWORD, download_error=download_error)


@router.get(f"{PREFIX}/reports/deliveries")
def deliveries_tab(request: Request) -> Response:
    ctx = context(request)
    return _page(request, ctx, request.query_params)


@router.get(f"{PREFIX}/reports/deliveries/{{delivery_id:int}}")
def delivery_detail(request: Request, delivery_id: int) -> Response:
    """The detail dialog of one delivery: a <dialog> for htmx, a whole page otherwise."""
    ctx = context(request)
    sel, values = frame(request, ctx, "deliveries")
    item = None
    if sel is not None:
        tz = zone(sel.org.timezone)
        with store_of(request).read() as session:
            row = deliverylog.get(session, sel.scope, delivery_id, retention_days(request))
            if row is not None:
                message = row.message
                item = {**_row(row, sel), "from": message.mail_from,
                        "return_path": deliverylog.return_path(row),
                        "message_id": message.message_id, "api_data": message.x_api_data,
                        "source_ip": row.source_ip, "remote_mta": row.remote_mta,
                        "reply": row.last_reply, "attempts": row.attempts,
                        "reason": row.reason,
                        "events": [{"created": show_time(e.created, tz), "status": e.status,
                                    "detail": e.detail}
                                   for e in deliverylog.events(session, row.id)]}
    if sel is None or item is None:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    extra = {"item": item, "fields": "delivery_fields.html", "labels": deliverylog.LABELS}
    if request.headers.get("hx-request"):
        return render(ctx, "detail_dialog.html", **extra)
    return render(ctx, "detail_page.html", **values, **extra)


@router.post(f"{PREFIX}/reports/deliveries/download")
async def deliveries_download(request: Request) -> Response:
    """Every hit of the search as CSV in an AES-256 ZIP under the typed password."""
    ctx = context(request)
    sel, data = await download_form(request, ctx, "deliveries")
    retention = retention_days(request)
    fv = form_values(data, FIELDS, sel.org.timezone)
    password = data.get("password")
    try:
        criteria = _criteria(fv, retention)
        secret = export.check_password(password if isinstance(password, str) else None)
    except SearchError as exc:
        return _page(request, ctx, data, 422, download_error=exc.message(ctx.lang))
    store, scope = store_of(request), sel.scope
    return await zip_response(
        request, ctx, lambda path: deliverylog.write_zip(store, scope, criteria, secret, path,
                                                         retention),
        export.entry_name(criteria, "deliveries").replace(".csv", ".zip"))

"""Web console, delivery reports: the block-list tab (配信停止リスト) (stage: web).

The addresses the chosen server configuration no longer sends to (a hard bounce put them
there; mail to them is recorded as error status 10 and never attempted): search by part of the
address, active or removed entries, at most the first 100 hits, 10 per page. Administrators
remove an entry (a POST with the CSRF token), so mail to it is attempted again; the download
(under the download grant) streams the entries as CSV in an AES-256 ZIP. The rules are
``todoke.errorlog.blocklist``; this module only shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from todoke.errorlog import blocklist, export
from todoke.errorlog.search import SearchError, zone
from todoke.store.models_mail import Suppression
from todoke.web.common import (
    PREFIX,
    Ctx,
    back,
    context,
    field,
    form,
    need_admin,
    render,
    store_of,
)
from todoke.web.i18n import text
from todoke.web.report_pages import (
    PER_PAGE,
    download_form,
    form_values,
    frame,
    page_number,
    pager,
    show_time,
    zip_response,
)
from todoke.web.report_scope import Selection

router = APIRouter(include_in_schema=False)

FIELDS = ("email", "removed")


def _criteria(fv: Mapping[str, str]) -> blocklist.BlockCriteria:
    return blocklist.parse_criteria(email=fv["email"], removed=fv["removed"] or "false")


def _row(row: Suppression, sel: Selection) -> dict[str, Any]:
    tz = zone(sel.org.timezone)
    return {"id": row.id, "email": row.address, "reason": row.reason,
            "created": show_time(row.created, tz), "removed": show_time(row.removed, tz)}


def _page(request: Request, ctx: Ctx, params: Mapping[str, Any], http_status: int = 200,
          download_error: str = "") -> Response:
    sel, values = frame(request, ctx, "blocks", params)
    if sel is None:
        return render(ctx, "report_blocks.html", **values)
    fv = form_values(params, FIELDS, sel.org.timezone, dated=False)
    error: dict[str, str] | None = None
    rows: list[dict[str, Any]] = []
    total, exact = 0, True
    pg = pager(1, 0)
    try:
        criteria = _criteria(fv)
    except SearchError as exc:
        error = {"field": exc.field, "message": exc.message(ctx.lang)}
        http_status = max(http_status, 422)
    else:
        wanted = page_number(params.get("page"))
        with store_of(request).read() as session:
            result = blocklist.search(session, sel.scope, criteria, wanted, PER_PAGE,
                                      screen=True)
            pg = pager(wanted, result.shown)
            if pg["page"] != wanted:
                result = blocklist.search(session, sel.scope, criteria, pg["page"], PER_PAGE,
                                          screen=True)
            rows = [_row(row, sel) for row in result.rows]
            total, exact = result.total, result.total_exact
    return render(ctx, "report_blocks.html", http_status=http_status, **values, fv=fv,
                  error=error, rows=rows, total=total, exact=exact, pg=pg,
                  query=urlencode({**sel.params, **fv}), min_password=export.MIN_PASSWORD,
                  download_error=download_error)


@router.get(f"{PREFIX}/reports/blocks")
def blocks_tab(request: Request) -> Response:
    ctx = context(request)
    return _page(request, ctx, request.query_params)


@router.post(f"{PREFIX}/reports/blocks/remove")
async def block_remove(request: Request) -> Response:
    """Take an address off the block list (administrators)."""
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    sel, _values = frame(request, ctx, "blocks", data)
    if sel is None:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    with store_of(request).session() as session:
        row = blocklist.remove(session, sel.scope, field(data, "email"))
    if row is None:
        raise HTTPException(404, text(ctx.lang)("not_on_list"))
    return back(ctx, f"{PREFIX}/reports/blocks?{urlencode(sel.params)}", "removed")


@router.post(f"{PREFIX}/reports/blocks/download")
async def blocks_download(request: Request) -> Response:
    """The entries the search finds as CSV in an AES-256 ZIP under the typed password."""
    ctx = context(request)
    sel, data = await download_form(request, ctx, "blocks")
    fv = form_values(data, FIELDS, sel.org.timezone, dated=False)
    password = data.get("password")
    try:
        criteria = _criteria(fv)
        secret = export.check_password(password if isinstance(password, str) else None)
    except SearchError as exc:
        return _page(request, ctx, data, 422, download_error=exc.message(ctx.lang))
    store, scope = store_of(request), sel.scope
    return await zip_response(
        request, ctx, lambda path: blocklist.write_zip(store, scope, criteria, secret, path),
        blocklist.entry_name(criteria).replace(".csv", ".zip"))

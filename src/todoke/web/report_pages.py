"""Web console: the frame of the delivery reports (配信レポート) (stage: web).

``/console/reports`` leads to the error-log tab. Every tab shares the frame built here: the
server configurations the user may see on the left (``report_scope``), each expanding ("+")
to its API users, and the three tabs 配信ログ (delivery log), エラーログ (error log) and
配信停止リスト (block list). The tabs themselves are ``report_errors``, ``report_deliveries``
and ``report_blocks``. Times are shown in the organisation's time zone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from todoke.errorlog.search import zone
from todoke.web.common import PREFIX, Ctx, context, finish, form, store_of
from todoke.web.i18n import text
from todoke.web.report_scope import Selection, choose, may_download, visible_tree

router = APIRouter(include_in_schema=False)

TABS = ("deliveries", "errors", "blocks")
PER_PAGE = 10
DEFAULT_DAYS = 7


@router.get(f"{PREFIX}/reports")
def reports(request: Request) -> Response:
    ctx = context(request)
    query = request.url.query
    url = f"{PREFIX}/reports/errors" + (f"?{query}" if query else "")
    return finish(ctx, RedirectResponse(url, 303))


def show_time(value: datetime | None, tz: ZoneInfo) -> str:
    """A stored naive UTC time in the organisation's zone."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def today(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def retention_days(request: Request) -> int:
    return int(getattr(request.app.state.settings, "retention_days", 40))


def frame(request: Request, ctx: Ctx, tab: str, params: Mapping[str, Any] | None = None
          ) -> tuple[Selection | None, dict[str, Any]]:
    """The chooser and tabs around a tab's content, and the selection that ``params`` (the
    query, or a posted form) name with ``sc`` and ``au``."""
    params = request.query_params if params is None else params
    with store_of(request).read() as session:
        tree = visible_tree(session, ctx)
    sc, au = params.get("sc"), params.get("au")
    selection = choose(tree, ctx, sc if isinstance(sc, str) else None,
                       au if isinstance(au, str) else None)
    values: dict[str, Any] = {"tree": tree, "sel": selection, "tab": tab, "tabs": TABS,
                              "sel_query": urlencode(selection.params) if selection else "",
                              "can_download": bool(selection and may_download(ctx, selection.org)),
                              "zone_name": selection.org.timezone if selection else ""}
    return selection, values


def pager(page: int, shown: int, per_page: int = PER_PAGE) -> dict[str, Any]:
    """Page numbers over the hits the screen shows (the first 100)."""
    pages = max(1, -(-shown // per_page))
    page = min(max(page, 1), pages)
    first = (page - 1) * per_page + 1 if shown else 0
    last = min(page * per_page, shown)
    return {"page": page, "pages": pages, "first": first, "last": last}


def page_number(value: str | None) -> int:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 6 else 1


async def download_form(request: Request, ctx: Ctx, tab: str) -> tuple[Selection, FormData]:
    """The posted form of a tab's download and the selection it names: 404 outside the
    user's scope, 403 without the download grant (the same for every tab)."""
    data = await form(request, ctx)
    sel, _values = frame(request, ctx, tab, data)
    if sel is None:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    if not may_download(ctx, sel.org):
        raise HTTPException(403, text(ctx.lang)("download_forbidden"))
    return sel, data


def form_values(params: Mapping[str, Any], fields: tuple[str, ...], tz_name: str,
                dated: bool = True) -> dict[str, str]:
    """A search form as typed; before the first search, the last week (``dated``) and
    nothing else."""
    if not any(name in params for name in fields):
        values = dict.fromkeys(fields, "")
        if dated:
            day = today(zone(tz_name))
            values["start_date"] = (day - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
            values["end_date"] = day.isoformat()
        return values
    values = {}
    for name in fields:
        value = params.get(name)
        values[name] = value.strip()[:1000] if isinstance(value, str) else ""
    return values


async def zip_response(request: Request, ctx: Ctx, write: Callable[[str], int],
                       filename: str) -> Response:
    """Run ``write(path)`` (an export into an encrypted ZIP) in a worker thread, then stream
    the file and delete it afterwards. The password lives only in ``write``'s closure."""
    tmp_dir = request.app.state.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="console-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    try:
        await run_in_threadpool(write, path)
    except BaseException:
        os.unlink(path)
        raise
    return finish(ctx, FileResponse(path, media_type="application/zip", filename=filename,
                                    background=BackgroundTask(os.unlink, path)))

"""Web console routes under /console (stage: web; owns the pages, not the data rules).

Server-rendered Jinja2 pages with a little htmx, Japanese first, English by ``?lang=en``.
This module only mounts the parts; each page family is a module of its own:

- ``common``: request context, CSRF check, rendering, security headers (shared helpers)
- ``login_pages``: login (3-failures lock), logout, password change, organisation choice
- ``fax_pages``: send history, resend, list sends, properties, senders, lists, audit log
- ``users_pages``: console users and roles
- ``admin_pages``: server configurations, API users and keys, the download grant
- ``webhook_pages``: webhooks of a server configuration (secret shown once)
- ``report_scope``, ``report_pages``: delivery reports (配信レポート): whose logs, the frame
- ``report_errors``, ``report_deliveries``, ``report_blocks``: the three tabs (search, detail
  dialog, encrypted download; removing an address from the block list)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from todoke.web import (
    admin_pages,
    fax_pages,
    login_pages,
    report_blocks,
    report_deliveries,
    report_errors,
    report_pages,
    users_pages,
    webhook_pages,
)
from todoke.web.common import HERE, PREFIX, Redirect


def mount_console(app: FastAPI) -> None:
    """Add the console under /console (and make / redirect there)."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(Redirect)
    async def _redirect(_request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, 303)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", 307)

    for module in (login_pages, fax_pages, users_pages, admin_pages, report_pages,
                   report_errors, report_deliveries, report_blocks, webhook_pages):
        app.include_router(module.router)

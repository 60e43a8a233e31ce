"""Web console, shared helpers (stage: web; owns the request context, CSRF check, rendering).

Every page module builds on these: ``context()`` finds who is asking (session cookie, console
user, the organisation in view; a system administrator, a console user without an
organisation, chooses one), ``form()`` reads a POST after checking the session's CSRF token
(form field ``csrf`` or header ``X-CSRF-Token``; 403 otherwise), ``render()`` fills a
template with the words of the caller's language and ``finish()`` adds the security headers
(CSP without inline scripts, no framing, no caching). Japanese by default, English by
``?lang=en`` (remembered in a cookie).

Roles: ``user`` sees the history, lists and reports and may resend; ``group_admin`` (and
``admin`` with an organisation) also changes the organisation's settings and users;
a system administrator does all of that for every organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from todoke.api.auth import KeyScope
from todoke.fax import codes
from todoke.store.db import Store
from todoke.store.models import ConsoleUser, Organisation
from todoke.web import session as sess
from todoke.web.i18n import LANGS, text

HERE = Path(__file__).parent
PREFIX = "/console"
MIN_PASSWORD = 10
PENDING = ("queued", "active", "retry", "held")
ROLES = ("admin", "group_admin", "user")

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(["html"], default=True),
                   trim_blocks=True, lstrip_blocks=True)


class Refused(Exception):
    """Raised inside a transaction to roll a refused form back."""


class Redirect(Exception):
    """Send the browser elsewhere (303); mount_console turns it into the response."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass
class Ctx:
    """Who is asking, in which language, for which organisation."""

    request: Request
    lang: str
    session: sess.SessionData
    user_id: int | None = None
    username: str = ""
    role: str = ""
    own_org: int | None = None
    org_id: int | None = None
    org_name: str = ""
    org_tz: str = "Asia/Tokyo"
    must_change: bool = False
    set_session: bool = False

    @property
    def is_system(self) -> bool:
        return self.user_id is not None and self.own_org is None and self.role == "admin"

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "group_admin")

    @property
    def key(self) -> KeyScope:
        assert self.org_id is not None
        return KeyScope(self.org_id, 0, 0, self.is_admin)


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def signing_key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "console_key", None)
    if key is None:
        key = sess.load_key(request.app.state.settings.data_dir)
        request.app.state.console_key = key
    return key


def language(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(sess.LANG_COOKIE)):
        if value in LANGS:
            return value
    return "ja"


def context(request: Request, login: bool = True) -> Ctx:
    """The caller's context; redirects to the login page (or the password page) when needed."""
    data = sess.decode(signing_key(request), request.cookies.get(sess.COOKIE))
    ctx = Ctx(request, language(request), data or sess.SessionData(), set_session=data is None)
    if data is not None and data.user_id is not None:
        with store_of(request).read() as session:
            user = session.get(ConsoleUser, data.user_id)
            if user is not None and sess.password_fingerprint(user.password_hash) == \
                    data.fingerprint:
                ctx.user_id, ctx.username, ctx.role = user.id, user.username, user.role
                ctx.own_org, ctx.must_change = user.organisation_id, user.must_change_password
                ctx.org_id = user.organisation_id if user.organisation_id else \
                    data.organisation_id if user.role == "admin" else None
                org = session.get(Organisation, ctx.org_id) if ctx.org_id else None
                if org is None:
                    ctx.org_id = None
                else:
                    ctx.org_name, ctx.org_tz = org.name, org.timezone
    if login and ctx.user_id is None:
        raise Redirect(f"{PREFIX}/login")
    if login and ctx.must_change and request.url.path != f"{PREFIX}/password":
        raise Redirect(f"{PREFIX}/password")
    return ctx


def need_org(ctx: Ctx) -> int:
    if ctx.org_id is None:
        raise Redirect(f"{PREFIX}/org")
    return ctx.org_id


def need_admin(ctx: Ctx) -> None:
    if not ctx.is_admin:
        raise HTTPException(403, text(ctx.lang)("forbidden"))


def may_manage(ctx: Ctx, org_id: int | None) -> bool:
    """System administrators manage everyone; an organisation's administrators their own."""
    return ctx.is_system or (ctx.is_admin and org_id is not None and org_id == ctx.own_org)


async def form(request: Request, ctx: Ctx) -> FormData:
    """The posted form, after checking the CSRF token (403 without the right one)."""
    data = await request.form()
    token = data.get("csrf") or request.headers.get("x-csrf-token")
    if ctx.set_session or not sess.csrf_ok(ctx.session, token if isinstance(token, str)
                                            else None):
        raise HTTPException(403, "CSRF token missing or wrong / CSRFトークンがありません")
    return data


def field(data: FormData, name: str, default: str = "") -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else default


def set_cookie(response: Response, request: Request, data: sess.SessionData) -> None:
    response.set_cookie(sess.COOKIE, sess.encode(signing_key(request), data),
                        max_age=sess.MAX_AGE, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path=PREFIX)


def finish(ctx: Ctx, response: Response) -> Response:
    if ctx.set_session:
        set_cookie(response, ctx.request, ctx.session)
    if ctx.request.query_params.get("lang") in LANGS:
        response.set_cookie(sess.LANG_COOKIE, ctx.lang, max_age=365 * 86400, httponly=True,
                            samesite="lax", secure=ctx.request.url.scheme == "https",
                            path=PREFIX)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


FLASH = {"saved", "resent", "resent_failed", "deleted", "created_user", "password_changed",
         "created", "renamed", "revoked", "removed", "test_queued"}


def render(ctx: Ctx, template: str, http_status: int = 200, **values: Any) -> Response:
    t = text(ctx.lang)
    msg = ctx.request.query_params.get("msg", "")
    html = _env.get_template(template).render(
        ctx=ctx, t=t, prefix=PREFIX, csrf=ctx.session.csrf, path=ctx.request.url.path,
        flash=t(msg) if msg in FLASH else "", local=lambda d: local(ctx, d),
        status_label=lambda s: t("st." + s), **values)
    return finish(ctx, HTMLResponse(html, http_status))


def back(ctx: Ctx, url: str, msg: str = "") -> Response:
    if msg:
        url += ("&" if "?" in url else "?") + urlencode({"msg": msg})
    return finish(ctx, RedirectResponse(url, 303))


def local(ctx: Ctx, value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(ctx.org_tz)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def code_info(code: str, lang: str) -> dict[str, str]:
    entry = codes.lookup(code)
    ja = lang == "ja"
    return {"label": entry.label_ja if ja else entry.label_en,
            "meaning": entry.meaning_ja if ja else entry.meaning_en,
            "remedy": entry.remedy_ja if ja else entry.remedy_en}

"""Web console routes under /console (stage: web; owns the pages, not the data rules).

Server-rendered Jinja2 pages with a little htmx (the history refreshes itself while faxes are
on their way). Japanese by default, English by ``?lang=en`` (remembered in a cookie).
Every POST needs the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``),
otherwise 403. Everything is scoped to the organisation of the logged-in user; a system
administrator (a console user without an organisation) chooses one. Account rules live in
``todoke.accounts``; the history, resend and list-send queries are the API's own functions.

Roles: ``user`` sees the history and lists and may resend; ``group_admin`` (and ``admin``
with an organisation) also changes properties, senders, lists, users of the organisation and
reads the audit log; a system administrator does all of that for every organisation and the
operator properties (credit, downloads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile

from todoke import accounts
from todoke.api import fax as fax_api
from todoke.api import lists as lists_api
from todoke.api.auth import KeyScope
from todoke.fax import codes
from todoke.store.db import Store
from todoke.store.models import (
    AuditLog,
    AuthorizedSender,
    ConsoleUser,
    FaxList,
    ListSend,
    Organisation,
)
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


class _Refused(Exception):
    pass


class _Redirect(Exception):
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


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "console_key", None)
    if key is None:
        key = sess.load_key(request.app.state.settings.data_dir)
        request.app.state.console_key = key
    return key


def _lang(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(sess.LANG_COOKIE)):
        if value in LANGS:
            return value
    return "ja"


def _context(request: Request, login: bool = True) -> Ctx:
    """The caller's context; redirects to the login page (or the password page) when needed."""
    data = sess.decode(_key(request), request.cookies.get(sess.COOKIE))
    ctx = Ctx(request, _lang(request), data or sess.SessionData(), set_session=data is None)
    if data is not None and data.user_id is not None:
        with _store(request).read() as session:
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
        raise _Redirect(f"{PREFIX}/login")
    if login and ctx.must_change and request.url.path != f"{PREFIX}/password":
        raise _Redirect(f"{PREFIX}/password")
    return ctx


def _need_org(ctx: Ctx) -> int:
    if ctx.org_id is None:
        raise _Redirect(f"{PREFIX}/org")
    return ctx.org_id


def _need_admin(ctx: Ctx) -> None:
    if not ctx.is_admin:
        raise HTTPException(403, text(ctx.lang)("forbidden"))


async def _form(request: Request, ctx: Ctx) -> FormData:
    """The posted form, after checking the CSRF token (403 without the right one)."""
    form = await request.form()
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if ctx.set_session or not sess.csrf_ok(ctx.session, token if isinstance(token, str)
                                            else None):
        raise HTTPException(403, "CSRF token missing or wrong / CSRFトークンがありません")
    return form


def _field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def _set_cookie(response: Response, request: Request, data: sess.SessionData) -> None:
    response.set_cookie(sess.COOKIE, sess.encode(_key(request), data), max_age=sess.MAX_AGE,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path=PREFIX)


def _finish(ctx: Ctx, response: Response) -> Response:
    if ctx.set_session:
        _set_cookie(response, ctx.request, ctx.session)
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


def _render(ctx: Ctx, template: str, http_status: int = 200, **values: Any) -> Response:
    t = text(ctx.lang)
    msg = ctx.request.query_params.get("msg", "")
    html = _env.get_template(template).render(
        ctx=ctx, t=t, prefix=PREFIX, csrf=ctx.session.csrf, path=ctx.request.url.path,
        flash=t(msg) if msg in _FLASH else "", local=lambda d: _local(ctx, d),
        status_label=lambda s: t("st." + s), **values)
    return _finish(ctx, HTMLResponse(html, http_status))


_FLASH = {"saved", "resent", "resent_failed", "deleted", "created_user", "password_changed"}


def _back(ctx: Ctx, url: str, msg: str = "") -> Response:
    if msg:
        url += ("&" if "?" in url else "?") + urlencode({"msg": msg})
    return _finish(ctx, RedirectResponse(url, 303))


def _local(ctx: Ctx, value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(ctx.org_tz)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _code_info(code: str, lang: str) -> dict[str, str]:
    entry = codes.lookup(code)
    ja = lang == "ja"
    return {"label": entry.label_ja if ja else entry.label_en,
            "meaning": entry.meaning_ja if ja else entry.meaning_en,
            "remedy": entry.remedy_ja if ja else entry.remedy_en}


def mount_console(app: FastAPI) -> None:
    """Add the console under /console (and make / redirect there)."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(_Redirect)
    async def _redirect(_request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.url, 303)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", 307)

    @app.get(PREFIX, include_in_schema=False)
    @app.get(f"{PREFIX}/", include_in_schema=False)
    def home(request: Request) -> Response:
        ctx = _context(request)
        return _finish(ctx, RedirectResponse(f"{PREFIX}/history", 303))

    # -- login, logout, password -------------------------------------------------------------
    @app.get(f"{PREFIX}/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        ctx = _context(request, login=False)
        if ctx.user_id is not None:
            return _back(ctx, f"{PREFIX}/")
        return _render(ctx, "login.html", error="")

    @app.post(f"{PREFIX}/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        ctx = _context(request, login=False)
        form = await _form(request, ctx)
        username, password = _field(form, "username"), str(form.get("password") or "")
        with _store(request).session() as session:  # commits the failure count too
            result = accounts.console_login(session, username, password)
            user = result.user
            new = None
            if user is not None:
                new = sess.SessionData(user_id=user.id,
                                       fingerprint=sess.password_fingerprint(user.password_hash))
        if new is None:
            return _render(ctx, "login.html", http_status=401, error=result.reason,
                           username=username)
        response = RedirectResponse(f"{PREFIX}/", 303)
        _set_cookie(response, request, new)
        ctx.set_session = False
        return _finish(ctx, response)

    @app.post(f"{PREFIX}/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        ctx = _context(request, login=False)
        await _form(request, ctx)
        response = RedirectResponse(f"{PREFIX}/login", 303)
        _set_cookie(response, request, sess.SessionData())
        return _finish(ctx, response)

    @app.get(f"{PREFIX}/password", include_in_schema=False)
    def password_page(request: Request) -> Response:
        ctx = _context(request)
        return _render(ctx, "password.html", error="")

    @app.post(f"{PREFIX}/password", include_in_schema=False)
    async def password_change(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        current, new = str(form.get("current") or ""), str(form.get("new") or "")
        error = ""
        if new != str(form.get("confirm") or ""):
            error = "password_mismatch"
        elif len(new) < MIN_PASSWORD:
            error = "password_short"
        with _store(request).session() as session:
            user = session.get_one(ConsoleUser, ctx.user_id)
            if not error and not accounts.verify_password(current, user.password_hash):
                error = "password_wrong"
            if not error:
                user.password_hash = accounts.hash_password(new)
                user.must_change_password = False
                ctx.session.fingerprint = sess.password_fingerprint(user.password_hash)
        if error:
            return _render(ctx, "password.html", http_status=422, error=text(ctx.lang)(error))
        ctx.must_change = False
        response = _back(ctx, f"{PREFIX}/history", "password_changed")
        _set_cookie(response, request, ctx.session)
        return response

    # -- organisation (system administrators) ------------------------------------------------
    @app.get(f"{PREFIX}/org", include_in_schema=False)
    def org_page(request: Request) -> Response:
        ctx = _context(request)
        if not ctx.is_system:
            return _back(ctx, f"{PREFIX}/history")
        with _store(request).read() as session:
            orgs = [(o.id, o.name) for o in
                    session.scalars(select(Organisation).order_by(Organisation.name))]
        return _render(ctx, "org.html", orgs=orgs)

    @app.post(f"{PREFIX}/org", include_in_schema=False)
    async def org_choose(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        if not ctx.is_system:
            raise HTTPException(403, text(ctx.lang)("forbidden"))
        try:
            org_id = int(_field(form, "organisation"))
        except ValueError as exc:
            raise HTTPException(422, "organisation") from exc
        with _store(request).read() as session:
            if session.get(Organisation, org_id) is None:
                raise HTTPException(404, text(ctx.lang)("not_found"))
        ctx.session.organisation_id = org_id
        response = _back(ctx, _field(form, "next") if _field(form, "next").startswith(
            PREFIX + "/") else f"{PREFIX}/history")
        _set_cookie(response, request, ctx.session)
        return response

    # -- history -----------------------------------------------------------------------------
    @app.get(f"{PREFIX}/history", include_in_schema=False)
    def history(request: Request, page: int = 1, status: str = "", number: str = "",
                partial: int = 0) -> Response:
        ctx = _context(request)
        _need_org(ctx)
        status = status if status in (*PENDING, "done", "failed", "cancelled") else ""
        result = fax_api.list_jobs(page=max(page, 1), per_page=50, status=status or None,
                                   number=number[:40] or None, key=ctx.key,
                                   store=_store(request), lang=ctx.lang)
        jobs = [{**j.model_dump(), "info": _code_info(j.result_code, ctx.lang)}
                for j in result.jobs]
        values = {"jobs": jobs, "total": result.total, "page": result.page,
                  "pages": max(1, -(-result.total // result.per_page)), "status": status,
                  "number": number, "pending": any(j["status"] in PENDING for j in jobs),
                  "statuses": (*PENDING, "done", "failed", "cancelled")}
        if partial:
            return _render(ctx, "history_table.html", **values)
        return _render(ctx, "history.html", **values)

    @app.post(f"{PREFIX}/history/{{job_id}}/resend", include_in_schema=False)
    async def resend(request: Request, job_id: int) -> Response:
        ctx = _context(request)
        await _form(request, ctx)
        _need_org(ctx)
        fax_api.resend(job_id, key=ctx.key, store=_store(request), lang=ctx.lang)
        return _back(ctx, f"{PREFIX}/history", "resent")

    @app.get(f"{PREFIX}/list-sends", include_in_schema=False)
    def list_sends(request: Request) -> Response:
        ctx = _context(request)
        _need_org(ctx)
        sends = lists_api.list_sends(key=ctx.key, store=_store(request))
        rows = []
        with _store(request).read() as session:
            created = {s.id: s.created for s in session.scalars(
                select(ListSend).where(ListSend.id.in_([s.id for s in sends])))}
        for send in sends:
            jobs = [{**j, "info": _code_info(j["result_code"], ctx.lang)} for j in send.jobs]
            rows.append({"send": send, "jobs": jobs, "created": created.get(send.id)})
        return _render(ctx, "list_sends.html", rows=rows)

    @app.post(f"{PREFIX}/list-sends/{{send_id}}/resend-failed", include_in_schema=False)
    async def resend_failed(request: Request, send_id: int) -> Response:
        ctx = _context(request)
        await _form(request, ctx)
        _need_org(ctx)
        lists_api.resend_failed(send_id, key=ctx.key, store=_store(request))
        return _back(ctx, f"{PREFIX}/list-sends", "resent_failed")

    # -- properties --------------------------------------------------------------------------
    @app.get(f"{PREFIX}/settings", include_in_schema=False)
    def settings_page(request: Request) -> Response:
        ctx = _context(request)
        org_id = _need_org(ctx)
        with _store(request).read() as session:
            props = accounts.describe(session.get_one(Organisation, org_id))
        return _render(ctx, "settings.html", props=props, errors=[])

    @app.post(f"{PREFIX}/settings", include_in_schema=False)
    async def settings_save(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        org_id = _need_org(ctx)
        _need_admin(ctx)
        changes: list[tuple[str, str]] = []
        for key in ("fax.retries", "fax.retry_interval", "fax.notify", "fax.resolution",
                    "fax.page_size", "language", "timezone"):
            if _field(form, key):
                changes.append((key, _field(form, key)))
        if _field(form, "fax.notify_html"):
            changes.append(("fax.notify_html", str(_field(form, "fax.notify_html") == "html")))
        for key in ("fax.require_password", "fax.require_ticket", "fax.require_smime"):
            changes.append((key, "true" if form.get(key) else "false"))
        for key in ("fax.password", "fax.ticket_key"):
            value = form.get(key)
            if isinstance(value, str) and value:
                changes.append((key, value))
        upload = form.get("fax.smime_certs")
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(1_000_001)
            try:
                pem = raw[:1_000_000].decode("ascii")
            except UnicodeDecodeError:
                pem = "?"
            changes.append(("fax.smime_certs", pem if pem.strip() else "?"))
        elif form.get("remove_certs"):
            changes.append(("fax.smime_certs", ""))
        if ctx.is_system:
            for key in ("credit_limit", "page_price"):
                if key in form:
                    changes.append((key, _field(form, key)))
            changes.append(("download", "true" if form.get("download") else "false"))
            if form.get("unlock"):
                changes.append(("locked", "false"))
        errors: list[str] = []
        store = _store(request)
        try:
            with store.session() as session:
                org = session.get_one(Organisation, org_id)
                for key, value in changes:
                    try:
                        accounts.set_property(session, org, key, value)
                    except accounts.AccountError as exc:
                        errors.append(str(exc))
                if errors:
                    raise _Refused  # roll the whole form back
        except _Refused:
            pass
        if errors:
            with store.read() as session:
                props = accounts.describe(session.get_one(Organisation, org_id))
            return _render(ctx, "settings.html", http_status=422, props=props, errors=errors)
        return _back(ctx, f"{PREFIX}/settings", "saved")

    # -- senders -----------------------------------------------------------------------------
    @app.get(f"{PREFIX}/senders", include_in_schema=False)
    def senders_page(request: Request) -> Response:
        ctx = _context(request)
        org_id = _need_org(ctx)
        return _render(ctx, "senders.html", senders=_senders(request, org_id), error="")

    @app.post(f"{PREFIX}/senders", include_in_schema=False)
    async def senders_change(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        org_id = _need_org(ctx)
        _need_admin(ctx)
        error = ""
        try:
            with _store(request).session() as session:
                org = session.get_one(Organisation, org_id)
                if _field(form, "delete"):
                    row = session.scalar(select(AuthorizedSender).where(
                        AuthorizedSender.organisation_id == org_id,
                        AuthorizedSender.address == _field(form, "delete")))
                    if row is not None:
                        session.delete(row)
                else:
                    accounts.add_sender(session, org, _field(form, "address"))
        except accounts.AccountError as exc:
            error = str(exc)
        if error:
            return _render(ctx, "senders.html", http_status=422, senders=_senders(request, org_id),
                           error=error)
        return _back(ctx, f"{PREFIX}/senders", "saved")

    # -- lists -------------------------------------------------------------------------------
    @app.get(f"{PREFIX}/lists", include_in_schema=False)
    def lists_page(request: Request) -> Response:
        ctx = _context(request)
        org_id = _need_org(ctx)
        return _render(ctx, "lists.html", lists=_lists(request, org_id), error="")

    @app.post(f"{PREFIX}/lists", include_in_schema=False)
    async def lists_change(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        org_id = _need_org(ctx)
        _need_admin(ctx)
        error = ""
        try:
            with _store(request).session() as session:
                org = session.get_one(Organisation, org_id)
                if _field(form, "delete"):
                    accounts.delete_list(session, org, _field(form, "delete"))
                else:
                    numbers = [n.strip() for n in _field(form, "numbers").splitlines()
                               if n.strip()]
                    accounts.set_list(session, org, _field(form, "name"), numbers)
        except accounts.AccountError as exc:
            error = str(exc)
        if error:
            return _render(ctx, "lists.html", http_status=422, lists=_lists(request, org_id),
                           error=error)
        return _back(ctx, f"{PREFIX}/lists", "saved")

    # -- audit log ---------------------------------------------------------------------------
    @app.get(f"{PREFIX}/audit", include_in_schema=False)
    def audit_page(request: Request) -> Response:
        ctx = _context(request)
        org_id = _need_org(ctx)
        _need_admin(ctx)
        with _store(request).read() as session:
            rows = [{"created": a.created, "kind": a.kind, "actor": a.actor,
                     "detail": ", ".join(f"{k}={v}" for k, v in (a.detail or {}).items())}
                    for a in session.scalars(select(AuditLog).where(
                        AuditLog.organisation_id == org_id).order_by(AuditLog.id.desc())
                        .limit(200))]
        return _render(ctx, "audit.html", rows=rows)

    # -- console users -----------------------------------------------------------------------
    @app.get(f"{PREFIX}/users", include_in_schema=False)
    def users_page(request: Request) -> Response:
        ctx = _context(request)
        _need_admin(ctx)
        return _render(ctx, "users.html", **_users(request, ctx), error="")

    @app.post(f"{PREFIX}/users", include_in_schema=False)
    async def users_change(request: Request) -> Response:
        ctx = _context(request)
        form = await _form(request, ctx)
        _need_admin(ctx)
        t = text(ctx.lang)
        error = ""
        with _store(request).session() as session:
            if _field(form, "delete"):
                user = session.get(ConsoleUser, int(_field(form, "delete") or 0))
                if user is None or not _may_manage(ctx, user.organisation_id) or \
                        user.id == ctx.user_id:
                    raise HTTPException(403, t("forbidden"))
                session.delete(user)
                msg = "deleted"
            else:
                username = _field(form, "username")
                password = str(form.get("password") or "")
                role = _field(form, "role")
                org_text = _field(form, "organisation")
                org_id = int(org_text) if org_text.isdigit() else None
                if not ctx.is_system:
                    org_id = ctx.own_org
                allowed = ROLES if ctx.is_system else ("group_admin", "user")
                if role not in allowed or (org_id is None and role != "admin") or \
                        not _may_manage(ctx, org_id):
                    raise HTTPException(403, t("forbidden"))
                if org_id is not None and session.get(Organisation, org_id) is None:
                    raise HTTPException(404, t("not_found"))
                if not username or len(username) > 100:
                    error = t("username")
                elif len(password) < MIN_PASSWORD:
                    error = t("password_short")
                elif session.scalar(select(ConsoleUser).where(
                        ConsoleUser.username == username)):
                    error = f"{username}: " + ("既に存在します" if ctx.lang == "ja"
                                               else "exists already")
                else:
                    session.add(ConsoleUser(
                        username=username, password_hash=accounts.hash_password(password),
                        role=role, organisation_id=org_id, must_change_password=True))
                msg = "created_user"
        if error:
            return _render(ctx, "users.html", http_status=422, **_users(request, ctx), error=error)
        return _back(ctx, f"{PREFIX}/users", msg)

    @app.get(f"{PREFIX}/reports", include_in_schema=False)
    def reports(request: Request) -> Response:
        ctx = _context(request)
        return _render(ctx, "reports.html")


def _may_manage(ctx: Ctx, org_id: int | None) -> bool:
    """System administrators manage everyone; an organisation's administrators its users."""
    return ctx.is_system or (ctx.is_admin and org_id is not None and org_id == ctx.own_org)


def _senders(request: Request, org_id: int) -> list[str]:
    with _store(request).read() as session:
        return list(session.scalars(select(AuthorizedSender.address).where(
            AuthorizedSender.organisation_id == org_id).order_by(AuthorizedSender.address)))


def _lists(request: Request, org_id: int) -> list[dict[str, Any]]:
    with _store(request).read() as session:
        return [{"name": f.name, "numbers": [n.number for n in f.numbers]}
                for f in session.scalars(select(FaxList).where(
                    FaxList.organisation_id == org_id).order_by(FaxList.name))]


def _users(request: Request, ctx: Ctx) -> dict[str, Any]:
    with _store(request).read() as session:
        orgs = {o.id: o.name for o in session.scalars(select(Organisation))}
        query = select(ConsoleUser).order_by(ConsoleUser.username)
        if not ctx.is_system:
            query = query.where(ConsoleUser.organisation_id == ctx.own_org)
        users = [{"id": u.id, "username": u.username, "role": u.role,
                  "org": orgs.get(u.organisation_id, "") if u.organisation_id else "",
                  "system": u.organisation_id is None, "created": u.created,
                  "must_change": u.must_change_password}
                 for u in session.scalars(query)]
    return {"users": users, "orgs": sorted(orgs.items(), key=lambda item: item[1]),
            "roles": ROLES if ctx.is_system else ("group_admin", "user")}

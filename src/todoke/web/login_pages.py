"""Web console: login, logout, password change, and a system administrator's choice of
organisation (stage: web; the login rules themselves, with the 3-failures lock, are
``todoke.accounts.console_login``)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from todoke import accounts
from todoke.store.models import ConsoleUser, Organisation
from todoke.web import session as sess
from todoke.web.common import (
    MIN_PASSWORD,
    PREFIX,
    back,
    context,
    field,
    finish,
    form,
    render,
    set_cookie,
    store_of,
)
from todoke.web.i18n import text

router = APIRouter(include_in_schema=False)


@router.get(PREFIX)
@router.get(f"{PREFIX}/")
def home(request: Request) -> Response:
    ctx = context(request)
    return finish(ctx, RedirectResponse(f"{PREFIX}/history", 303))


@router.get(f"{PREFIX}/login")
def login_page(request: Request) -> Response:
    ctx = context(request, login=False)
    if ctx.user_id is not None:
        return back(ctx, f"{PREFIX}/")
    return render(ctx, "login.html", error="")


@router.post(f"{PREFIX}/login")
async def login(request: Request) -> Response:
    ctx = context(request, login=False)
    data = await form(request, ctx)
    username, password = field(data, "username"), str(data.get("password") or "")
    with store_of(request).session() as session:  # commits the failure count too
        result = accounts.console_login(session, username, password)
        user = result.user
        new = None
        if user is not None:
            new = sess.SessionData(user_id=user.id,
                                   fingerprint=sess.password_fingerprint(user.password_hash))
    if new is None:
        return render(ctx, "login.html", http_status=401, error=result.reason,
                      username=username)
    response = RedirectResponse(f"{PREFIX}/", 303)
    set_cookie(response, request, new)
    ctx.set_session = False
    return finish(ctx, response)


@router.post(f"{PREFIX}/logout")
async def logout(request: Request) -> Response:
    ctx = context(request, login=False)
    await form(request, ctx)
    response = RedirectResponse(f"{PREFIX}/login", 303)
    set_cookie(response, request, sess.SessionData())
    return finish(ctx, response)


@router.get(f"{PREFIX}/password")
def password_page(request: Request) -> Response:
    ctx = context(request)
    return render(ctx, "password.html", error="")


@router.post(f"{PREFIX}/password")
async def password_change(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    current, new = str(data.get("current") or ""), str(data.get("new") or "")
    error = ""
    if new != str(data.get("confirm") or ""):
        error = "password_mismatch"
    elif len(new) < MIN_PASSWORD:
        error = "password_short"
    with store_of(request).session() as session:
        user = session.get_one(ConsoleUser, ctx.user_id)
        if not error and not accounts.verify_password(current, user.password_hash):
            error = "password_wrong"
        if not error:
            user.password_hash = accounts.hash_password(new)
            user.must_change_password = False
            ctx.session.fingerprint = sess.password_fingerprint(user.password_hash)
    if error:
        return render(ctx, "password.html", http_status=422, error=text(ctx.lang)(error))
    ctx.must_change = False
    response = back(ctx, f"{PREFIX}/history", "password_changed")
    set_cookie(response, request, ctx.session)
    return response


@router.get(f"{PREFIX}/org")
def org_page(request: Request) -> Response:
    ctx = context(request)
    if not ctx.is_system:
        return back(ctx, f"{PREFIX}/history")
    with store_of(request).read() as session:
        orgs = [(o.id, o.name) for o in
                session.scalars(select(Organisation).order_by(Organisation.name))]
    return render(ctx, "org.html", orgs=orgs)


@router.post(f"{PREFIX}/org")
async def org_choose(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    if not ctx.is_system:
        raise HTTPException(403, text(ctx.lang)("forbidden"))
    try:
        org_id = int(field(data, "organisation"))
    except ValueError as exc:
        raise HTTPException(422, "organisation") from exc
    with store_of(request).read() as session:
        if session.get(Organisation, org_id) is None:
            raise HTTPException(404, text(ctx.lang)("not_found"))
    ctx.session.organisation_id = org_id
    response = back(ctx, field(data, "next") if field(data, "next").startswith(
        PREFIX + "/") else f"{PREFIX}/history")
    set_cookie(response, request, ctx.session)
    return response

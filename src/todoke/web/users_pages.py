"""Web console: console users and their roles (stage: web).

A system administrator manages every user (and may create other system administrators);
an organisation's administrators (``admin``, ``group_admin``) manage the users of their own
organisation and can never create an ``admin``. A new user changes the initial password at
the first login.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select

from todoke import accounts
from todoke.store.models import ConsoleUser, Organisation
from todoke.web.common import (
    MIN_PASSWORD,
    PREFIX,
    ROLES,
    Ctx,
    back,
    context,
    field,
    form,
    may_manage,
    need_admin,
    render,
    store_of,
)
from todoke.web.i18n import text

router = APIRouter(include_in_schema=False)


@router.get(f"{PREFIX}/users")
def users_page(request: Request) -> Response:
    ctx = context(request)
    need_admin(ctx)
    return render(ctx, "users.html", **_users(request, ctx), error="")


@router.post(f"{PREFIX}/users")
async def users_change(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    t = text(ctx.lang)
    error = ""
    with store_of(request).session() as session:
        if field(data, "delete"):
            user = session.get(ConsoleUser, int(field(data, "delete") or 0))
            if user is None or not may_manage(ctx, user.organisation_id) or \
                    user.id == ctx.user_id:
                raise HTTPException(403, t("forbidden"))
            session.delete(user)
            msg = "deleted"
        else:
            username = field(data, "username")
            password = str(data.get("password") or "")
            role = field(data, "role")
            org_text = field(data, "organisation")
            org_id = int(org_text) if org_text.isdigit() else None
            if not ctx.is_system:
                org_id = ctx.own_org
            allowed = ROLES if ctx.is_system else ("group_admin", "user")
            if role not in allowed or (org_id is None and role != "admin") or \
                    not may_manage(ctx, org_id):
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
        return render(ctx, "users.html", http_status=422, **_users(request, ctx), error=error)
    return back(ctx, f"{PREFIX}/users", msg)


def _users(request: Request, ctx: Ctx) -> dict[str, Any]:
    with store_of(request).read() as session:
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

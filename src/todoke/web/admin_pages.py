"""Web console: administration (管理) (stage: web; the rules are ``todoke.accounts``).

For an organisation's administrators (``admin``, ``group_admin``) over their organisation, and
for system administrators over every organisation: server configurations (list, create,
rename), their API users (create, revoke, issue a new key), and the download grant
(organisation property ``download``), which only system administrators and ``admin`` users
change (a group administrator sees it, as the seed has support grant it).

An API key is shown once, on the page that answers its creation (or its renewal); only its
hash is stored, so no page can show it again. A server configuration or API user of another
organisation is "not found" (404). Webhooks are ``webhook_pages``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from todoke import accounts
from todoke.store.models import ApiUser, Organisation, ServerConfig
from todoke.web.common import (
    PREFIX,
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


def may_grant(ctx: Ctx, org_id: int) -> bool:
    """Who switches the download grant: system administrators, an organisation's admins."""
    return ctx.is_system or (ctx.role == "admin" and ctx.own_org == org_id)


def load_config(session: Session, ctx: Ctx, config_id: int) -> ServerConfig:
    """The server configuration, if ``ctx`` may manage it; 404 otherwise."""
    config = session.get(ServerConfig, config_id)
    if config is None or not may_manage(ctx, config.organisation_id):
        raise HTTPException(404, text(ctx.lang)("not_found"))
    return config


def _load_api_user(session: Session, config: ServerConfig, user_id: int, ctx: Ctx) -> ApiUser:
    user = session.get(ApiUser, user_id)
    if user is None or user.server_config_id != config.id:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    return user


def _overview(request: Request, ctx: Ctx) -> dict[str, Any]:
    with store_of(request).read() as session:
        query = select(Organisation).order_by(Organisation.name)
        if not ctx.is_system:
            query = query.where(Organisation.id == ctx.own_org)
        orgs = [{"id": o.id, "name": o.name, "download": o.download_allowed,
                 "may_grant": may_grant(ctx, o.id), "configs": []}
                for o in session.scalars(query)]
        by_id = {o["id"]: o for o in orgs}
        counts = dict(session.execute(select(ApiUser.server_config_id, func.count())
                                      .group_by(ApiUser.server_config_id)).all())
        for c in session.scalars(select(ServerConfig).where(
                ServerConfig.organisation_id.in_(list(by_id))).order_by(ServerConfig.id)):
            by_id[c.organisation_id]["configs"].append(
                {"id": c.id, "name": c.name, "created": c.created,
                 "api_users": counts.get(c.id, 0)})
    return {"orgs": orgs}


def _config_values(request: Request, ctx: Ctx, config_id: int) -> dict[str, Any]:
    with store_of(request).read() as session:
        config = load_config(session, ctx, config_id)
        users = [{"id": u.id, "name": u.name, "prefix": u.key_prefix, "is_admin": u.is_admin,
                  "disabled": u.disabled, "created": u.created}
                 for u in sorted(config.api_users, key=lambda u: u.id)]
        return {"config": {"id": config.id, "name": config.name,
                           "org": config.organisation.name},
                "api_users": users}


@router.get(f"{PREFIX}/admin")
def admin_page(request: Request) -> Response:
    ctx = context(request)
    need_admin(ctx)
    return render(ctx, "admin.html", **_overview(request, ctx), error="")


@router.post(f"{PREFIX}/admin/orgs/{{org_id}}/download")
async def download_grant(request: Request, org_id: int) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    if not may_grant(ctx, org_id):
        raise HTTPException(403, text(ctx.lang)("forbidden"))
    with store_of(request).session() as session:
        org = session.get(Organisation, org_id)
        if org is None:
            raise HTTPException(404, text(ctx.lang)("not_found"))
        accounts.set_property(session, org, "download",
                              "true" if data.get("download") else "false")
    return back(ctx, f"{PREFIX}/admin", "saved")


@router.post(f"{PREFIX}/admin/servers")
async def create_config(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    org_text = field(data, "organisation")
    org_id = int(org_text) if org_text.isdigit() and len(org_text) < 19 else ctx.own_org
    if org_id is None or not may_manage(ctx, org_id):
        raise HTTPException(403, text(ctx.lang)("forbidden"))
    try:
        with store_of(request).session() as session:
            org = session.get(Organisation, org_id)
            if org is None:
                raise HTTPException(404, text(ctx.lang)("not_found"))
            config_id = accounts.create_server_config(session, org, field(data, "name")).id
    except accounts.AccountError as exc:
        return render(ctx, "admin.html", http_status=422, **_overview(request, ctx),
                      error=str(exc))
    return back(ctx, f"{PREFIX}/admin/servers/{config_id}", "created")


@router.get(f"{PREFIX}/admin/servers/{{config_id}}")
def config_page(request: Request, config_id: int) -> Response:
    ctx = context(request)
    need_admin(ctx)
    return render(ctx, "admin_server.html", **_config_values(request, ctx, config_id), error="")


@router.post(f"{PREFIX}/admin/servers/{{config_id}}/rename")
async def rename_config(request: Request, config_id: int) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    try:
        with store_of(request).session() as session:
            config = load_config(session, ctx, config_id)
            accounts.rename_server_config(session, config, field(data, "name"))
    except accounts.AccountError as exc:
        return render(ctx, "admin_server.html", http_status=422,
                      **_config_values(request, ctx, config_id), error=str(exc))
    return back(ctx, f"{PREFIX}/admin/servers/{config_id}", "renamed")


@router.post(f"{PREFIX}/admin/servers/{{config_id}}/api-users")
async def create_api_user(request: Request, config_id: int) -> Response:
    """A new API user; the answer is the only page that ever shows its key."""
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    try:
        with store_of(request).session() as session:
            config = load_config(session, ctx, config_id)
            user, key = accounts.create_api_user(session, config, field(data, "name"),
                                                 is_admin=bool(data.get("is_admin")))
            shown = {"name": user.name, "config": config.name, "config_id": config.id}
    except accounts.AccountError as exc:
        return render(ctx, "admin_server.html", http_status=422,
                      **_config_values(request, ctx, config_id), error=str(exc))
    return render(ctx, "api_key.html", user=shown, key=key)


@router.post(f"{PREFIX}/admin/servers/{{config_id}}/api-users/{{user_id}}/regenerate")
async def regenerate_key(request: Request, config_id: int, user_id: int) -> Response:
    """A new key for an API user (the old one stops working), shown once."""
    ctx = context(request)
    await form(request, ctx)
    need_admin(ctx)
    with store_of(request).session() as session:
        config = load_config(session, ctx, config_id)
        user = _load_api_user(session, config, user_id, ctx)
        key = accounts.regenerate_api_key(session, user)
        shown = {"name": user.name, "config": config.name, "config_id": config.id}
    return render(ctx, "api_key.html", user=shown, key=key)


@router.post(f"{PREFIX}/admin/servers/{{config_id}}/api-users/{{user_id}}/revoke")
async def revoke_key(request: Request, config_id: int, user_id: int) -> Response:
    ctx = context(request)
    await form(request, ctx)
    need_admin(ctx)
    with store_of(request).session() as session:
        config = load_config(session, ctx, config_id)
        accounts.revoke_api_user(session, _load_api_user(session, config, user_id, ctx))
    return back(ctx, f"{PREFIX}/admin/servers/{config_id}", "revoked")

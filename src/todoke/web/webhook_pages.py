"""Web console: webhooks of a server configuration (stage: web; the rules are
``todoke.webhooks.manage``).

The page lists the configuration's webhooks (URL, events, on/off, last success and error,
events waiting) and adds one from a URL and the events it wants (deliveries, bounces,
blocks); the answer to the addition is the only page that shows the signing secret. Each
webhook can be switched off and on, sent a test event, or deleted. Same access as the other
administration pages: the organisation's administrators and system administrators; another
organisation's configuration or webhook is "not found" (404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from todoke.store.models_hooks import WEBHOOK_EVENTS
from todoke.web.admin_pages import load_config
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
from todoke.webhooks import manage

router = APIRouter(include_in_schema=False)

BASE = PREFIX + "/admin/servers/{config_id}/webhooks"


def _values(request: Request, ctx: Ctx, config_id: int) -> dict[str, Any]:
    with store_of(request).read() as session:
        config = load_config(session, ctx, config_id)
        hooks = manage.list_webhooks(session, config.id)
        waiting = manage.pending(session, [h.id for h in hooks])
        rows = [{**manage.describe(h, waiting.get(h.id, 0)), "created_at": h.created,
                 "success_at": h.last_success} for h in hooks]
        return {"config": {"id": config.id, "name": config.name,
                           "org": config.organisation.name},
                "webhooks": rows, "kinds": WEBHOOK_EVENTS}


def _refused(ctx: Ctx, request: Request, config_id: int, exc: manage.WebhookError,
             typed: dict[str, Any]) -> Response:
    return render(ctx, "webhooks.html", http_status=422, **_values(request, ctx, config_id),
                  error=exc.message(ctx.lang), typed=typed)


@router.get(BASE)
def webhooks_page(request: Request, config_id: int) -> Response:
    ctx = context(request)
    need_admin(ctx)
    return render(ctx, "webhooks.html", **_values(request, ctx, config_id), error="",
                  typed={})


@router.post(BASE)
async def webhook_add(request: Request, config_id: int) -> Response:
    """A new webhook; the answer is the only page that ever shows its secret."""
    ctx = context(request)
    data = await form(request, ctx)
    need_admin(ctx)
    url = field(data, "url")
    kinds = [k for k in data.getlist("events") if isinstance(k, str)]
    try:
        with store_of(request).session() as session:
            config = load_config(session, ctx, config_id)
            webhook, secret = manage.create_webhook(session, config.organisation_id,
                                                    config.id, url, kinds)
            shown = {"url": webhook.url, "events": webhook.events.split(","),
                     "config": config.name, "config_id": config.id}
    except manage.WebhookError as exc:
        return _refused(ctx, request, config_id, exc, {"url": url, "events": kinds})
    return render(ctx, "webhook_secret.html", webhook=shown, secret=secret)


@router.post(BASE + "/{webhook_id}/{action}")
async def webhook_change(request: Request, config_id: int, webhook_id: int,
                         action: str) -> Response:
    """enable, disable, test or delete one webhook."""
    ctx = context(request)
    await form(request, ctx)
    need_admin(ctx)
    if action not in ("enable", "disable", "test", "delete"):
        raise HTTPException(404, text(ctx.lang)("not_found"))
    with store_of(request).session() as session:
        config = load_config(session, ctx, config_id)
        if action == "delete":
            found = manage.delete_webhook(session, config.id, webhook_id)
        elif action == "test":
            found = manage.queue_test_event(session, config.id, webhook_id)
        else:
            found = manage.update_webhook(session, config.id, webhook_id,
                                          enabled=action == "enable") is not None
    if not found:
        raise HTTPException(404, text(ctx.lang)("not_found"))
    message = {"delete": "deleted", "test": "test_queued"}.get(action, "saved")
    return back(ctx, BASE.format(config_id=config_id), message)

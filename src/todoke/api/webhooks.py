"""API: webhooks (issue 6) of the key's server configuration.

``GET /v1/webhooks`` lists them; ``POST /v1/webhooks {url, events?}`` creates one and answers
its signing ``secret`` once (201); ``PATCH /v1/webhooks/{id} {url?, events?, enabled?}``
changes one; ``DELETE /v1/webhooks/{id}`` deletes it with its waiting events (204);
``POST /v1/webhooks/{id}/test`` queues one ``test`` event (202). Administrator keys only
(403 with the reason otherwise); a webhook of another server configuration is 404. Refusals
name their reason in the language of Accept-Language (ja unless en): 422
``{"detail": {"field", "message"}}``. The work is in webhooks/manage.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel

from todoke.api.auth import KeyScope, current_key, get_store, language
from todoke.store.db import Store
from todoke.webhooks import manage

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def admin_key(key: KeyScope = Depends(current_key), lang: str = Depends(language)) -> KeyScope:
    """The key, if it is its server configuration's administrator key."""
    if not key.is_admin:
        raise HTTPException(403, "Webhook の設定には管理者の API キーが必要です"
                            if lang == "ja" else "webhooks need the administrator API key")
    return key


def _not_found(lang: str) -> HTTPException:
    return HTTPException(404, "Webhook が見つかりません" if lang == "ja" else "no such webhook")


def _refused(exc: manage.WebhookError, lang: str) -> HTTPException:
    return HTTPException(422, {"field": exc.field, "message": exc.message(lang)})


class CreateRequest(BaseModel):
    url: str | None = None  # required: refused with the reason by manage.check_url
    events: list[str] | str | None = None  # default: deliveries, bounces, blocks


class UpdateRequest(BaseModel):
    url: str | None = None
    events: list[str] | str | None = None
    enabled: bool | None = None


@router.get("")
def list_webhooks(key: KeyScope = Depends(admin_key),
                  store: Store = Depends(get_store)) -> Any:
    """The server configuration's webhooks (never their secrets)."""
    with store.read() as session:
        hooks = manage.list_webhooks(session, key.server_config_id)
        counts = manage.pending(session, [h.id for h in hooks])
        return {"webhooks": [manage.describe(h, counts.get(h.id, 0)) for h in hooks]}


@router.post("", status_code=201)
def create_webhook(body: CreateRequest, key: KeyScope = Depends(admin_key),
                   store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """A new webhook; the answer's ``secret`` signs every post and is shown only now."""
    try:
        with store.session() as session:
            webhook, secret = manage.create_webhook(
                session, key.organisation_id, key.server_config_id, body.url or "", body.events)
            answer = manage.describe(webhook)
    except manage.WebhookError as exc:
        raise _refused(exc, lang) from exc
    return {**answer, "secret": secret}


@router.patch("/{webhook_id}")
def update_webhook(webhook_id: int, body: UpdateRequest, key: KeyScope = Depends(admin_key),
                   store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Change the URL, the events or whether it is enabled."""
    try:
        with store.session() as session:
            webhook = manage.update_webhook(session, key.server_config_id, webhook_id,
                                            url=body.url, events=body.events,
                                            enabled=body.enabled)
            if webhook is None:
                raise _not_found(lang)
            counts = manage.pending(session, [webhook.id])
            return manage.describe(webhook, counts.get(webhook.id, 0))
    except manage.WebhookError as exc:
        raise _refused(exc, lang) from exc


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, key: KeyScope = Depends(admin_key),
                   store: Store = Depends(get_store), lang: str = Depends(language)) -> Response:
    """Delete the webhook and the events still waiting for it."""
    with store.session() as session:
        deleted = manage.delete_webhook(session, key.server_config_id, webhook_id)
    if not deleted:
        raise _not_found(lang)
    return Response(status_code=204)


@router.post("/{webhook_id}/test", status_code=202)
def test_webhook(webhook_id: int, key: KeyScope = Depends(admin_key),
                 store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Queue one ``test`` event for this webhook; it is posted like any other."""
    with store.session() as session:
        queued = manage.queue_test_event(session, key.server_config_id, webhook_id)
    if not queued:
        raise _not_found(lang)
    return {"queued": 1}

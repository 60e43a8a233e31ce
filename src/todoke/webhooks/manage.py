"""Webhooks, management (stage: log / notify): create, list, change and delete a server
configuration's webhooks, for the API (api/webhooks.py) and the console.

Every function is scoped to one server configuration: a webhook of another one is "not found"
(never changed), which is the tenant isolation. The secret is made here and returned once by
``create_webhook``; it is stored as it is (not hashed), because the dispatcher needs its value
to sign every post, and it is never shown again (``describe`` leaves it out). A refusal raises
``WebhookError`` naming the field and the reason in Japanese and English. After each change the
subscription cache of ``events.emit`` is dropped in this process (at once and at commit); other
processes see the change within its CACHE_SECONDS.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from todoke.store.models_hooks import WEBHOOK_EVENTS, Webhook, WebhookEvent
from todoke.webhooks import events as outbox_events

MAX_URL_LENGTH = 2000
MAX_PER_CONFIG = 10


class WebhookError(ValueError):
    """A webhook request todoke refuses; ``field`` names what is wrong, in ja and en."""

    def __init__(self, field: str, ja: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field = field
        self.ja = ja
        self.en = en

    def message(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


def new_secret() -> str:
    """A signing secret: ``whsec_`` and 32 random bytes, URL-safe base64."""
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """The URL stripped, or WebhookError saying why it cannot be posted to."""
    url = (url or "").strip()
    if not url:
        raise WebhookError("url", "URL を入力してください", "the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError("url", f"URL が長すぎます({MAX_URL_LENGTH}文字まで)",
                           f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise WebhookError("url", "URL に空白や制御文字は使えません",
                           "the URL contains spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError("url", "URL は http:// または https:// で始めてください",
                           "only http:// and https:// URLs can receive webhooks")
    try:
        host, _port = parts.hostname, parts.port  # .port raises on a bad port
    except ValueError:
        raise WebhookError("url", "URL のポート番号が正しくありません",
                           "the URL's port is not valid") from None
    if not host:
        raise WebhookError("url", "URL にホスト名がありません", "the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("url", "URL にユーザー名やパスワードを含めないでください"
                           "(署名で認証します)",
                           "the URL must not contain a user name or password "
                           "(posts are authenticated by their signature)")
    if parts.fragment:
        raise WebhookError("url", "URL に # 以降(フラグメント)は使えません",
                           "the URL must not have a #fragment")
    if not _valid_host(host):
        raise WebhookError("url", f"ホスト名 {host!r} が正しくありません",
                           f"the host name {host!r} is not valid")
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and all(ch.isalnum() or ch in "-_" for ch in label)
               and not label.startswith("-") and not label.endswith("-") for label in labels)


def check_events(events: Iterable[str] | str | None) -> str:
    """The subscribed kinds as stored (comma-separated, fixed order), or WebhookError."""
    if events is None:
        return ",".join(WEBHOOK_EVENTS)
    if isinstance(events, str):
        events = events.split(",")
    wanted = {e.strip() for e in events if e.strip()}
    unknown = sorted(wanted - set(WEBHOOK_EVENTS))
    if unknown:
        raise WebhookError(
            "events", f"不明なイベントです: {', '.join(unknown)}(使えるもの: "
            f"{', '.join(WEBHOOK_EVENTS)})",
            f"unknown events: {', '.join(unknown)} (known: {', '.join(WEBHOOK_EVENTS)})")
    if not wanted:
        raise WebhookError("events", "イベントを1つ以上選んでください",
                           "choose at least one event")
    return ",".join(e for e in WEBHOOK_EVENTS if e in wanted)


def _changed(session: Session) -> None:
    """Drop the emit() cache now and again once this transaction commits."""
    outbox_events.forget()
    sa_event.listen(session, "after_commit", lambda _s: outbox_events.forget(), once=True)


def create_webhook(session: Session, organisation_id: int, server_config_id: int, url: str,
                   events: Iterable[str] | str | None = None) -> tuple[Webhook, str]:
    """A new enabled webhook; returns it and its secret (shown to the user only now)."""
    url = check_url(url)
    kinds = check_events(events)
    count = session.scalar(select(func.count()).select_from(Webhook).where(
        Webhook.server_config_id == server_config_id)) or 0
    if count >= MAX_PER_CONFIG:
        raise WebhookError("url", f"Webhook は1つのサーバ構成につき{MAX_PER_CONFIG}件までです",
                           f"at most {MAX_PER_CONFIG} webhooks per server configuration")
    secret = new_secret()
    webhook = Webhook(organisation_id=organisation_id, server_config_id=server_config_id,
                      url=url, secret=secret, events=kinds, enabled=True, last_error="",
                      failures=0, dropped=0)
    session.add(webhook)
    session.flush()
    _changed(session)
    return webhook, secret


def list_webhooks(session: Session, server_config_id: int) -> list[Webhook]:
    """The server configuration's webhooks, oldest first."""
    return list(session.scalars(select(Webhook).where(
        Webhook.server_config_id == server_config_id).order_by(Webhook.id)))


def get_webhook(session: Session, server_config_id: int, webhook_id: int) -> Webhook | None:
    """One webhook of the server configuration, or None (also for another's)."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.server_config_id != server_config_id:
        return None
    return webhook


def update_webhook(session: Session, server_config_id: int, webhook_id: int, *,
                   url: str | None = None, events: Iterable[str] | str | None = None,
                   enabled: bool | None = None) -> Webhook | None:
    """Change what is given; None if there is no such webhook. Enabling again clears the
    backoff, so waiting events are posted at once."""
    webhook = get_webhook(session, server_config_id, webhook_id)
    if webhook is None:
        return None
    if url is not None:
        webhook.url = check_url(url)
    if events is not None:
        webhook.events = check_events(events)
    if enabled is not None:
        if enabled and not webhook.enabled:
            webhook.failures = 0
            webhook.next_attempt_at = datetime.now(UTC).replace(tzinfo=None)
        webhook.enabled = enabled
    session.flush()
    _changed(session)
    return webhook


def delete_webhook(session: Session, server_config_id: int, webhook_id: int) -> bool:
    """Delete the webhook and its waiting events; False if there is no such webhook."""
    webhook = get_webhook(session, server_config_id, webhook_id)
    if webhook is None:
        return False
    session.execute(delete(WebhookEvent).where(WebhookEvent.webhook_id == webhook.id))
    session.delete(webhook)
    session.flush()
    _changed(session)
    return True


def queue_test_event(session: Session, server_config_id: int, webhook_id: int) -> bool:
    """Queue one ``test`` event for this webhook only (even if disabled: it waits); False if
    there is no such webhook."""
    webhook = get_webhook(session, server_config_id, webhook_id)
    if webhook is None:
        return False
    now = datetime.now(UTC)
    outbox_events.queue(session, [webhook.id], "test", [{
        "message": "todoke webhook test / todoke Webhook のテスト",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}])
    return True


def pending(session: Session, webhook_ids: list[int]) -> dict[int, int]:
    """Events waiting per webhook."""
    if not webhook_ids:
        return {}
    rows = session.execute(select(WebhookEvent.webhook_id, func.count())
                           .where(WebhookEvent.webhook_id.in_(webhook_ids))
                           .group_by(WebhookEvent.webhook_id)).all()
    return {webhook_id: count for webhook_id, count in rows}


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(webhook: Webhook, waiting: int = 0) -> dict[str, Any]:
    """A webhook for the API and the console, without its secret."""
    return {
        "id": webhook.id, "url": webhook.url, "events": webhook.events.split(","),
        "enabled": webhook.enabled, "created": _utc(webhook.created),
        "last_success": _utc(webhook.last_success), "last_error": webhook.last_error or None,
        "last_error_at": _utc(webhook.last_error_at), "failures": webhook.failures,
        "dropped": webhook.dropped, "pending": waiting,
    }

"""Webhook events made where the changes happen, in the same transaction, on both engines:
``deliveries`` at intake and for each outcome, ``bounces`` with each mail error-log row,
``blocks`` when a hard bounce puts an address on the block list; only for the server
configuration's own webhooks, and nothing at all when nobody subscribes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from todoke.mail.delivery import outcome
from todoke.mail.delivery.client import Reply
from todoke.mail.submit import Submitter, queue_mail
from todoke.store.db import Store
from todoke.store.models_hooks import WebhookEvent
from todoke.webhooks.manage import create_webhook
from todoke.webhooks.produce import block_changed

from .conftest import Tenant


def queued(store: Store) -> list[tuple[int, str, dict[str, Any]]]:
    with store.read() as session:
        rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        return [(r.webhook_id, r.event, json.loads(r.payload)) for r in rows]


def send(store: Store, tenant: Tenant, recipients: list[str]) -> list[int]:
    with store.session() as session:
        _message, deliveries = queue_mail(
            session, Submitter(tenant.organisation_id, tenant.server_config_id, None),
            mail_from="shop@example.jp", recipients=recipients, raw=b"Subject: x\r\n\r\nx\r\n",
            subject="ご注文", message_id="<m1@example.jp>", api_data="order-42")
        return [d.id for d in deliveries]


def answer(settings: Any, store: Store, delivery_id: int, line: str) -> None:
    code = int(line[:3])
    reply = Reply(code, line[4:], "RCPT", "mx.example.net", source_ip="192.0.2.1")
    with store.session() as session:
        result = outcome.from_reply(settings, reply, 1, outcome.utcnow())
        assert outcome.apply(session, delivery_id, None, result)


def make_hook(store: Store, tenant: Tenant, events: Any = None) -> int:
    with store.session() as session:
        webhook, _secret = create_webhook(session, tenant.organisation_id,
                                          tenant.server_config_id, "https://h.example/", events)
        return webhook.id


def test_nothing_is_queued_without_webhooks(store, tenants, settings):
    acme, _ = tenants
    [delivery_id] = send(store, acme, ["user@example.net"])
    answer(settings, store, delivery_id, "550 5.1.1 <user@example.net>: User unknown")
    assert queued(store) == []


def test_deliveries_bounces_and_blocks(store, tenants, settings):
    acme, other = tenants
    hook = make_hook(store, acme)
    make_hook(store, other)  # another organisation's webhook hears nothing of acme's
    ok, unknown, full = send(store, acme, ["ok@example.net", "gone@example.net",
                                           "full@example.net"])
    answer(settings, store, ok, "250 2.0.0 Ok: queued as 4F1A")
    answer(settings, store, unknown, "550 5.1.1 <gone@example.net>: User unknown")
    answer(settings, store, full, "452 4.2.2 <full@example.net>: Mailbox full")
    events = queued(store)
    assert {webhook_id for webhook_id, _, _ in events} == {hook}
    kinds = [(kind, p.get("to") or p.get("email"), p.get("status") or p.get("action"))
             for _, kind, p in events]
    assert kinds == [
        ("deliveries", "ok@example.net", "queued"),
        ("deliveries", "gone@example.net", "queued"),
        ("deliveries", "full@example.net", "queued"),
        ("deliveries", "ok@example.net", "succeeded"),
        ("deliveries", "gone@example.net", "failed"),
        ("bounces", "gone@example.net", 2),
        ("blocks", "gone@example.net", "added"),
        ("deliveries", "full@example.net", "deferred"),
    ]
    payloads = [p for _, _, p in events]
    succeeded, failed, bounce, block, deferred = payloads[3:]
    assert (succeeded["id"], succeeded["replyCode"], succeeded["sourceIp"]) == (
        ok, "250", "192.0.2.1")
    assert (succeeded["messageId"], succeeded["apiData"], succeeded["from"]) == (
        "<m1@example.jp>", "order-42", "shop@example.jp")
    assert (failed["reason"], failed["errorStatus"], failed["enhancedStatus"]) == (
        "userunknown", 2, "5.1.1")
    assert failed["hardbounce"] is True and "User unknown" in failed["response"]
    assert set(bounce) >= {"created", "status", "from", "to", "messageId", "returnPath",
                           "subject", "apiData", "reason"}
    assert bounce["reason"].startswith("550 5.1.1") and bounce["reasonCode"] == "userunknown"
    assert bounce["returnPath"].startswith("bounces+") and bounce["deliveryId"] == unknown
    assert bounce["subject"] == "ご注文" and bounce["created"].endswith("Z")
    assert (block["reason"], block["deliveryId"]) == ("userunknown", unknown)
    assert deferred["nextAttemptAt"].endswith("Z") and deferred["errorStatus"] == 5


def test_blocked_at_intake_and_blocks_only_once(store, tenants, settings):
    acme, _ = tenants
    [first] = send(store, acme, ["gone@example.net"])
    answer(settings, store, first, "550 5.1.1 <gone@example.net>: User unknown")
    make_hook(store, acme, ["deliveries", "blocks"])
    [again] = send(store, acme, ["Gone@example.net"])  # on the block list now
    events = [(kind, p.get("status") or p.get("action")) for _, kind, p in queued(store)]
    assert events == [("deliveries", "blocked")]  # never queued, no second "added"
    with store.session() as session:  # the block-list removal API's call
        block_changed(session, acme.server_config_id, "GONE@example.net", "removed", "by API")
    _, kind, payload = queued(store)[-1]
    assert (kind, payload["action"], payload["email"]) == ("blocks", "removed",
                                                           "gone@example.net")
    with store.read() as session, pytest.raises(ValueError, match="unknown block action"):
        block_changed(session, acme.server_config_id, "x@example.net", "moved")
    with store.read() as session:
        assert session.get_one(outcome.Delivery, again).status == "blocked"


def test_events_roll_back_with_the_change(store, tenants, settings):
    acme, _ = tenants
    make_hook(store, acme)
    with pytest.raises(RuntimeError), store.session() as session:
        queue_mail(session, Submitter(acme.organisation_id, acme.server_config_id, None),
                   mail_from="shop@example.jp", recipients=["a@example.net"], raw=b"x",
                   subject="", message_id="<m2@example.jp>", api_data="")
        assert len(session.scalars(select(WebhookEvent)).all()) == 1
        raise RuntimeError("the intake fails before commit")
    assert queued(store) == []

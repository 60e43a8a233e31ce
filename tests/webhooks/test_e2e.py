"""End to end, both engines: ``todoke serve`` with a webhook made through the API, mail sent by
``POST /v1/mail/send`` to a relay on 127.0.0.1 that answers ``550 5.1.1`` for one recipient;
the receiver gets signed ``deliveries``, ``bounces`` and ``blocks`` posts from the gateway's
own dispatcher."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.mail.test_delivery_e2e import free_port, start_router

from todoke.webhooks.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from .conftest import Receiver

pytestmark = pytest.mark.slow

SENDER = "shop@example.jp"


def wait(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in time: {what}")


def by_kind(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [e for p in receiver.ok_posts() if p.json["event"] == kind for e in p.json["events"]]


def test_mail_outcomes_reach_the_webhook(database_url, make_gateway, receiver: Receiver):
    port = free_port()
    _router, controller = start_router(port)
    try:
        gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{port}",
                          TODOKE_MINUTE_SECONDS="0.01")
        gw.api_key = gw.create_account("acme", SENDER)
        other_key = gw.create_account("other", "info@other.example")
        gw.start()
        made = gw.api("POST", "/v1/webhooks", json={"url": receiver.url()})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        # the other organisation's webhook must hear nothing of acme's mail
        assert gw.api("POST", "/v1/webhooks", other_key,
                      json={"url": receiver.url("/other")}).status_code == 201
        time.sleep(1.2)  # a worker in another process sees a new webhook within a second

        sent = gw.api("POST", "/v1/mail/send", json={
            "from": SENDER, "to": ["ok@example.net", "user-550@example.net"],
            "subject": "ご注文", "text": "x", "headers": {"X-Api-Data": "order-7"}})
        assert sent.status_code == 202, sent.text
        wait(lambda: len(by_kind(receiver, "blocks")) >= 1
             and len(by_kind(receiver, "deliveries")) >= 4, "first events")

        deliveries = [(e["to"], e["status"]) for e in by_kind(receiver, "deliveries")]
        assert sorted(deliveries) == sorted([
            ("ok@example.net", "queued"), ("user-550@example.net", "queued"),
            ("ok@example.net", "succeeded"), ("user-550@example.net", "failed")])
        for rcpt, final in (("ok@example.net", "succeeded"),  # order kept
                            ("user-550@example.net", "failed")):
            assert [s for to, s in deliveries if to == rcpt] == ["queued", final]
        failed = next(e for e in by_kind(receiver, "deliveries") if e["status"] == "failed")
        assert (failed["errorStatus"], failed["reason"], failed["replyCode"]) == (
            2, "userunknown", "550")
        assert failed["apiData"] == "order-7" and failed["messageId"] == sent.json()["message_id"]
        [bounce] = by_kind(receiver, "bounces")
        assert (bounce["to"], bounce["status"], bounce["apiData"]) == (
            "user-550@example.net", 2, "order-7")
        assert "550 5.1.1" in bounce["reason"] and bounce["returnPath"].startswith("bounces+")
        [block] = by_kind(receiver, "blocks")
        assert (block["action"], block["email"], block["reason"]) == (
            "added", "user-550@example.net", "userunknown")

        # the address is blocked now: a new send is "blocked" (status 10), never queued
        again = gw.api("POST", "/v1/mail/send", json={
            "from": SENDER, "to": ["User-550@example.net"], "subject": "again", "text": "x"})
        assert again.status_code == 202, again.text
        wait(lambda: len(by_kind(receiver, "bounces")) >= 2, "the blocked send")
        assert by_kind(receiver, "deliveries")[-1]["status"] == "blocked"
        assert by_kind(receiver, "bounces")[-1]["status"] == 10
        assert len(by_kind(receiver, "blocks")) == 1  # already on the list: no second "added"

        for post in receiver.ok_posts():
            assert verify(secret, post.headers[TIMESTAMP_HEADER], post.body,
                          post.headers[SIGNATURE_HEADER])
            assert not verify("whsec_wrong", post.headers[TIMESTAMP_HEADER], post.body,
                              post.headers[SIGNATURE_HEADER])
        assert receiver.ok_posts("/other") == []
        [hook] = gw.api("GET", "/v1/webhooks").json()["webhooks"]
        assert hook["pending"] == 0 and hook["last_success"] is not None
        metrics = gw.api("GET", "/metrics").text
        assert 'todoke_webhook_posts_total{outcome="ok"}' in metrics
    finally:
        controller.stop()

"""The webhook dispatcher against a real HTTP receiver, on both engines: signed batches of at
most 100 of one kind, events within about a second, retries with the same events in the same
order after 500s, timeouts and refused connections, giving up after 24 hours, and two
dispatchers that never post the same event twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from todoke.store.db import Store
from todoke.store.models_hooks import Webhook, WebhookEvent
from todoke.webhooks.dispatch import WebhookDispatcher
from todoke.webhooks.events import emit
from todoke.webhooks.manage import create_webhook, delete_webhook, update_webhook
from todoke.webhooks.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from .conftest import Receiver, Tenant, make_settings, run_dispatchers


def hook(store: Store, tenant: Tenant, url: str, events: Any = None) -> tuple[int, str]:
    with store.session() as session:
        webhook, secret = create_webhook(session, tenant.organisation_id,
                                         tenant.server_config_id, url, events)
        return webhook.id, secret


def emit_many(store: Store, tenant: Tenant, event: str, count: int, start: int = 0) -> None:
    with store.session() as session:
        emit(session, tenant.server_config_id, event,
             [{"n": start + i, "to": f"user{start + i}@example.net"} for i in range(count)])


def waiting(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent)) or 0


def webhook_row(store: Store, webhook_id: int) -> Webhook:
    with store.read() as session:
        return session.get_one(Webhook, webhook_id)


def test_one_event_arrives_within_two_seconds_signed(store, tenants, receiver: Receiver,
                                                     settings):
    acme, _ = tenants
    webhook_id, secret = hook(store, acme, receiver.url())
    emit_many(store, acme, "deliveries", 1)
    dispatcher = WebhookDispatcher(settings, store)  # the real one-second tick
    took = run_dispatchers([dispatcher], lambda: receiver.count() >= 1)
    assert took < 2.0
    [post] = receiver.posts
    document = post.json
    assert document["event"] == "deliveries" and document["webhook_id"] == webhook_id
    assert document["sent"].endswith("Z")
    [event] = document["events"]
    assert event["n"] == 0 and event["to"] == "user0@example.net"
    assert isinstance(event["event_id"], int)
    assert post.headers["Content-Type"].startswith("application/json")
    ts, sig = post.headers[TIMESTAMP_HEADER], post.headers[SIGNATURE_HEADER]
    assert sig.startswith("sha256=")
    assert verify(secret, ts, post.body, sig)
    assert not verify(secret + "x", ts, post.body, sig)
    assert waiting(store) == 0
    row = webhook_row(store, webhook_id)
    assert row.last_success is not None and row.failures == 0 and row.claim_token is None


def test_150_events_are_two_posts_of_100_and_50_in_order(store, tenants, receiver, settings):
    acme, _ = tenants
    hook(store, acme, receiver.url())
    emit_many(store, acme, "bounces", 150)
    run_dispatchers([WebhookDispatcher(settings, store, tick=0.05)],
                    lambda: len(receiver.ok_events()) >= 150, linger=0.3)
    assert [len(p.json["events"]) for p in receiver.posts] == [100, 50]
    events = receiver.ok_events()
    assert [e["n"] for e in events] == list(range(150))
    ids = [e["event_id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 150
    assert {p.json["event"] for p in receiver.posts} == {"bounces"}


def test_one_batch_per_kind_and_only_subscribed_kinds(store, tenants, receiver, settings):
    acme, _ = tenants
    hook(store, acme, receiver.url("/all"))
    hook(store, acme, receiver.url("/blocks"), ["blocks"])
    with store.session() as session:
        emit(session, acme.server_config_id, "deliveries", [{"n": 1}, {"n": 2}])
        emit(session, acme.server_config_id, "bounces", [{"n": 3}])
        emit(session, acme.server_config_id, "blocks", [{"n": 4}])
        emit(session, acme.server_config_id, "deliveries", [{"n": 5}])
    run_dispatchers([WebhookDispatcher(settings, store, tick=0.05)],
                    lambda: len(receiver.ok_events()) >= 6, linger=0.3)
    kinds = {p.json["event"]: [e["n"] for e in p.json["events"]]
             for p in receiver.ok_posts("/all")}
    assert kinds == {"deliveries": [1, 2, 5], "bounces": [3], "blocks": [4]}
    # the kind with the oldest waiting event goes first
    assert [p.json["event"] for p in receiver.ok_posts("/all")] == [
        "deliveries", "bounces", "blocks"]
    assert [(p.json["event"], len(p.json["events"])) for p in receiver.ok_posts("/blocks")] == [
        ("blocks", 1)]


def test_retried_after_500_with_the_same_events_in_the_same_order(store, tenants, receiver,
                                                                  settings):
    acme, _ = tenants
    receiver.fail_first = 2
    webhook_id, secret = hook(store, acme, receiver.url())
    emit_many(store, acme, "deliveries", 5)
    run_dispatchers([WebhookDispatcher(settings, store, tick=0.05)],
                    lambda: len(receiver.ok_posts()) >= 1, linger=0.3)
    statuses = [p.status for p in receiver.posts]
    assert statuses == [500, 500, 200]
    first = receiver.posts[0]
    assert [p.event_ids for p in receiver.posts] == [first.event_ids] * 3
    assert [e["n"] for e in receiver.posts[2].json["events"]] == [0, 1, 2, 3, 4]
    for post in receiver.posts:  # every retry is signed afresh
        assert verify(secret, post.headers[TIMESTAMP_HEADER], post.body,
                      post.headers[SIGNATURE_HEADER])
    row = webhook_row(store, webhook_id)
    assert row.failures == 0 and row.last_success is not None
    assert row.last_error.startswith("HTTP 500") and "receiver says no" in row.last_error
    assert row.last_error_at is not None
    assert waiting(store) == 0


def test_events_made_during_backoff_wait_behind_the_failed_batch(store, tenants, receiver,
                                                                 tmp_path: Path):
    acme, _ = tenants
    receiver.fail_first = 1
    hook(store, acme, receiver.url())
    emit_many(store, acme, "deliveries", 3)
    # backoff 30 s × 0.2 / 60 = 0.1 s: the new events are made before the retry
    slow = make_settings(store, tmp_path, minute_seconds=0.2)
    made = []

    def until() -> bool:
        if receiver.count() >= 1 and not made:
            emit_many(store, acme, "deliveries", 3, start=3)
            made.append(True)
        return len(receiver.ok_events()) >= 6

    run_dispatchers([WebhookDispatcher(slow, store, tick=0.02)], until, linger=0.3)
    assert [e["n"] for e in receiver.ok_events()] == [0, 1, 2, 3, 4, 5]
    assert receiver.posts[0].status == 500


def test_timeout_and_refused_connection_are_retried(store, tenants, receiver, settings):
    acme, _ = tenants
    receiver.stall_first, receiver.stall_seconds = 1, 1.5
    stalled_id, _ = hook(store, acme, receiver.url("/slow"))
    emit_many(store, acme, "blocks", 2)
    run_dispatchers([WebhookDispatcher(settings, store, tick=0.05, timeout=0.5)],
                    lambda: len(receiver.ok_posts("/slow")) >= 1, linger=0.2)
    assert receiver.posts[0].event_ids == receiver.ok_posts("/slow")[0].event_ids
    row = webhook_row(store, stalled_id)
    assert row.last_error.startswith("timeout: no answer within 0.5 s")

    with store.session() as session:
        update_webhook(session, acme.server_config_id, stalled_id, enabled=False)
    closed = receiver.url("/x").replace(str(receiver.port), str(_closed_port()))
    refused_id, _ = hook(store, acme, closed, ["deliveries"])
    emit_many(store, acme, "deliveries", 1)
    dispatcher = WebhookDispatcher(settings, store, tick=0.05)
    run_dispatchers([dispatcher], lambda: webhook_row(store, refused_id).failures >= 2)
    row = webhook_row(store, refused_id)
    assert row.last_error.startswith("connection error") and "ConnectError" in row.last_error
    assert waiting(store) == 1  # kept for the next attempt


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gives_up_after_24_hours_and_keeps_the_last_error(store, tenants, receiver,
                                                          tmp_path: Path):
    acme, _ = tenants
    receiver.fail_first = 10_000
    webhook_id, _ = hook(store, acme, receiver.url())
    emit_many(store, acme, "bounces", 3)
    fast = make_settings(store, tmp_path, minute_seconds=0.0005)  # 24 h = 0.72 s
    run_dispatchers([WebhookDispatcher(fast, store, tick=0.02)],
                    lambda: waiting(store) == 0, timeout=20)
    row = webhook_row(store, webhook_id)
    assert row.dropped == 3
    assert row.last_error.startswith("HTTP 500") and "3 events older than 24 h" in row.last_error
    assert receiver.count() >= 2
    assert not receiver.ok_posts()


def test_disabled_webhook_gets_nothing_until_enabled(store, tenants, receiver, settings):
    acme, _ = tenants
    webhook_id, _ = hook(store, acme, receiver.url())
    emit_many(store, acme, "deliveries", 2)
    with store.session() as session:
        update_webhook(session, acme.server_config_id, webhook_id, enabled=False)
    emit_many(store, acme, "deliveries", 2, start=2)  # not queued: nobody subscribes
    dispatcher = WebhookDispatcher(settings, store, tick=0.05)
    run_dispatchers([dispatcher], lambda: True, linger=0.4)
    assert receiver.count() == 0 and waiting(store) == 2
    with store.session() as session:
        update_webhook(session, acme.server_config_id, webhook_id, enabled=True)
    run_dispatchers([dispatcher], lambda: len(receiver.ok_events()) >= 2, linger=0.2)
    assert [e["n"] for e in receiver.ok_events()] == [0, 1]


def test_two_dispatchers_never_post_an_event_twice(store, tenants, receiver, settings):
    acme, other = tenants
    receiver.fail_first = 3  # some retries in the mix
    for path in ("/a", "/b", "/c"):
        hook(store, acme, receiver.url(path))
    hook(store, other, receiver.url("/d"))
    for round_ in range(4):
        emit_many(store, acme, "deliveries", 120, start=round_ * 120)
        emit_many(store, other, "bounces", 60, start=round_ * 60)
    second = Store(store.url)  # its own connections, as another process would have
    try:
        dispatchers = [WebhookDispatcher(settings, store, tick=0.02),
                       WebhookDispatcher(settings, second, tick=0.02)]
        run_dispatchers(dispatchers, lambda: waiting(store) == 0, timeout=30, linger=0.3)
    finally:
        second.dispose()
    for path, total in (("/a", 480), ("/b", 480), ("/c", 480), ("/d", 240)):
        events = receiver.ok_events(path)
        ids = [e["event_id"] for e in events]
        assert len(ids) == total and len(set(ids)) == total, path
        assert ids == sorted(ids), path  # order kept per webhook
        assert [e["n"] for e in events] == list(range(total)), path
        assert all(len(p.json["events"]) <= 100 for p in receiver.ok_posts(path))


def test_a_changed_url_and_a_deleted_webhook(store, tenants, receiver, settings):
    acme, _ = tenants
    webhook_id, _ = hook(store, acme, receiver.url("/old"))
    emit_many(store, acme, "deliveries", 1)
    dispatcher = WebhookDispatcher(settings, store, tick=0.05)
    run_dispatchers([dispatcher], lambda: len(receiver.ok_posts("/old")) >= 1)
    with store.session() as session:
        update_webhook(session, acme.server_config_id, webhook_id, url=receiver.url("/new"))
    emit_many(store, acme, "deliveries", 1, start=1)
    run_dispatchers([dispatcher], lambda: len(receiver.ok_posts("/new")) >= 1, linger=0.2)
    assert [e["n"] for e in receiver.ok_events("/new")] == [1]
    assert [e["n"] for e in receiver.ok_events("/old")] == [0]

    emit_many(store, acme, "deliveries", 2, start=2)
    assert waiting(store) == 2
    with store.session() as session:
        assert delete_webhook(session, acme.server_config_id, webhook_id)
        assert not delete_webhook(session, acme.server_config_id, webhook_id)
    assert waiting(store) == 0
    emit_many(store, acme, "deliveries", 1, start=4)  # nobody listens any more
    run_dispatchers([dispatcher], lambda: True, linger=0.3)
    assert waiting(store) == 0 and receiver.count() == 2

"""Block list on both engines: filters (email, dates, removed), paging, soft removal with its
webhook event, re-activation by a new hard bounce, release after N days, tenant isolation on
every route, and the download (grant, AES ZIP, wrong password, columns, neutralisation)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
import pyzipper
from sqlalchemy import select

from todoke.errorlog import blocklist
from todoke.mail.delivery import outcome
from todoke.store.models_hooks import Webhook, WebhookEvent
from todoke.store.models_mail import Suppression
from todoke.webhooks import events as webhook_events

from .conftest import World

PASSWORD = "blocks-password"


def _blocks(w: World, key: str | None = None, **params: Any) -> Any:
    response = w.get("/v1/blocks", key=key, **params)
    assert response.status_code == 200, response.text
    return response.json()


def _emails(w: World, key: str | None = None, **params: Any) -> list[str]:
    return [b["email"] for b in _blocks(w, key, **params)["blocks"]]


def test_filters_and_paging(world: World) -> None:
    w = world
    w.fill_blocks(w.a, [f"user{i}@example.com" for i in range(12)])
    w.fill_blocks(w.a, ["old@example.org"], created=w.now - timedelta(days=3))
    w.fill_blocks(w.a, ["gone@example.org"], removed=w.now - timedelta(hours=1))
    body = _blocks(w)
    assert body["total"] == 13 and len(body["blocks"]) == 13
    assert body["blocks"][0]["email"] == "user0@example.com"  # newest first
    assert body["blocks"][0]["created"].endswith("+09:00") and body["blocks"][0]["removed"] is None
    assert _emails(w, email="USER1") == ["user1@example.com", "user10@example.com",
                                         "user11@example.com"]
    assert _emails(w, email="example.org") == ["old@example.org"]
    assert _emails(w, email="%") == []
    assert _emails(w, removed="true") == ["gone@example.org"]
    assert _blocks(w, removed="true")["blocks"][0]["removed"].endswith("+09:00")
    assert _blocks(w, removed="false")["total"] == 13
    assert _emails(w, start_date=w.today(-3), end_date=w.today(-3)) == ["old@example.org"]
    assert _blocks(w, start_date=w.today(-1))["total"] == 12
    assert _emails(w, end_date=w.today(-2)) == ["old@example.org"]
    page = _blocks(w, per_page=5, page=3)
    assert [b["email"] for b in page["blocks"]] == [
        "user10@example.com", "user11@example.com", "old@example.org"]
    assert w.get("/v1/blocks", per_page=501).status_code == 422


@pytest.mark.parametrize("params, field", [
    ({"removed": "maybe"}, "removed"),
    ({"start_date": "2026/01/01"}, "start_date"),
    ({"start_date": "2026-01-10", "end_date": "2026-01-09"}, "end_date"),
])
def test_validation(world: World, params: dict[str, str], field: str) -> None:
    response = world.get("/v1/blocks", **params)
    assert response.status_code == 422 and response.json()["detail"]["field"] == field


def test_soft_removal_webhook_and_reactivation(world: World) -> None:
    w = world
    w.fill_blocks(w.a, ["bounced@example.com", "kept@example.com"])
    with w.store.session() as session:
        session.add(Webhook(organisation_id=w.a.organisation_id,
                            server_config_id=w.a.server_config_id, url="http://127.0.0.1:9/",
                            secret="s", events="blocks"))
    webhook_events.forget()
    with w.store.read() as session:
        assert outcome.suppressed(session, w.a.server_config_id,
                                  ["Bounced@example.com", "new@example.com"]) == {
            "bounced@example.com"}
    headers = {"Authorization": f"Bearer {w.a.admin_key}"}
    assert w.client.delete("/v1/blocks/Bounced@Example.com", headers=headers).status_code == 204
    assert w.client.delete("/v1/blocks/bounced@example.com", headers=headers).status_code == 404
    missing = w.client.delete("/v1/blocks/nobody@example.com",
                              headers={**headers, "Accept-Language": "en"})
    assert missing.status_code == 404 and missing.json()["detail"].isascii()
    assert _emails(w) == ["kept@example.com"]
    assert _emails(w, removed="true") == ["bounced@example.com"]
    with w.store.read() as session:
        row = session.scalars(select(Suppression).where(
            Suppression.address == "bounced@example.com")).one()
        assert row.removed is not None  # kept, not deleted
        assert outcome.suppressed(session, w.a.server_config_id, ["bounced@example.com"]) == set()
        queued = session.scalars(select(WebhookEvent)).all()
    assert [e.event for e in queued] == ["blocks"]
    payload = json.loads(queued[0].payload)
    assert payload["email"] == "bounced@example.com" and payload["action"] == "removed"
    assert payload["reason"] == "userunknown" and payload["removedBy"] == "api"
    assert payload["created"].endswith("Z") and payload["time"].endswith("Z")
    first_created = row.created
    with w.store.session() as session:  # a new hard bounce puts it back
        outcome.suppress(session, w.a.server_config_id, "Bounced@example.com", "hostunknown",
                         None)
        outcome.suppress(session, w.a.server_config_id, "kept@example.com", "hasmoved", None)
    with w.store.read() as session:
        back = session.scalars(select(Suppression).where(
            Suppression.address == "bounced@example.com")).one()
        kept = session.scalars(select(Suppression).where(
            Suppression.address == "kept@example.com")).one()
        assert outcome.suppressed(session, w.a.server_config_id,
                                  ["bounced@example.com"]) == {"bounced@example.com"}
    assert back.removed is None and back.reason == "hostunknown"
    assert back.created > first_created
    assert kept.reason == "userunknown"  # an active entry is left as it was
    assert sorted(_emails(w)) == ["bounced@example.com", "kept@example.com"]
    assert _emails(w, removed="true") == []


def test_release_after_days(world: World) -> None:
    w = world
    w.fill_blocks(w.a, ["fresh@example.com"], created=w.now - timedelta(days=29))
    w.fill_blocks(w.a, ["old1@example.com", "old2@example.com"],
                  created=lambda i: w.now - timedelta(days=31 + i))
    w.fill_blocks(w.b, ["oldb@example.com"], created=w.now - timedelta(days=45))
    w.fill_blocks(w.b, ["gone@example.com"], created=w.now - timedelta(days=60),
                  removed=w.now - timedelta(days=50))
    with w.store.session() as session:
        session.add(Webhook(organisation_id=w.b.organisation_id,
                            server_config_id=w.b.server_config_id, url="http://127.0.0.1:9/",
                            secret="s", events="blocks"))
    webhook_events.forget()
    assert blocklist.release(w.store, days=0) == 0  # 0 = never
    assert blocklist.release(w.store, days=30, batch=2) == 3
    with w.store.read() as session:
        payloads = [json.loads(e.payload) for e in session.scalars(select(WebhookEvent))]
    assert [(p["email"], p["action"], p["removedBy"]) for p in payloads] == [
        ("oldb@example.com", "removed", "release")]  # only b has a webhook
    assert _emails(w) == ["fresh@example.com"]
    assert sorted(_emails(w, removed="true")) == ["old1@example.com", "old2@example.com"]
    assert _emails(w, key=w.b.admin_key) == []
    with w.store.read() as session:
        gone = session.scalars(select(Suppression).where(
            Suppression.address == "gone@example.com")).one()
    assert gone.removed is not None and gone.removed < w.now - timedelta(days=49)  # untouched
    assert blocklist.release(w.store, days=30) == 0


def test_tenant_isolation_on_every_route(world: World) -> None:
    w = world
    [mine] = w.fill_mail(w.a, 1, user=True, status="failed", rcpt="user-bounce@example.com")
    [admins] = w.fill_mail(w.a, 1, status="failed", rcpt="admin-bounce@example.com")
    w.fill_blocks(w.a, ["user-bounce@example.com", "admin-bounce@example.com"],
                  source=[mine, admins])
    w.fill_blocks(w.b, ["b-only@example.com"])
    assert sorted(_emails(w)) == ["admin-bounce@example.com", "user-bounce@example.com"]
    assert _emails(w, key=w.a.user_key) == ["user-bounce@example.com"]  # its own mail only
    assert _emails(w, key=w.b.admin_key) == ["b-only@example.com"]
    assert _emails(w, key=w.b.admin_key, email="bounce") == []

    def delete(address: str, key: str) -> int:
        return int(w.client.delete(f"/v1/blocks/{address}",
                                   headers={"Authorization": f"Bearer {key}"}).status_code)

    assert delete("user-bounce@example.com", w.b.admin_key) == 404
    assert delete("admin-bounce@example.com", w.a.user_key) == 404
    assert delete("b-only@example.com", w.a.admin_key) == 404
    assert delete("user-bounce@example.com", w.a.user_key) == 204
    assert w.client.get("/v1/blocks").status_code == 401
    w.grant(w.a)
    w.grant(w.b)
    for key, expected in ((w.a.admin_key, 1), (w.a.user_key, 0), (w.b.admin_key, 1)):
        response = w.post("/v1/blocks/download", key, password=PASSWORD)
        assert response.status_code == 200
        with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
            zf.setpassword(PASSWORD.encode())
            assert len(zf.read(zf.namelist()[0]).decode().splitlines()) == expected + 1


def test_download(world: World) -> None:
    w = world
    w.fill_blocks(w.a, ["=cmd@example.com", "plain@example.com"], reason="userunknown")
    w.fill_blocks(w.a, ["removed@example.com"], removed=w.now - timedelta(minutes=1))
    assert w.post("/v1/blocks/download", password=PASSWORD).status_code == 403
    w.grant(w.a)
    assert w.post("/v1/blocks/download", password="short").status_code == 422
    response = w.post("/v1/blocks/download", password=PASSWORD)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"wrong password")
        with pytest.raises(RuntimeError):
            zf.read(zf.namelist()[0])
        zf.setpassword(PASSWORD.encode())
        lines = zf.read(zf.namelist()[0]).decode().split("\n")[:-1]
    assert lines[0] == "created,email,reason,removed"
    assert len(lines) == 3
    assert any('"\'=cmd@example.com"' in line for line in lines)
    assert all(line.split(",")[0].endswith("+09:00") and line.endswith(",")
               for line in lines[1:])
    removed = w.post("/v1/blocks/download", password=PASSWORD, removed=True)
    with pyzipper.AESZipFile(io.BytesIO(removed.content)) as zf:
        zf.setpassword(PASSWORD.encode())
        [_header, row] = zf.read(zf.namelist()[0]).decode().splitlines()
    assert '"removed@example.com"' in row and row.endswith("+09:00")

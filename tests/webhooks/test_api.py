"""The webhook API on both engines: administrator keys only, scoped to the key's server
configuration, the secret shown once, refusals with their reason in ja and en, and the test
event posted to a real receiver."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from todoke.api.app import create_app
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models_hooks import Webhook, WebhookEvent
from todoke.webhooks.dispatch import WebhookDispatcher
from todoke.webhooks.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from .conftest import Receiver, Tenant, run_dispatchers

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def __call__(self, method: str, path: str, key: str, lang: str = "ja",
                 **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}", "Accept-Language": lang}
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture
def api(store: Store, settings: Settings) -> Iterator[Api]:
    client = TestClient(create_app(settings, store))
    yield Api(client)
    client.close()


def test_create_list_update_delete(api: Api, tenants: tuple[Tenant, Tenant], store: Store):
    acme, _ = tenants
    made = api("POST", "/v1/webhooks", acme.admin_key,
               json={"url": "https://hooks.example.jp/todoke", "events": ["bounces", "blocks"]})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["bounces", "blocks"] and created["enabled"] is True
    with store.read() as session:  # stored as is: the dispatcher signs with it
        assert session.get_one(Webhook, created["id"]).secret == created["secret"]

    listed = api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"]
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0] and created["secret"] not in str(listed)
    assert listed[0]["pending"] == 0 and listed[0]["last_error"] is None

    changed = api("PATCH", f"/v1/webhooks/{created['id']}", acme.admin_key,
                  json={"enabled": False, "events": ["deliveries"],
                        "url": "http://127.0.0.1:9/x"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["events"], changed.json()["url"]) == (
        False, ["deliveries"], "http://127.0.0.1:9/x")
    assert "secret" not in changed.json()

    assert api("DELETE", f"/v1/webhooks/{created['id']}", acme.admin_key).status_code == 204
    assert api("GET", "/v1/webhooks", acme.admin_key).json() == {"webhooks": []}
    gone = api("DELETE", f"/v1/webhooks/{created['id']}", acme.admin_key, lang="en")
    assert (gone.status_code, gone.json()["detail"]) == (404, "no such webhook")


REFUSALS = [
    ({"url": "ftp://example.jp/x"}, "url", "http:// または https://",
     "only http:// and https://"),
    ({"url": "javascript:alert(1)"}, "url", "http:// または https://",
     "only http:// and https://"),
    ({}, "url", "URL を入力", "the URL is empty"),
    ({"url": "https:///nohost"}, "url", "ホスト名がありません", "no host name"),
    ({"url": "https://user:pw@example.jp/"}, "url", "パスワード", "user name or password"),
    ({"url": "https://example.jp:99999/"}, "url", "ポート番号", "port is not valid"),
    ({"url": "https://exa mple.jp/"}, "url", "空白", "spaces"),
    ({"url": "https://exa$mple.jp/"}, "url", "ホスト名", "host name"),
    ({"url": "https://example.jp/", "events": ["opens"]}, "events", "不明なイベント",
     "unknown events: opens"),
    ({"url": "https://example.jp/", "events": []}, "events", "1つ以上", "at least one"),
]


def test_refusals_name_their_reason(api: Api, tenants):
    acme, _ = tenants
    for body, field, ja, en in REFUSALS:
        for lang, text in (("ja", ja), ("en", en)):
            answer = api("POST", "/v1/webhooks", acme.admin_key, lang=lang, json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["detail"]["field"] == field, body
            assert text in answer.json()["detail"]["message"], (body, answer.json())
    assert api("GET", "/v1/webhooks", acme.admin_key).json() == {"webhooks": []}


def test_patch_refusal_changes_nothing(api: Api, tenants):
    acme, _ = tenants
    made = api("POST", "/v1/webhooks", acme.admin_key, json={"url": "https://a.example/"}).json()
    answer = api("PATCH", f"/v1/webhooks/{made['id']}", acme.admin_key, lang="en",
                 json={"url": "gopher://a.example/", "enabled": False})
    assert answer.status_code == 422 and "only http:// and https://" in str(answer.json())
    [hook] = api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"]
    assert (hook["url"], hook["enabled"]) == ("https://a.example/", True)


def test_only_admin_keys(api: Api, tenants):
    acme, _ = tenants
    made = api("POST", "/v1/webhooks", acme.admin_key, json={"url": "https://a.example/"}).json()
    calls = [("GET", "/v1/webhooks", None), ("POST", "/v1/webhooks", {"url": "https://b.example/"}),
             ("PATCH", f"/v1/webhooks/{made['id']}", {"enabled": False}),
             ("DELETE", f"/v1/webhooks/{made['id']}", None),
             ("POST", f"/v1/webhooks/{made['id']}/test", None)]
    for method, path, body in calls:
        ja = api(method, path, acme.user_key, json=body)
        assert ja.status_code == 403, (method, path, ja.text)
        assert ja.json()["detail"] == "Webhook の設定には管理者の API キーが必要です"
        en = api(method, path, acme.user_key, lang="en", json=body)
        assert en.json()["detail"] == "webhooks need the administrator API key"
    assert api("GET", "/v1/webhooks", "tdk_wrong").status_code == 401
    [hook] = api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"]
    assert hook["enabled"] is True


def test_tenant_isolation(api: Api, tenants, store: Store):
    acme, other = tenants
    mine = api("POST", "/v1/webhooks", acme.admin_key, json={"url": "https://a.example/"}).json()
    theirs = api("POST", "/v1/webhooks", other.admin_key,
                 json={"url": "https://b.example/"}).json()
    assert [h["id"] for h in api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"]] == [
        mine["id"]]
    assert [h["id"] for h in api("GET", "/v1/webhooks", other.admin_key).json()["webhooks"]] == [
        theirs["id"]]
    for method, path, body in (("PATCH", f"/v1/webhooks/{theirs['id']}", {"enabled": False}),
                               ("DELETE", f"/v1/webhooks/{theirs['id']}", None),
                               ("POST", f"/v1/webhooks/{theirs['id']}/test", None)):
        answer = api(method, path, acme.admin_key, json=body)
        assert answer.status_code == 404, (method, answer.text)
        assert answer.json()["detail"] == "Webhook が見つかりません"
    with store.read() as session:
        row = session.get_one(Webhook, theirs["id"])
        assert (row.enabled, row.server_config_id) == (True, other.server_config_id)
        assert session.scalars(select(WebhookEvent)).all() == []


def test_test_event_is_posted_signed(api: Api, tenants, receiver: Receiver, store: Store,
                                     settings: Settings):
    acme, _ = tenants
    made = api("POST", "/v1/webhooks", acme.admin_key,
               json={"url": receiver.url(), "events": ["blocks"]}).json()
    answer = api("POST", f"/v1/webhooks/{made['id']}/test", acme.admin_key)
    assert (answer.status_code, answer.json()) == (202, {"queued": 1})
    assert api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"][0]["pending"] == 1
    run_dispatchers([WebhookDispatcher(settings, store, tick=0.05)],
                    lambda: len(receiver.ok_posts()) >= 1)
    [post] = receiver.posts
    assert post.json["event"] == "test" and post.json["webhook_id"] == made["id"]
    assert "todoke webhook test" in post.json["events"][0]["message"]
    assert verify(made["secret"], post.headers[TIMESTAMP_HEADER], post.body,
                  post.headers[SIGNATURE_HEADER])
    [hook] = api("GET", "/v1/webhooks", acme.admin_key).json()["webhooks"]
    assert hook["pending"] == 0 and hook["last_success"] is not None


def test_at_most_ten_per_server_configuration(api: Api, tenants):
    acme, other = tenants
    for i in range(10):
        assert api("POST", "/v1/webhooks", acme.admin_key,
                   json={"url": f"https://h{i}.example/"}).status_code == 201
    answer = api("POST", "/v1/webhooks", acme.admin_key, lang="en",
                 json={"url": "https://h10.example/"})
    assert answer.status_code == 422
    assert "at most 10 webhooks" in answer.json()["detail"]["message"]
    assert api("POST", "/v1/webhooks", other.admin_key,
               json={"url": "https://h10.example/"}).status_code == 201

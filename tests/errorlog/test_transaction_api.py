"""The reference shape /transaction/v2 on both engines: api_user + api_key as form fields or
a JSON body, server_composition, filters, p / r paging, Accept-Language for messages and
labels, errors as {"errors": [{code, message}]}, tenant isolation on every route."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import Tenant, World

JST = ZoneInfo("Asia/Tokyo")
BOUNCE_KEYS = {"created", "status", "from", "to", "messageId", "returnPath", "subject",
               "apiData", "reason"}


def _auth(t: Tenant, admin: bool = True) -> dict[str, str]:
    return ({"api_user": "admin", "api_key": t.admin_key} if admin
            else {"api_user": "user", "api_key": t.user_key})


def _call(w: World, path: str, *, json: bool = False, lang: str | None = None,
          **fields: Any) -> Any:
    headers = {"Accept-Language": lang} if lang else {}
    url = f"/transaction/v2/{path}"
    if json:
        return w.client.post(url, json=fields, headers=headers)
    return w.client.post(url, data={k: str(v) for k, v in fields.items()}, headers=headers)


def _ok(w: World, path: str, key: str, **fields: Any) -> list[dict[str, Any]]:
    response = _call(w, path, **fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == [key]
    return list(body[key])


def _range(w: World) -> dict[str, str]:
    return {"start_date": w.today(-2), "end_date": w.today()}


def test_bounces_list(world: World) -> None:
    w = world
    w.fill(w.a, 3, to_addr=lambda i: f"u{i}@example.net", api_data=lambda i: f"job-{i}")
    w.fill(w.a, 2, status=1, reason="hostunknown", to_addr=lambda i: f"h{i}@nohost.example",
           from_addr="news@shop.example", response="host not found",
           created=lambda i: w.now - timedelta(minutes=10 + i))
    w.fill(w.a, 1, kind="fax", server_config_id=None, api_user_id=None, status=99,
           to_addr="0312345678")
    rows = _ok(w, "bounces/list.json", "bounces", **_auth(w.a), **_range(w))
    assert len(rows) == 5  # mail only: a failed fax is no bounce
    assert set(rows[0]) >= BOUNCE_KEYS
    assert rows[0]["created"].endswith("+09:00")
    assert {r["status"] for r in rows} == {1, 2}
    unknown = next(r for r in rows if r["status"] == 2)
    assert unknown["reason"] == "550 5.1.1 no such user"  # the SMTP reply, as in the CSV
    assert unknown["statusLabel"] == "ユーザ不明"
    english = _call(w, "bounces/list.json", json=True, lang="en", **_auth(w.a), **_range(w))
    assert {r["statusLabel"] for r in english.json()["bounces"]} == {"Unknown user",
                                                                      "Unknown host"}
    assert len(_ok(w, "bounces/list.json", "bounces", json=True, status=1, **_auth(w.a),
                   **_range(w))) == 2
    assert len(_ok(w, "bounces/list.json", "bounces", to="NOHOST", **_auth(w.a),
                   **_range(w))) == 2
    assert len(_ok(w, "bounces/list.json", "bounces", **{"from": "shop.example"},
                   **_auth(w.a), **_range(w))) == 2
    assert [r["apiData"] for r in _ok(w, "bounces/list.json", "bounces", api_data="job-1",
                                      **_auth(w.a), **_range(w))] == ["job-1"]
    page = _ok(w, "bounces/list.json", "bounces", p=2, r=2, **_auth(w.a), **_range(w))
    assert [r["to"] for r in page] == ["u2@example.net", "h0@nohost.example"]
    assert len(_ok(w, "bounces/list.json", "bounces", server_composition="default",
                   **_auth(w.a), **_range(w))) == 5


@pytest.mark.parametrize("fields, status, code", [
    ({}, 401, "auth.missing"),
    ({"api_user": "admin"}, 401, "auth.missing"),
    ({"api_user": "user", "api_key": "A"}, 401, "auth.failed"),  # another user's key
    ({"api_user": "admin", "api_key": "tdk_wrong"}, 401, "auth.failed"),
    ({"api_user": "admin", "api_key": "A", "server_composition": "other"}, 400,
     "server_composition.unknown"),
    ({"api_user": "admin", "api_key": "A", "start_date": "2026-01-01"}, 400,
     "invalid.end_date"),
    ({"api_user": "admin", "api_key": "A", "start_date": "2026-01-02",
      "end_date": "2026-01-01"}, 400, "invalid.end_date"),
    ({"api_user": "admin", "api_key": "A", "start_date": "2026-01-01",
      "end_date": "2026-01-02", "status": "12"}, 400, "invalid.status"),
    ({"api_user": "admin", "api_key": "A", "start_date": "2026-01-01",
      "end_date": "2026-01-02", "r": "101"}, 400, "invalid.r"),
    ({"api_user": "admin", "api_key": "A", "start_date": "2026-01-01",
      "end_date": "2026-01-02", "p": "0"}, 400, "invalid.p"),
])
def test_errors_in_the_reference_shape(world: World, fields: dict[str, str], status: int,
                                       code: str) -> None:
    fields = {k: (world.a.admin_key if v == "A" else v) for k, v in fields.items()}
    response = _call(world, "bounces/list.json", **fields)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["code"] == code
    assert not error["message"].isascii()  # Japanese by default
    english = _call(world, "bounces/list.json", json=True, lang="en", **fields)
    assert english.status_code == status and english.json()["errors"][0]["message"].isascii()


def test_bad_json_body(world: World) -> None:
    response = world.client.post("/transaction/v2/blocks/list.json", content=b"[1, 2]",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "body.invalid"


def test_deliveries_list(world: World) -> None:
    w = world
    w.fill_mail(w.a, 3)
    w.fill_mail(w.a, 1, status="deferred", rcpt="later@slow.example",
                last_reply="451 4.7.1 try again later")
    w.fill_mail(w.a, 1, status="delivered", rcpt="yesterday@example.com",
                created=w.now - timedelta(days=1))
    rows = _ok(w, "deliveries/list.json", "deliveries", json=True, **_auth(w.a), **_range(w))
    assert len(rows) == 5
    assert set(rows[0]) >= BOUNCE_KEYS | {"sourceIp"}
    deferred = _ok(w, "deliveries/list.json", "deliveries", status="deferred", **_auth(w.a),
                   **_range(w))
    assert [(r["to"], r["status"], r["reason"], r["statusLabel"]) for r in deferred] == [
        ("later@slow.example", "deferred", "451 4.7.1 try again later", "再送待ち")]
    english = _call(w, "deliveries/list.json", lang="en", status="succeeded", **_auth(w.a),
                    **_range(w)).json()["deliveries"]
    assert {r["statusLabel"] for r in english} == {"Succeeded"} and len(english) == 4
    one_day = _ok(w, "deliveries/list.json", "deliveries", date=w.today(-1), **_auth(w.a))
    assert [r["to"] for r in one_day] == ["yesterday@example.com"]
    bad = _call(w, "deliveries/list.json", status="delivered", **_auth(w.a), **_range(w))
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid.status"


def test_deliveries_list_by_hour(world: World) -> None:
    w = world
    day = date.fromisoformat(w.today(-2))
    for hour in (9, 10, 11):  # 10:15 JST is 01:15 UTC
        at = datetime.combine(day, time(hour, 15), JST).astimezone(UTC).replace(tzinfo=None)
        w.fill_mail(w.a, 1, created=at, rcpt=f"h{hour}@example.com")
    rows = _ok(w, "deliveries/list.json", "deliveries", date=day.isoformat(), hour=10,
               **_auth(w.a))
    assert [(r["to"], r["created"]) for r in rows] == [
        ("h10@example.com", f"{day.isoformat()}T10:15:00+09:00")]
    assert len(_ok(w, "deliveries/list.json", "deliveries", date=day.isoformat(),
                   **_auth(w.a))) == 3
    for fields in ({"date": day.isoformat(), "hour": "24"},
                   {"start_date": day.isoformat(), "end_date": w.today(), "hour": "10"}):
        bad = _call(w, "deliveries/list.json", **fields, **_auth(w.a))
        assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid.hour"


def test_blocks_list_and_delete(world: World) -> None:
    w = world
    w.fill_blocks(w.a, ["one@example.com", "two@example.org", "moved@example.com"],
                  reason=lambda i: "hasmoved" if i == 2 else "userunknown")
    rows = _ok(w, "blocks/list.json", "blocks", **_auth(w.a))
    assert [r["email"] for r in rows] == ["one@example.com", "two@example.org",
                                          "moved@example.com"]
    assert set(rows[0]) >= {"created", "email", "reason", "removed"}
    assert rows[0]["reasonLabel"] == "ユーザ不明"
    assert [r["email"] for r in _ok(w, "blocks/list.json", "blocks", email="example.org",
                                    **_auth(w.a))] == ["two@example.org"]
    removed = _ok(w, "blocks/delete.json", "blocks", json=True, email="ONE@example.com",
                  **_auth(w.a))
    assert removed[0]["email"] == "one@example.com" and removed[0]["removed"]
    again = _call(w, "blocks/delete.json", lang="en", email="one@example.com", **_auth(w.a))
    assert again.status_code == 404
    assert again.json()["errors"][0] == {"code": "block.not_found",
                                         "message": "address is not on the block list"}
    assert [r["email"] for r in _ok(w, "blocks/list.json", "blocks", json=True, removed=True,
                                    **_auth(w.a))] == ["one@example.com"]
    english = _call(w, "blocks/list.json", lang="en", **_auth(w.a)).json()["blocks"]
    assert [r["reasonLabel"] for r in english] == ["Unknown user", "Forward error"]
    missing = _call(w, "blocks/delete.json", **_auth(w.a))
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == "invalid.email"


def test_tenant_isolation_on_every_route(world: World) -> None:
    w = world
    w.fill(w.a, 2, to_addr=lambda i: f"a-admin{i}@example.com")
    w.fill(w.a, 1, user=True, to_addr="a-user@example.com")
    w.fill(w.b, 3, to_addr=lambda i: f"b{i}@example.com")
    w.fill_mail(w.a, 2, rcpt=lambda i: f"a-admin{i}@example.com")
    [mine] = w.fill_mail(w.a, 1, user=True, rcpt="a-user@example.com")
    w.fill_mail(w.b, 3, rcpt=lambda i: f"b{i}@example.com")
    w.fill_blocks(w.a, ["a-user@example.com", "a-admin@example.com"], source=[mine, None])
    w.fill_blocks(w.b, ["b@example.com"])

    def tos(path: str, key: str, auth: dict[str, str]) -> list[str]:
        return sorted(r.get("to") or r.get("email")
                      for r in _ok(w, path, key, **auth, **_range(w)))

    a_admin, a_user, b_admin = _auth(w.a), _auth(w.a, admin=False), _auth(w.b)
    for path, key in (("bounces/list.json", "bounces"), ("deliveries/list.json", "deliveries")):
        assert tos(path, key, a_admin) == ["a-admin0@example.com", "a-admin1@example.com",
                                           "a-user@example.com"]
        assert tos(path, key, a_user) == ["a-user@example.com"]
        assert tos(path, key, b_admin) == ["b0@example.com", "b1@example.com",
                                           "b2@example.com"]
    blocks = [r["email"] for r in _ok(w, "blocks/list.json", "blocks", **a_user)]
    assert blocks == ["a-user@example.com"]
    assert [r["email"] for r in _ok(w, "blocks/list.json", "blocks", **b_admin)] == [
        "b@example.com"]
    assert _call(w, "blocks/delete.json", email="a-admin@example.com",
                 **b_admin).status_code == 404
    assert _call(w, "blocks/delete.json", email="a-admin@example.com",
                 **a_user).status_code == 404
    assert _call(w, "blocks/delete.json", email="a-admin@example.com",
                 **a_admin).status_code == 200
    # the other organisation's key with this organisation's user name is refused
    crossed = _call(w, "bounces/list.json", api_user="user", api_key=w.b.admin_key,
                    **_range(w))
    assert crossed.status_code == 401

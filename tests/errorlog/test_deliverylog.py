"""Delivery log (配信ログ) over the API on both engines: every filter, the status mapping,
paging, dates, retention, detail, tenant isolation on every route, the download (grant, AES
ZIP, wrong password, columns, formula neutralisation), the partial-match indexes, and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from sqlalchemy import text
from tests.conftest import gateway_env

from todoke.errorlog.deliverylog import COLUMNS
from todoke.errorlog.export import BLOCK

from .conftest import World

PASSWORD = "delivery-pass"


def _range(w: World) -> dict[str, str]:
    return {"start_date": w.today(-2), "end_date": w.today()}


def _list(w: World, key: str | None = None, **params: Any) -> Any:
    response = w.get("/v1/deliveries", key=key, **{**_range(w), **params})
    assert response.status_code == 200, response.text
    return response.json()


def _unzip(data: bytes, password: str = PASSWORD) -> list[str]:
    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        zf.setpassword(password.encode())
        raw = zf.read(zf.namelist()[0])
    assert b"\r\n" not in raw and raw.endswith(b"\n")
    return raw.decode("utf-8").split("\n")[:-1]


def test_filters_status_words_and_newest_first(world: World) -> None:
    w = world
    w.fill_mail(w.a, 4)  # delivered -> succeeded
    w.fill_mail(w.a, 1, status="queued", rcpt="q@wait.example")
    w.fill_mail(w.a, 1, status="active", rcpt="a@wait.example")
    w.fill_mail(w.a, 2, status="deferred", rcpt=lambda i: f"d{i}@slow.example",
                x_api_data=lambda i: f"campaign-7-{i}")
    w.fill_mail(w.a, 2, status="failed", rcpt=lambda i: f"f{i}@gone.example",
                mail_from="news@shop.example")
    w.fill_mail(w.a, 1, status="blocked", rcpt="blocked@gone.example")
    body = _list(w)
    assert body["total"] == 11 and body["shown"] == 11 and len(body["deliveries"]) == 10
    created = [d["created"] for d in body["deliveries"]]
    assert created == sorted(created, reverse=True)
    counts = {word: _list(w, status=word)["total"]
              for word in ("queued", "succeeded", "deferred", "failed")}
    assert counts == {"queued": 2, "succeeded": 4, "deferred": 2, "failed": 3}
    states = {d["to"]: (d["status"], d["state"]) for d in _list(w, per_page=100)["deliveries"]}
    assert states["a@wait.example"] == ("queued", "active")
    assert states["blocked@gone.example"] == ("failed", "blocked")
    assert states["user0@example.com"] == ("succeeded", "delivered")
    assert _list(w, to="GONE.example")["total"] == 3  # partial, any case (trigram)
    assert _list(w, to="d1")["total"] == 1  # shorter than 3 characters: LIKE
    assert _list(w, to="%")["total"] == 0  # no wildcards
    assert _list(w, api_data="campaign-7")["total"] == 2
    assert _list(w, api_data="paign-7-1", status="deferred")["total"] == 1
    assert _list(w, **{"from": "shop.example"})["total"] == 2
    assert _list(w, status="failed", **{"from": "news@"})["total"] == 2
    assert _list(w, to="nobody")["total"] == 0
    first = _list(w)["deliveries"][0]
    assert set(first) >= {"id", "created", "status", "from", "to", "messageId", "returnPath",
                          "subject", "apiData"}
    assert first["returnPath"].startswith("bounces+") and first["created"].endswith("+09:00")


def test_paging(world: World) -> None:
    w = world
    w.fill_mail(w.a, 25)
    assert len(_list(w)["deliveries"]) == 10
    page3 = _list(w, page=3)["deliveries"]
    assert [d["to"] for d in page3] == [f"user{i}@example.com" for i in range(20, 25)]
    assert len(_list(w, per_page=100)["deliveries"]) == 25
    assert w.get("/v1/deliveries", per_page=101, **_range(w)).status_code == 422


@pytest.mark.parametrize("params, field", [
    ({"end_date": "2026-01-01"}, "start_date"),
    ({"start_date": "2026-01-01"}, "end_date"),
    ({"start_date": "2026-1-01", "end_date": "2026-01-02"}, "start_date"),
    ({"start_date": "2026-01-10", "end_date": "2026-01-09"}, "end_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-03-01"}, "end_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-01-02", "status": "delivered"}, "status"),
])
def test_validation(world: World, params: dict[str, str], field: str) -> None:
    response = world.get("/v1/deliveries", **params)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == field
    assert not response.json()["detail"]["message"].isascii()
    english = world.client.get("/v1/deliveries", params=params, headers={
        "Authorization": f"Bearer {world.a.admin_key}", "Accept-Language": "en"})
    assert english.json()["detail"]["message"].isascii()


def test_detail_and_retention(world: World) -> None:
    w = world
    [delivery_id] = w.fill_mail(w.a, 1, status="failed", last_reply="550 5.1.1 no such user",
                                reason="userunknown", error_status=2, source_ip="198.51.100.4",
                                remote_mta="mx1.example.net")
    [old_id] = w.fill_mail(w.a, 1, created=w.now - timedelta(days=40, hours=1),
                           rcpt="old@example.com")
    body = w.get(f"/v1/deliveries/{delivery_id}").json()
    assert body["sourceIp"] == "198.51.100.4" and body["remoteMta"] == "mx1.example.net"
    assert body["reply"] == "550 5.1.1 no such user" and body["apiData"] == "order-0"
    assert body["status"] == "failed" and body["errorStatus"] == 2
    assert [e["status"] for e in body["events"]] == ["failed"]
    assert body["events"][0]["created"].endswith("+09:00")
    assert w.get(f"/v1/deliveries/{old_id}").status_code == 404  # past the retention
    assert _list(w, start_date=w.today(-40))["total"] == 1
    assert w.get("/v1/deliveries/999999").status_code == 404


def test_tenant_isolation_on_every_route(world: World) -> None:
    w = world
    a_admin = w.fill_mail(w.a, 3, rcpt=lambda i: f"a-admin{i}@example.com")
    a_user = w.fill_mail(w.a, 2, user=True, rcpt=lambda i: f"a-user{i}@example.com")
    b_rows = w.fill_mail(w.b, 4, rcpt=lambda i: f"b{i}@example.com")
    assert _list(w)["total"] == 5
    assert {d["to"][:6] for d in _list(w, key=w.a.user_key)["deliveries"]} == {"a-user"}
    assert _list(w, key=w.b.admin_key)["total"] == 4
    assert _list(w, key=w.b.admin_key, to="a-admin")["total"] == 0
    assert w.get(f"/v1/deliveries/{b_rows[0]}").status_code == 404
    assert w.get(f"/v1/deliveries/{b_rows[0]}", key=w.a.user_key).status_code == 404
    assert w.get(f"/v1/deliveries/{a_admin[0]}", key=w.a.user_key).status_code == 404
    assert w.get(f"/v1/deliveries/{a_user[0]}", key=w.a.user_key).status_code == 200
    assert w.get(f"/v1/deliveries/{a_user[0]}", key=w.b.admin_key).status_code == 404
    assert w.get(f"/v1/deliveries/{b_rows[0]}", key=w.b.admin_key).status_code == 200
    assert w.client.get("/v1/deliveries", params=_range(w)).status_code == 401
    w.grant(w.a)
    w.grant(w.b)
    for key, expected in ((w.a.admin_key, 5), (w.a.user_key, 2), (w.b.admin_key, 4)):
        response = w.post("/v1/deliveries/download", key, password=PASSWORD, **_range(w))
        assert response.status_code == 200
        assert len(_unzip(response.content)) == expected + 1


def test_download(world: World) -> None:
    w = world
    w.fill_mail(w.a, 120, subject=lambda i: f"件名 {i}")
    w.fill_mail(w.a, 1, subject='=HYPERLINK("http://evil")', x_api_data="+cmd",
                mail_from="@x", rcpt="-1@example.com", last_reply="\tsneaky",
                status="blocked")
    response = w.post("/v1/deliveries/download", password=PASSWORD, **_range(w))
    assert response.status_code == 403
    assert "ダウンロード" in response.json()["detail"]
    w.grant(w.a)
    assert w.post("/v1/deliveries/download", password="short",
                  **_range(w)).json()["detail"]["field"] == "password"
    assert w.post("/v1/deliveries/download", password=PASSWORD,
                  start_date=w.today()).status_code == 422
    response = w.post("/v1/deliveries/download", password=PASSWORD, **_range(w))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"not the password")
        with pytest.raises(RuntimeError):
            zf.read(zf.namelist()[0])
    lines = _unzip(response.content)
    assert lines[0] == ",".join(COLUMNS)
    assert lines[0] == "created,status,from,to,messageId,returnPath,subject,apiData,sourceIp,reply"
    assert len(lines) == 122  # every hit, not capped at 100
    evil = next(line for line in lines if "HYPERLINK" in line)
    assert evil.split(",")[1] == "failed"
    assert "'=HYPERLINK" in evil and "'+cmd" in evil and "'@x" in evil
    assert "'-1@example.com" in evil and "'\tsneaky" in evil
    plain = next(line for line in lines if "件名 3\"" in line)
    assert plain.split(",")[1] == "succeeded" and '"192.0.2.7"' in plain
    assert '"bounces+' in plain and "@bounce.localhost" in plain
    assert plain[:25].endswith("+09:00")
    only_failed = w.post("/v1/deliveries/download", password=PASSWORD, status="failed",
                         **_range(w))
    assert len(_unzip(only_failed.content)) == 2


def test_export_streams_in_chunks(world: World, tmp_path: Path) -> None:
    """More rows than one block still come out whole and in order (the rows are read and
    handed to the ZIP in blocks)."""
    from todoke.errorlog import deliverylog
    from todoke.errorlog.search import Scope

    w = world
    w.fill_mail(w.a, 25, events=False)
    criteria = deliverylog.parse_criteria(*_range(w).values())
    seen: list[int] = []
    rows = deliverylog.write_zip(w.store, Scope(w.a.organisation_id), criteria, PASSWORD,
                                 tmp_path / "d.zip", block=200, progress=seen.append)
    assert rows == 25 and sum(seen) == 25 and len(seen) > 2 and BLOCK > 200
    lines = _unzip((tmp_path / "d.zip").read_bytes())
    assert [line.split(",")[3] for line in lines[1:4]] == [
        '"user0@example.com"', '"user1@example.com"', '"user2@example.com"']


def test_partial_match_indexes(world: World) -> None:
    w = world
    ids = w.fill_mail(w.a, 30, rcpt=lambda i: f"someone{i:03d}@corp{i % 3}.example",
                      x_api_data=lambda i: f"batch-{i % 5}")
    assert _list(w, to="e017@corp2")["total"] == 1
    assert _list(w, to="corp1.")["total"] == 10
    assert _list(w, api_data="batch-4")["total"] == 6
    with w.store.session() as session:  # the indexes follow deletes too
        session.execute(text("DELETE FROM delivery_events WHERE delivery_id = :i"),
                        {"i": ids[1]})
        session.execute(text("DELETE FROM deliveries WHERE id = :i"), {"i": ids[1]})
    assert _list(w, to="corp1.")["total"] == 9
    with w.store.read() as session:
        if w.store.is_postgres:
            names = set(session.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename IN "
                "('deliveries', 'mail_messages')")).scalars())
            assert {"ix_deliveries_rcpt_trgm", "ix_mail_messages_api_data_trgm",
                    "ix_mail_messages_org_config_created"} <= names
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.execute(text(
                "EXPLAIN SELECT id FROM deliveries WHERE rcpt ILIKE '%corp1.%'")).scalars())
            assert "ix_deliveries_rcpt_trgm" in plan
        else:
            assert session.execute(text(
                "SELECT count(*) FROM deliveries_fts WHERE deliveries_fts MATCH "
                "'rcpt : \"corp1.\"'")).scalar() == 9
            assert session.execute(text(
                "SELECT count(*) FROM mail_messages_fts WHERE mail_messages_fts MATCH "
                "'x_api_data : \"batch-4\"'")).scalar() == 6


def test_old_route_still_works(world: World) -> None:
    w = world
    [delivery_id] = w.fill_mail(w.a, 1)
    body = w.get("/v1/mail/deliveries").json()
    assert [d["id"] for d in body["deliveries"]] == [delivery_id]
    assert w.get(f"/v1/mail/deliveries/{delivery_id}").json()["events"][0]["status"] == \
        "delivered"


def test_cli_deliveries_and_blocks(world: World, tmp_path: Path) -> None:
    w = world
    w.fill_mail(w.a, 12, rcpt=lambda i: f"cli{i}@example.com")
    w.fill_mail(w.b, 2)
    w.fill_blocks(w.a, ["blocked1@example.com", "blocked2@example.org"])
    w.fill_blocks(w.b, ["other@example.com"])
    env = gateway_env(tmp_path, w.store.url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "todoke.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    found = cli("deliveries", "search", "--account", "acme", "--start", w.today(-2), "--end",
                w.today(), "--to", "cli1", "--status", "succeeded", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["total"] == 3  # cli1, cli10, cli11
    bad = cli("deliveries", "search", "--account", "acme", "--start", w.today(), "--end",
              w.today(), "--status", "done")
    assert bad.returncode == 2 and "status" in bad.stderr
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    out = tmp_path / "deliveries.zip"
    done = cli("deliveries", "export", "--account", "acme", "--start", w.today(-2), "--end",
               w.today(), "--password-file", str(tmp_path / "pw"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert len(_unzip(out.read_bytes())) == 13
    blocks = cli("blocks", "search", "--account", "acme", "--email", "EXAMPLE.ORG", "--json")
    assert blocks.returncode == 0, blocks.stderr
    assert [b["email"] for b in json.loads(blocks.stdout)["blocks"]] == ["blocked2@example.org"]
    out = tmp_path / "blocks.zip"
    done = cli("blocks", "export", "--account", "acme", "--password-file",
               str(tmp_path / "pw"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = _unzip(out.read_bytes())
    assert lines[0] == "created,email,reason,removed" and len(lines) == 3

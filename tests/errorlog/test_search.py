"""Error log search over the API on both engines: filters, paging, the 100-hit rule, dates,
retention, tenant isolation, and partial match through the trigram index."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import pyzipper
from sqlalchemy import text

from todoke.errorlog.search import Criteria, Scope, fts_query, rare_window, search
from todoke.store.models import Organisation

from .conftest import World


def _range(w: World) -> dict[str, str]:
    return {"start_date": w.today(-2), "end_date": w.today()}


def test_filters_and_newest_first(world: World) -> None:
    w = world
    w.fill(w.a, 5)
    w.fill(w.a, 3, status=1, reason="hostunknown", to_addr=lambda i: f"x{i}@nohost.example",
           api_data=lambda i: f"campaign-42-{i}")
    body = w.get("/v1/errors", **_range(w)).json()
    assert body["total"] == 8 and body["shown"] == 8 and body["total_exact"]
    created = [e["created"] for e in body["errors"]]
    assert created == sorted(created, reverse=True)
    assert {e["status"] for e in w.get("/v1/errors", status=1, **_range(w)).json()["errors"]} \
        == {1}
    assert w.get("/v1/errors", status="1", **_range(w)).json()["total"] == 3
    assert w.get("/v1/errors", to="NOHOST", **_range(w)).json()["total"] == 3  # any case
    assert w.get("/v1/errors", to="user3@", **_range(w)).json()["total"] == 1
    assert w.get("/v1/errors", to="x1", **_range(w)).json()["total"] == 1  # < 3 chars: LIKE
    assert w.get("/v1/errors", api_data="campaign-42", **_range(w)).json()["total"] == 3
    assert w.get("/v1/errors", api_data="paign-42-2", status=1,
                 **_range(w)).json()["total"] == 1
    assert w.get("/v1/errors", to="%", **_range(w)).json()["total"] == 0  # no wildcards
    assert w.get("/v1/errors", to='"x', **_range(w)).json()["total"] == 0
    first = w.get("/v1/errors", **_range(w)).json()["errors"][0]
    assert set(first) >= {"created", "status", "reason", "from", "to", "messageId",
                          "returnPath", "subject", "apiData"}


def test_paging_and_the_100_rule(world: World) -> None:
    w = world
    w.fill(w.a, 130)
    body = w.get("/v1/errors", **_range(w)).json()
    assert body["total"] == 130 and body["shown"] == 100 and body["per_page"] == 10
    assert len(body["errors"]) == 10
    page2 = w.get("/v1/errors", page=2, **_range(w)).json()["errors"]
    assert page2[0]["to"] == "user10@example.com"
    assert len(w.get("/v1/errors", per_page=100, **_range(w)).json()["errors"]) == 100
    assert w.get("/v1/errors", per_page=101, **_range(w)).status_code == 422
    with w.store.read() as session:
        crit = Criteria(date.fromisoformat(w.today(-2)), date.fromisoformat(w.today()))
        screen = search(session, Scope(w.a.organisation_id), crit, page=10, screen=True)
        assert len(screen.rows) == 10
        assert search(session, Scope(w.a.organisation_id), crit, page=11, screen=True).rows == []
        assert len(search(session, Scope(w.a.organisation_id), crit, page=11).rows) == 10


@pytest.mark.parametrize("params, field", [
    ({"end_date": "2026-01-01"}, "start_date"),
    ({"start_date": "2026-01-01"}, "end_date"),
    ({"start_date": "2026/01/01", "end_date": "2026-01-02"}, "start_date"),
    ({"start_date": "2026-02-30", "end_date": "2026-03-01"}, "start_date"),
    ({"start_date": "2026-01-01", "end_date": "20260102"}, "end_date"),
    ({"start_date": "2026-01-10", "end_date": "2026-01-09"}, "end_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-03-01"}, "end_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-01-02", "status": "12"}, "status"),
    ({"start_date": "2026-01-01", "end_date": "2026-01-02", "status": "abc"}, "status"),
])
def test_date_and_field_validation(world: World, params: dict[str, str], field: str) -> None:
    response = world.get("/v1/errors", **params)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == field
    english = world.client.get("/v1/errors", params=params, headers={
        "Authorization": f"Bearer {world.a.admin_key}", "Accept-Language": "en"})
    assert english.json()["detail"]["message"].isascii()
    assert not response.json()["detail"]["message"].isascii()  # Japanese by default


def test_span_of_exactly_the_retention_is_allowed(world: World) -> None:
    assert world.get("/v1/errors", start_date="2026-01-01",
                     end_date="2026-02-10").status_code == 200


def test_retention_old_rows_never_returned(world: World) -> None:
    w = world
    w.fill(w.a, 2)
    w.fill(w.a, 3, created=lambda i: w.now - timedelta(days=40, hours=i + 1),
           to_addr="old@example.com")
    body = w.get("/v1/errors", start_date=w.today(-40), end_date=w.today()).json()
    assert body["total"] == 2
    assert all(e["to"] != "old@example.com" for e in body["errors"])
    with w.store.read() as session:
        old_id = session.execute(text(
            "SELECT id FROM error_log WHERE to_addr = 'old@example.com'")).scalar()
    assert w.get(f"/v1/errors/{old_id}").status_code == 404


def test_detail_has_every_field(world: World) -> None:
    w = world
    w.fill(w.a, 1)
    error_id = w.get("/v1/errors", **_range(w)).json()["errors"][0]["id"]
    body = w.get(f"/v1/errors/{error_id}").json()
    assert body["response"] == "550 5.1.1 no such user"
    for name in ("created", "reason", "status", "from", "returnPath", "to", "subject",
                 "messageId", "apiData"):
        assert name in body


def test_tenant_isolation_on_every_route(world: World) -> None:
    w = world
    w.fill(w.a, 3, to_addr=lambda i: f"a-admin{i}@example.com")
    w.fill(w.a, 2, user=True, to_addr=lambda i: f"a-user{i}@example.com")
    w.fill(w.a, 1, kind="fax", server_config_id=None, api_user_id=None, status=99,
           to_addr="0312345678")
    w.fill(w.b, 4, to_addr=lambda i: f"b{i}@example.com")
    a_admin = w.get("/v1/errors", **_range(w)).json()
    assert a_admin["total"] == 6  # its server configuration + the organisation's faxes
    assert not any(e["to"].startswith("b") for e in a_admin["errors"])
    a_user = w.get("/v1/errors", key=w.a.user_key, **_range(w)).json()
    assert a_user["total"] == 2
    assert all(e["to"].startswith("a-user") for e in a_user["errors"])
    b_body = w.get("/v1/errors", key=w.b.admin_key, **_range(w)).json()
    assert b_body["total"] == 4
    b_id = b_body["errors"][0]["id"]
    admin_only = next(e["id"] for e in a_admin["errors"] if e["to"].startswith("a-admin"))
    assert w.get(f"/v1/errors/{b_id}").status_code == 404
    assert w.get(f"/v1/errors/{b_id}", key=w.a.user_key).status_code == 404
    assert w.get(f"/v1/errors/{admin_only}", key=w.a.user_key).status_code == 404
    assert w.get(f"/v1/errors/{b_id}", key=w.b.admin_key).status_code == 200
    assert w.get("/v1/errors", key=w.b.admin_key, to="a-admin", **_range(w)).json()["total"] == 0
    assert w.client.get("/v1/errors", params=_range(w)).status_code == 401
    with w.store.session() as session:
        for org_id in (w.a.organisation_id, w.b.organisation_id):
            session.get_one(Organisation, org_id).download_allowed = True
    for key, expected in ((w.b.admin_key, 4), (w.a.user_key, 2), (w.a.admin_key, 6)):
        response = w.client.post("/v1/errors/download", json={
            **_range(w), "password": "correct horse"}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
        with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
            zf.setpassword(b"correct horse")
            lines = zf.read(zf.namelist()[0]).decode().splitlines()
        assert len(lines) == expected + 1


def test_partial_match_uses_the_trigram_index(world: World) -> None:
    w = world
    w.fill(w.a, 50, to_addr=lambda i: f"someone{i:03d}@corp{i % 5}.example")
    body = w.get("/v1/errors", to="e017@corp2", **_range(w)).json()
    assert [e["to"] for e in body["errors"]] == ["someone017@corp2.example"]
    assert w.get("/v1/errors", to="corp3.", **_range(w)).json()["total"] == 10
    with w.store.read() as session:
        if w.store.is_postgres:
            names = set(session.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'error_log'")).scalars())
            assert {"ix_error_log_to_trgm", "ix_error_log_api_data_trgm"} <= names
            session.execute(text("SET LOCAL enable_seqscan = off"))
            session.execute(text("SET LOCAL enable_indexscan = off"))
            plan = "\n".join(session.execute(text(
                "EXPLAIN SELECT id FROM error_log WHERE to_addr ILIKE '%corp3.%'")).scalars())
            assert "ix_error_log_to_trgm" in plan
        else:
            hits = session.execute(text(
                "SELECT count(*) FROM error_log_fts WHERE error_log_fts MATCH "
                "'to_addr : \"corp3.\"'")).scalar()
            assert hits == 10
            plan = " ".join(str(r) for r in session.execute(text(
                "EXPLAIN QUERY PLAN SELECT rowid FROM error_log_fts WHERE error_log_fts "
                "MATCH 'to_addr : \"corp3.\"'")))
            assert "VIRTUAL TABLE INDEX" in plan


def test_long_partial_match_is_exact_although_fts_gets_only_rare_trigrams(world: World) -> None:
    w = world
    # the three rarest trigrams of "ab1234z9@" are all in the decoy, in another order
    w.fill(w.a, 1, to_addr="ab1234z9@example.com")
    w.fill(w.a, 1, to_addr="x4z9-234-123@example.com")
    # on PostgreSQL the trigram index is asked for the rarest six characters only
    assert rare_window("ab1234z9@") == "1234z9"
    w.fill(w.a, 1, to_addr="q1234z9q@example.com")
    assert fts_query("to_addr", "ab1234z9@").count(" AND ") == 2
    hits = w.get("/v1/errors", to="AB1234Z9@", **_range(w)).json()
    assert [e["to"] for e in hits["errors"]] == ["ab1234z9@example.com"]
    with w.store.read() as session:
        if not w.store.is_postgres:  # the FTS part alone finds both: LIKE decides
            rows = session.execute(text(
                "SELECT count(*) FROM error_log_fts WHERE error_log_fts MATCH :q"),
                {"q": fts_query("to_addr", "ab1234z9@")}).scalar()
            assert rows == 3

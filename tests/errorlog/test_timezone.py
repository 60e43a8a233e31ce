"""Days in the organisation's zone on both engines: a row at 23:30 JST on day D is found by D,
not by D+1 (error log, delivery log, block list); another zone moves the boundaries; created
comes back as ISO 8601 with the zone's offset in the API and in the CSV, across a DST change
and for half-hour zones."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyzipper
from sqlalchemy import insert, select

from todoke.errorlog.export import created_cell, offsets
from todoke.errorlog.search import iso
from todoke.store.models import Organisation
from todoke.store.models_log import ErrorLog

from .conftest import Tenant, World

JST = ZoneInfo("Asia/Tokyo")


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC).replace(tzinfo=None)


def _day(w: World, days: int, zone: ZoneInfo = JST) -> date:
    return (w.now.replace(tzinfo=UTC).astimezone(zone) + timedelta(days=days)).date()


def _found(w: World, path: str, key: str, day: date, rows: str, **extra: Any) -> list[str]:
    response = w.get(path, key=key, start_date=day.isoformat(), end_date=day.isoformat(),
                     **extra)
    assert response.status_code == 200, response.text
    return [r.get("to") or r.get("email") for r in response.json()[rows]]


def _fill_edges(w: World, tenant: Tenant, day: date, zone: ZoneInfo) -> None:
    """A row at 23:30 on ``day`` and one at 00:30 the next day, in ``zone``, in each log."""
    late = _utc(day, time(23, 30), zone)
    early = _utc(day + timedelta(days=1), time(0, 30), zone)
    for when, name in ((late, "late"), (early, "early")):
        w.fill(tenant, 1, created=when, to_addr=f"{name}@example.com")
        w.fill_mail(tenant, 1, created=when, rcpt=f"{name}@example.com")
        w.fill_blocks(tenant, [f"{name}@example.com"], created=when)


def test_a_row_at_2330_jst_belongs_to_its_day(world: World) -> None:
    w = world
    day = _day(w, -2)
    _fill_edges(w, w.a, day, JST)
    for path, rows in (("/v1/errors", "errors"), ("/v1/deliveries", "deliveries"),
                       ("/v1/blocks", "blocks")):
        assert _found(w, path, w.a.admin_key, day, rows) == ["late@example.com"], path
        assert _found(w, path, w.a.admin_key, day + timedelta(days=1), rows) == [
            "early@example.com"], path
    [late] = w.get("/v1/errors", start_date=day.isoformat(), end_date=day.isoformat()
                   ).json()["errors"]
    assert late["created"] == f"{day.isoformat()}T23:30:00+09:00"
    detail = w.get(f"/v1/errors/{late['id']}").json()
    assert detail["created"] == late["created"]
    [delivery] = w.get("/v1/deliveries", start_date=day.isoformat(),
                       end_date=day.isoformat()).json()["deliveries"]
    assert delivery["created"] == f"{day.isoformat()}T23:30:00+09:00"


def test_another_zone_moves_the_boundaries(world: World) -> None:
    w = world
    zone = ZoneInfo("America/New_York")
    with w.store.session() as session:
        session.get_one(Organisation, w.b.organisation_id).timezone = "America/New_York"
    day = _day(w, -2, zone)
    _fill_edges(w, w.b, day, zone)
    for path, rows in (("/v1/errors", "errors"), ("/v1/deliveries", "deliveries"),
                       ("/v1/blocks", "blocks")):
        assert _found(w, path, w.b.admin_key, day, rows) == ["late@example.com"], path
    [late] = w.get("/v1/errors", key=w.b.admin_key, start_date=day.isoformat(),
                   end_date=day.isoformat()).json()["errors"]
    offset = datetime.combine(day, time(23, 30), zone).strftime("%z")
    assert late["created"] == f"{day.isoformat()}T23:30:00{offset[:3]}:{offset[3:]}"
    # Tokyo's organisation is not affected by the other one's zone
    _fill_edges(w, w.a, day, JST)
    assert _found(w, "/v1/errors", w.a.admin_key, day, "errors") == ["late@example.com"]


def test_csv_created_has_the_offset(world: World) -> None:
    w = world
    day = _day(w, -2)
    _fill_edges(w, w.a, day, JST)
    w.grant(w.a)
    response = w.post("/v1/errors/download", password="zone-pass-1",
                      start_date=day.isoformat(), end_date=(day + timedelta(days=1)).isoformat())
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"zone-pass-1")
        lines = zf.read(zf.namelist()[0]).decode().splitlines()
    next_day = (day + timedelta(days=1)).isoformat()
    assert [line.split(",")[0] for line in lines[1:]] == [
        f"{next_day}T00:30:00+09:00", f"{day.isoformat()}T23:30:00+09:00"]


def _sql_created(w: World, zone: ZoneInfo, times: list[datetime]) -> list[str]:
    with w.store.session() as session:
        session.execute(insert(ErrorLog), [{
            "created": t, "organisation_id": w.a.organisation_id, "kind": "mail", "status": 2,
            "reason": "", "from_addr": "", "return_path": "", "to_addr": f"t{i}",
            "subject": "", "message_id": "", "api_data": "", "response": ""}
            for i, t in enumerate(times)])
    low, high = min(times) - timedelta(days=2), max(times) + timedelta(days=2)
    with w.store.read() as session:
        return list(session.scalars(
            select(created_cell(ErrorLog.created, w.store.dialect, zone, low, high))
            .order_by(ErrorLog.created)))


def test_dst_change_and_half_hour_zones_in_sql(world: World) -> None:
    w = world
    new_york = ZoneInfo("America/New_York")  # EDT -> EST at 06:00 UTC on 2026-11-01
    times = [datetime(2026, 11, 1, 5, 30, 15, 123456), datetime(2026, 11, 1, 5, 59, 59),
             datetime(2026, 11, 1, 6, 0, 0), datetime(2026, 11, 1, 6, 30, 15)]
    spans = offsets(new_york, datetime(2026, 10, 30), datetime(2026, 11, 3))
    assert spans == [(datetime(2026, 11, 1, 6, 0), -4 * 3600), (None, -5 * 3600)]
    expected = [iso(t, new_york) for t in times]
    assert expected[0] == "2026-11-01T01:30:15-04:00"
    assert expected[3] == "2026-11-01T01:30:15-05:00"
    assert _sql_created(w, new_york, times) == expected
    with w.store.session() as session:
        session.execute(ErrorLog.__table__.delete())
    st_johns = ZoneInfo("America/St_Johns")  # -03:30 in winter
    kolkata_times = [datetime(2026, 12, 24, 20, 0)]
    assert _sql_created(w, st_johns, kolkata_times) == ["2026-12-24T16:30:00-03:30"]
    with w.store.session() as session:
        session.execute(ErrorLog.__table__.delete())
    assert _sql_created(w, ZoneInfo("Asia/Kolkata"), kolkata_times) == [
        "2026-12-25T01:30:00+05:30"]

"""Retention: purge deletes rows past the retention in batches and keeps the rest; the
SQLite trigram table follows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from todoke.errorlog.retention import purge
from todoke.store.models_log import ErrorLog

from .conftest import World


def test_purge_in_batches(world: World) -> None:
    w = world
    w.fill(w.a, 5, to_addr=lambda i: f"keep{i}@example.com")
    w.fill(w.a, 23, created=lambda i: w.now - timedelta(days=41, minutes=i),
           to_addr=lambda i: f"old{i}@example.com")
    w.fill(w.b, 4, created=lambda i: w.now - timedelta(days=40, minutes=1 + i))
    batches: list[int] = []
    assert purge(w.store, days=40, batch=10, progress=batches.append) == 27
    assert batches == [10, 10, 7]
    with w.store.read() as session:
        assert session.scalar(select(func.count()).select_from(ErrorLog)) == 5
        if not w.store.is_postgres:
            assert session.execute(text(
                "SELECT count(*) FROM error_log_fts WHERE error_log_fts MATCH "
                "'to_addr : \"old\"'")).scalar() == 0
            assert session.execute(text(
                "SELECT count(*) FROM error_log_fts WHERE error_log_fts MATCH "
                "'to_addr : \"keep\"'")).scalar() == 5
    assert purge(w.store, days=40, batch=10) == 0

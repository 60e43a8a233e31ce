"""Search on PostgreSQL: the part of a partial-match value the trigram index is asked for
(errorlog/trigrams.py), and that the answer stays exact whatever part is chosen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from todoke.accounts import create_account
from todoke.errorlog import trigrams
from todoke.errorlog.search import Criteria, Scope, search
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_log import ErrorLog


def test_like_trigrams_follow_pg_trgm() -> None:
    # a word touching the % is not padded; one bounded by another character is
    assert trigrams.like_trigrams("d17.") == {"d17", "17 "}
    assert trigrams.like_trigrams("@d17.ex") == {"  d", " d1", "d17", "17 ", "  e", " ex"}
    assert trigrams.like_trigrams("ab") == set()
    assert trigrams.like_trigrams("User12") == {"use", "ser", "er1", "r12"}


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tuple[Store, int]]:
    store = Store(postgres_url)
    store.migrate()
    with store.session() as session:
        org = create_account(session, "trgm", []).organisation.id
    now = utcnow()
    rows = [{"created": now - timedelta(minutes=i), "organisation_id": org, "kind": "mail",
             "status": 2, "reason": "", "from_addr": "", "return_path": "",
             "to_addr": f"user{i}@d{i % 50}.example", "subject": "", "message_id": "",
             "api_data": "", "response": ""} for i in range(3000)]
    with store.session() as session:
        session.execute(insert(ErrorLog), rows)
    trigrams._samples.clear()
    yield store, org
    store.dispose()


def test_pg_trgm_itself_agrees(pg: tuple[Store, int]) -> None:
    """Our extraction for a whole stored value equals show_trgm's (the sample's source)."""
    store, _ = pg
    with store.read() as session:
        shown = set(session.scalar(text("SELECT show_trgm('user7@d7.example')")) or [])
    # a stored value is one pattern bounded on both sides
    assert trigrams.like_trigrams(" user7@d7.example ") == shown


def test_window_avoids_word_starts_every_row_has(pg: tuple[Store, int]) -> None:
    store, org = pg
    with store.read() as session:
        shares, _ = trigrams.frequencies(session, "error_log", "to_addr")
        assert shares["  d"] == 1.0 and shares[" ex"] == 1.0  # every address has them
        window = trigrams.best_window(session, ErrorLog.to_addr, "@d17.ex")
    assert window is not None and window in "@d17.ex"
    assert not trigrams.like_trigrams(window) & {"  d", "  e", " ex", " d1"}
    today = utcnow().date()
    with store.read() as session:
        page = search(session, Scope(org), Criteria(today - timedelta(days=5),
                                                    today + timedelta(days=1), to="@d17.ex"),
                      1, 10)
    # exact: d17 only, not d1 / d7 / d170…; 3000 rows over 50 domains = 60 each
    assert page.total == 60
    assert all(row.to_addr.endswith("@d17.example") for row in page.rows)


def test_without_pg_trgm_the_search_still_answers(pg: tuple[Store, int]) -> None:
    """A server without the extension (its migration only warned): no sample, no window,
    the search scans and stays exact."""
    store, org = pg
    with store.session() as session:
        session.execute(text("DROP EXTENSION pg_trgm CASCADE"))
    trigrams._samples.clear()
    today = utcnow().date()
    with store.read() as session:
        assert trigrams.best_window(session, ErrorLog.to_addr, "@d17.ex") is None
        page = search(session, Scope(org), Criteria(today - timedelta(days=5),
                                                    today + timedelta(days=1), to="@d17.ex"),
                      1, 10)
    assert page.total == 60

"""Store: the two engines (embedded SQLite in WAL mode, PostgreSQL) and the unit of work.

SQLite: every write transaction starts with BEGIN IMMEDIATE, so writers queue on the database
lock instead of failing on upgrade, and a crash loses nothing committed (WAL); they queue first
on todoke's own lock (store/writelock.py), which hands the database on without SQLite's
sleeps. PostgreSQL: a pool,
and row locks (FOR UPDATE SKIP LOCKED) for claiming work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from todoke.store import writelock


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or opened."""


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with todoke's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        if parsed.database and parsed.database != ":memory:":
            writelock.install(engine, f"{parsed.database}-write.lock")
            return engine

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            readonly = conn.get_execution_options().get("todoke_readonly")
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    # psycopg prepares a statement after 5 runs, and PostgreSQL's generic plan for it cannot
    # see a LIKE pattern, so trigram indexes go unused (a 2 ms search took 125 ms): always
    # plan with the actual values.
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                         connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


class Store:
    """The database of one todoke installation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(todoke_readonly=True), expire_on_commit=False
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: on SQLite it does not take the write lock."""
        with self._readers.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to run from many processes)."""
        from todoke.store.migrate import upgrade

        upgrade(self.engine)

    def check(self) -> None:
        """Raise StoreUnavailable with the reason when the database cannot be used."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(str(exc.orig) if hasattr(exc, "orig") else str(exc)) from exc

    def dispose(self) -> None:
        self.engine.dispose()

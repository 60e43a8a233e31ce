"""SQLite writers queue on todoke's own lock (store/writelock.py): it is let go after COMMIT,
after ROLLBACK and when a connection goes back to the pool mid-transaction; it excludes
other processes, forked children included; readers never take it."""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from sqlalchemy import text

from todoke.store.db import Store
from todoke.store.writelock import WriteLock


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'lock.db'}")
    with store.session() as session:
        session.execute(text("CREATE TABLE n (v INTEGER)"))
    return store


def _writes_soon(store: Store, seconds: float = 5.0) -> bool:
    """Whether another thread can write within ``seconds``."""
    done = threading.Event()

    def write() -> None:
        with store.session() as session:
            session.execute(text("INSERT INTO n VALUES (1)"))
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(seconds)


def test_let_go_after_commit_rollback_and_error(store: Store) -> None:
    with store.session() as session:
        session.execute(text("INSERT INTO n VALUES (1)"))
    assert _writes_soon(store)
    with pytest.raises(RuntimeError), store.session() as session:
        session.execute(text("INSERT INTO n VALUES (2)"))
        raise RuntimeError("boom")
    assert _writes_soon(store)
    with store.engine.connect() as conn:  # a connection closed mid-transaction
        conn.begin()
        conn.execute(text("INSERT INTO n VALUES (3)"))
    assert _writes_soon(store)
    with store.read() as session:
        assert session.scalar(text("SELECT count(*) FROM n WHERE v IN (2, 3)")) == 0


def test_readers_do_not_wait_for_a_writer(store: Store) -> None:
    with store.session() as session:
        session.execute(text("INSERT INTO n VALUES (1)"))
        seen = []
        reader = threading.Thread(target=lambda: seen.append(_count(store)))
        reader.start()
        reader.join(5)
        assert seen == [0]  # not blocked, and it sees the committed state only


def _count(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(text("SELECT count(*) FROM n")) or 0)


def _child_tries(lock: WriteLock, out: Connection) -> None:
    done = threading.Event()

    def take() -> None:
        lock.acquire()
        done.set()

    threading.Thread(target=take, daemon=True).start()
    out.send(done.wait(0.5))  # must not get it while the parent holds it
    out.send(done.wait(10))  # and gets it once the parent lets go
    os._exit(0)


def test_excludes_a_forked_child(store: Store, tmp_path: Path) -> None:
    """A child forked while its parent holds the lock inherits the lock object: it must open
    the lock file itself (a descriptor shared with the parent would let both hold flock at
    once) and not inherit the parent's thread lock as held. (SQLite itself forbids forking
    inside a transaction, so the parent holds the lock alone here.)"""
    lock = WriteLock(str(tmp_path / "x-write.lock"))
    ctx = multiprocessing.get_context("fork")
    out, into = ctx.Pipe(duplex=False)
    lock.acquire()
    try:
        process = ctx.Process(target=_child_tries, args=(lock, into))
        process.start()
        assert out.poll(10) and out.recv() is False
    finally:
        lock.release()
    assert out.poll(15) and out.recv() is True
    process.join(10)


def test_nested_write_in_one_thread_does_not_hang(tmp_path: Path) -> None:
    """A write transaction opened inside another in the same thread gets todoke's lock again
    and meets SQLite's own lock (busy), as it would without todoke's: an error, not a hang."""
    store = Store(f"sqlite:///{tmp_path / 'nested.db'}")
    with store.session() as session:
        session.execute(text("CREATE TABLE n (v INTEGER)"))
    outcome: list[str] = []

    def nested() -> None:
        with store.session() as outer:
            outer.execute(text("INSERT INTO n VALUES (1)"))
            try:
                with store.engine.connect() as conn:
                    # SQLite's wait, shortened for the test (the driver, so no BEGIN yet)
                    conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=100")
                    with conn.begin():
                        conn.exec_driver_sql("INSERT INTO n VALUES (2)")
                outcome.append("wrote")
            except Exception as exc:  # database is locked
                outcome.append(type(exc).__name__)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive() and outcome == ["OperationalError"]
    assert _writes_soon(store)
    store.dispose()

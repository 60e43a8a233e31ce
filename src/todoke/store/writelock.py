"""Store, SQLite: one writer at a time across threads and processes, handed on at once.

SQLite lets one connection write at a time. A second ``BEGIN IMMEDIATE`` waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10 … 100 ms between tries, so under load (the SMTP processes'
group commits and the worker's, side by side) a waiting writer sleeps far longer than the
writer before it held the lock, and the cores idle. todoke's writers queue on a lock of their
own before ``BEGIN IMMEDIATE`` instead: a thread lock within the process and ``flock(2)`` on
``<database>-write.lock`` across processes; the kernel wakes the next writer the moment the
lock is let go, which is right after COMMIT or ROLLBACK. A process that dies lets go of it with
its descriptor. Writers from outside todoke still meet SQLite's own busy handler.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event

_HELD = "todoke_write_lock"
_locks: weakref.WeakSet[WriteLock] = weakref.WeakSet()


class WriteLock:
    """Exclusive across the threads of a process and across processes (by file). A thread
    that already holds it (a write transaction opened inside another) gets it again; its
    BEGIN IMMEDIATE then meets SQLite's own lock, as it would without this one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        _locks.add(self)

    def acquire(self) -> None:
        self._thread.acquire()
        try:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                       0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._thread.release()
            raise

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def _after_fork(self) -> None:
        # the child must not share the parent's open file (flock belongs to it, so the two
        # would not exclude each other), nor inherit a thread lock held by a parent's thread
        self._thread = threading.RLock()
        self._depth = 0
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _reset_after_fork() -> None:
    for lock in list(_locks):
        lock._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def install(engine: Engine, path: str) -> WriteLock:
    """Make every write transaction of ``engine`` (``BEGIN IMMEDIATE``) take ``path``'s lock
    first and let go of it once its COMMIT or ROLLBACK is done."""
    lock = WriteLock(path)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get("todoke_readonly"):
            conn.exec_driver_sql("BEGIN")
            return
        info = conn.connection.info
        if not info.get(_HELD):
            lock.acquire()
            info[_HELD] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _let_go(info)
            raise

    def _let_go(info: dict[str, Any]) -> None:
        if info.pop(_HELD, False):
            lock.release()

    def _end(conn: Any, how: str) -> None:
        # SQLAlchemy calls this before its own COMMIT / ROLLBACK; ending the transaction here
        # (its own then finds none and does nothing) lets the lock go only once it is over
        info = conn.connection.info
        if not info.get(_HELD):
            return
        try:
            getattr(conn.connection.dbapi_connection, how)()
        finally:
            _let_go(info)

    event.listen(engine, "commit", lambda conn: _end(conn, "commit"))
    event.listen(engine, "rollback", lambda conn: _end(conn, "rollback"))

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn: Any, record: Any, state: Any) -> None:
        # a connection handed back to the pool mid-transaction (its rollback is the pool's)
        if record is not None and record.info.get(_HELD):
            try:
                dbapi_conn.rollback()
            finally:
                _let_go(record.info)

    return lock

"""Bench support: what several benches need — a free port, a fresh PostgreSQL database, a
started gateway. Benches run as scripts (``python bench/x.py``), so this folder is on sys.path.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import create_engine, make_url, text

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_base(default: str | None = LOCAL_POSTGRES) -> str | None:
    """TODOKE_BENCH_POSTGRES_URL, else TODOKE_TEST_POSTGRES_URL, else ``default``."""
    return (os.environ.get("TODOKE_BENCH_POSTGRES_URL")
            or os.environ.get("TODOKE_TEST_POSTGRES_URL") or default)


@contextmanager
def fresh_postgres(base: str, prefix: str = "todoke_bench_") -> Iterator[str]:
    """The URL of a new, empty database made from ``base``; dropped afterwards."""
    name = prefix + uuid.uuid4().hex[:8]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def kept_postgres(base: str, name: str) -> str:
    """The URL of database ``name`` made from ``base``, created when missing and kept
    afterwards (benches reuse what an earlier run filled)."""
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def wait_healthy(http_port: int, timeout: float = 30) -> None:
    """Wait until a started gateway answers /healthz."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the gateway did not start")

"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 that keeps every post (and can be told
to fail or stall), two tenants in the store, and a helper that runs dispatchers until a
condition holds."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from todoke.accounts import add_api_user, create_account
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models import ServerConfig
from todoke.webhooks.dispatch import WebhookDispatcher


@dataclass
class Post:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float
    stalled: bool = False  # answered after the client's timeout: it counts as failed

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_ids(self) -> list[int]:
        return [e["event_id"] for e in self.json["events"]]


@dataclass
class Receiver:
    """An HTTP server that records every POST. ``fail_first`` posts are answered
    ``fail_status``; ``stall_first`` posts wait ``stall_seconds`` before answering."""

    port: int = 0
    posts: list[Post] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    stall_first: int = 0
    stall_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        with self.lock:
            index = len(self.posts)
            status = self.fail_status if index < self.fail_first else 200
            stall = self.stall_seconds if index < self.stall_first else 0.0
            self.posts.append(Post(path, headers, body, status, time.monotonic(), bool(stall)))
        return status, stall

    def ok_posts(self, path: str | None = None) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.status == 200 and not p.stalled
                    and (path is None or p.path == path)]

    def ok_events(self, path: str | None = None) -> list[dict[str, Any]]:
        return [e for p in self.ok_posts(path) for e in p.json["events"]]

    def count(self) -> int:
        with self.lock:
            return len(self.posts)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status, stall = state.answer(self.path, dict(self.headers.items()), body)
            if stall:
                time.sleep(stall)
            payload = b'{"ok": true}' if status == 200 else b"receiver says no"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.server = server
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Tenant:
    organisation_id: int
    server_config_id: int
    admin_key: str
    user_key: str


def make_tenant(store: Store, name: str) -> Tenant:
    with store.session() as session:
        created = create_account(session, name, [])
        config = session.query(ServerConfig).filter_by(
            organisation_id=created.organisation.id).one()
        _user, key = add_api_user(session, config, "user")
        session.flush()
        return Tenant(created.organisation.id, config.id, created.api_key, key)


@pytest.fixture
def tenants(store: Store) -> tuple[Tenant, Tenant]:
    return make_tenant(store, "acme"), make_tenant(store, "other")


def make_settings(store: Store, tmp_path: Path, minute_seconds: float = 0.01) -> Settings:
    return Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path / "data"),
                              "TODOKE_DATABASE_URL": store.url,
                              "TODOKE_MINUTE_SECONDS": str(minute_seconds)})


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> Settings:
    return make_settings(store, tmp_path)


def run_dispatchers(dispatchers: list[WebhookDispatcher], until: Callable[[], bool],
                    timeout: float = 15.0, linger: float = 0.0) -> float:
    """Run ``dispatchers`` until ``until()`` holds (then ``linger`` seconds more, to catch
    anything extra); returns the seconds it took. Fails on timeout."""

    async def main() -> float:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
        start = time.monotonic()
        try:
            while not until():
                if time.monotonic() - start > timeout:
                    raise AssertionError("webhook posts not as expected in time")
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.02)
            took = time.monotonic() - start
            if linger:
                await asyncio.sleep(linger)
            return took
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    return asyncio.run(main())

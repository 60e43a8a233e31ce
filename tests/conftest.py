"""Shared fixtures: both engines, a real SMTP sink on 127.0.0.1, and a running gateway.

``database_url`` runs a test on a SQLite file and on a fresh PostgreSQL database made from
TODOKE_TEST_POSTGRES_URL (skipped only outside CI when that variable is unset).
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, text

from todoke.store.db import Store

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_base_url() -> str | None:
    url = os.environ.get("TODOKE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TODOKE_TEST_POSTGRES_URL must be set in CI")
        pytest.skip("TODOKE_TEST_POSTGRES_URL not set")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    base = postgres_base_url()
    assert base
    name = "todoke_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'todoke.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.dispose()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    reply: str = "250 OK"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return self.reply

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"sink got {len(self.received)} mails, expected {count}")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Gateway:
    """``todoke serve`` in a subprocess, with helpers to drive it from a test."""

    env: dict[str, str]
    smtp_port: int
    http_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    api_key: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_simulator(self, plan: dict[str, Any]) -> None:
        path = Path(self.env["TODOKE_FAX_SIMULATOR"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(plan))
        tmp.replace(path)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "todoke.cli", *args], env=self.env, capture_output=True,
            text=True, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"todoke {' '.join(args)} failed: {result.stderr}")
        return result

    def create_account(self, name: str, *senders: str) -> str:
        args = ["accounts", "create", name, "--json"]
        for sender in senders:
            args += ["--sender", sender]
        return str(json.loads(self.cli(*args).stdout)["api_key"])

    def start(self, *extra: str) -> Gateway:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "todoke.cli", "serve", *extra], env=self.env,
            stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def send(self, sender: str, recipients: list[str], subject: str = "test",
             body: str = "Hello fax\n", headers: dict[str, str] | None = None) -> str:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = subject
        for name, value in (headers or {}).items():
            msg[name] = value
        msg.set_content(body)
        return self.send_raw(sender, recipients,
                             msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))

    def send_raw(self, sender: str, recipients: list[str], raw: bytes) -> str:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(sender)
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code >= 400:
                    return f"{code} {reply.decode()}"
            code, reply = smtp.data(raw)
            return f"{code} {reply.decode()}"

    def api(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.api_key}"}
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kw)

    def jobs(self, key: str | None = None) -> list[dict[str, Any]]:
        response = self.api("GET", "/v1/fax/jobs?per_page=500", key)
        assert response.status_code == 200, response.text
        return list(response.json()["jobs"])

    def wait_jobs_final(self, count: int, key: str | None = None,
                        timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        jobs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            jobs = self.jobs(key)
            if len(jobs) >= count and all(j["status"] in ("done", "failed") for j in jobs):
                return jobs
            time.sleep(0.1)
        raise AssertionError(f"jobs not final in time: {jobs}")


def gateway_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_")}
    env.update({
        "TODOKE_DATA_DIR": str(tmp_path / "data"),
        "TODOKE_DATABASE_URL": database_url,
        "TODOKE_MINUTE_SECONDS": "0.05",
        "TODOKE_LOG_LEVEL": "info",
    })
    env.update(extra)
    return env


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Any]:
    """Build gateways (not started) on a database URL; all are stopped at the end."""
    made: list[Gateway] = []

    def make(database_url: str, simulator: dict[str, Any] | None = None,
             **extra: str) -> Gateway:
        smtp_port, http_port = free_port(), free_port()
        sim = tmp_path / f"simulator-{len(made)}.json"
        sim.write_text(json.dumps(simulator or {}))
        extra.setdefault("TODOKE_FAX_SIMULATOR", str(sim))
        env = gateway_env(tmp_path, database_url,
                          TODOKE_SMTP_LISTEN=f"127.0.0.1:{smtp_port}",
                          TODOKE_HTTP_LISTEN=f"127.0.0.1:{http_port}", **extra)
        gateway = Gateway(env, smtp_port, http_port, tmp_path / f"serve-{len(made)}.log")
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.stop()

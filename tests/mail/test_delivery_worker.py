"""The mail worker in-process on both engines: connection reuse, the per-domain limit,
blocking at claim time; the bounce mailbox: matching by Message-ID, unmatched bounces kept."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from todoke.accounts import create_account
from todoke.config import Settings
from todoke.mail.bounces import BounceMailbox, quoted_message_ids, verp_tokens
from todoke.mail.delivery import outcome
from todoke.mail.delivery.worker import MailWorker
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_mail import (
    BounceAudit,
    Delivery,
    DeliveryEvent,
    MailMessage,
    Suppression,
)

RAW = (b"From: shop@example.jp\r\nTo: x@example.net\r\nSubject: hi\r\n"
       b"Message-ID: <m1@example.jp>\r\n\r\nhello\r\n")


@dataclass
class SlowSink:
    """Accepts everything, 50 ms per DATA; counts connections and concurrent DATA."""

    sessions: set[int] = field(default_factory=set)
    rcpts: list[str] = field(default_factory=list)
    active: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        with self.lock:
            self.sessions.add(id(session))
            self.rcpts.append(address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.active += 1
        self.most = max(self.most, self.active)
        await asyncio.sleep(0.05)
        self.active -= 1
        return "250 2.0.0 Ok"


@pytest.fixture
def slow_sink() -> Iterator[tuple[SlowSink, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _queue(store: Store, rcpts: list[str], name: str = "acme",
           message_id: str = "<m1@example.jp>") -> tuple[int, list[int]]:
    """A message with one queued delivery per recipient; (server config id, delivery ids)."""
    with store.session() as session:
        account = create_account(session, name, [])
        config = account.organisation.server_configs[0]
        message = MailMessage(organisation_id=account.organisation.id,
                              server_config_id=config.id, mail_from="shop@example.jp",
                              subject="hi", message_id=message_id, raw=RAW, size=len(RAW))
        session.add(message)
        session.flush()
        rows = [Delivery(message_id=message.id, rcpt=r, domain=r.rpartition("@")[2],
                         verp_token=secrets.token_hex(12)) for r in rcpts]
        session.add_all(rows)
        session.flush()
        return config.id, [d.id for d in rows]


def _run_worker(store: Store, settings: Settings, ids: list[int], timeout: float = 60) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        worker = MailWorker(settings, store)
        task = asyncio.create_task(worker.run(stop))
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with store.read() as session:
                statuses = session.scalars(
                    select(Delivery.status).where(Delivery.id.in_(ids))).all()
            if all(s in outcome.FINAL for s in statuses):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())


def _settings(store: Store, port: int) -> Settings:
    return Settings.from_env({"TODOKE_DATABASE_URL": store.url,
                              "TODOKE_RELAY": f"127.0.0.1:{port}",
                              "TODOKE_MINUTE_SECONDS": "0.01"})


def test_connections_reused_within_the_domain_limit(store: Store, slow_sink: Any) -> None:
    sink, port = slow_sink
    rcpts = [f"user{i}@example.net" for i in range(40)] + ["blocked@example.net"]
    config_id, ids = _queue(store, rcpts)
    with store.session() as session:  # suppressed after it was queued: blocked at claim
        outcome.suppress(session, config_id, "Blocked@Example.net", "userunknown", None)
        outcome.suppress(session, config_id, "blocked@example.net", "userunknown", None)
        assert len(session.scalars(select(Suppression)).all()) == 1
    _run_worker(store, _settings(store, port), ids)
    with store.read() as session:
        rows = {d.rcpt: d for d in session.scalars(select(Delivery))}
        assert {d.status for r, d in rows.items() if r != "blocked@example.net"} == {
            "delivered"}
        blocked = rows["blocked@example.net"]
        assert (blocked.status, blocked.error_status, blocked.reason, blocked.attempts) == (
            "blocked", 10, "suppressed", 0)
        events = session.scalars(select(DeliveryEvent.status)).all()
        assert sorted(set(events)) == ["blocked", "delivered"] and len(events) == 41
    assert "blocked@example.net" not in sink.rcpts
    assert len(sink.rcpts) == 40
    assert 2 <= sink.most <= 4
    assert len(sink.sessions) <= 4  # four lanes, each one connection for ten mails


DSN = (
    "From: MAILER-DAEMON@mx.example.net\r\nTo: postmaster@bounce.localhost\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn@mx.example.net>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
    "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.net\r\n\r\n"
    "Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.2.2\r\n"
    "Diagnostic-Code: smtp; 552 5.2.2 <{rcpt}>: Mailbox full\r\n\r\n"
    "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    "From: shop@example.jp\r\nTo: {rcpt}\r\nMessage-ID: {message_id}\r\n\r\n--B--\r\n"
)


def test_bounce_matched_by_message_id_and_unmatched_kept(store: Store) -> None:
    _, ids = _queue(store, ["a@example.net", "b@example.net"], message_id="<q7@example.jp>")
    mailbox = BounceMailbox(Settings.from_env({}), store)
    raw = DSN.format(rcpt="b@example.net", message_id="<q7@example.jp>").encode()
    assert quoted_message_ids(raw) == ["<q7@example.jp>"]
    reply = asyncio.run(mailbox.accept_bounce(raw, ["postmaster@bounce.localhost"]))
    assert reply.startswith("250")
    stray = DSN.format(rcpt="c@example.net", message_id="<nobody@example.jp>").encode()
    assert asyncio.run(mailbox.accept_bounce(stray, ["bounces+ffff0000ffff0000@bounce.localhost"]
                                             )).startswith("250")
    not_a_bounce = b"From: a@example.net\r\nSubject: hello\r\n\r\njust mail\r\n"
    assert asyncio.run(mailbox.accept_bounce(not_a_bounce, ["x@bounce.localhost"])
                       ).startswith("250")
    with store.read() as session:
        a, b = (session.get_one(Delivery, i) for i in ids)
        assert a.status == "queued"
        assert (b.status, b.reason, b.error_status, b.hardbounce) == (
            "failed", "mailboxfull", 5, False)
        assert "Mailbox full" in b.last_reply and b.completed is not None
        audit = session.scalars(select(BounceAudit).order_by(BounceAudit.id)).all()
        assert [(x.matched, x.delivery_id) for x in audit] == [
            (True, b.id), (False, None), (False, None)]
        assert audit[1].reason == "mailboxfull" and audit[2].raw == not_a_bounce
        assert session.scalars(select(Suppression)).all() == []  # soft: not suppressed


def test_verp_tokens() -> None:
    assert verp_tokens(["Bounces+ABCdef0123456789@bounce.localhost", "x@bounce.localhost"]) == [
        "abcdef0123456789"]


def test_bounce_store_failure_is_temporary(store: Store, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    mailbox = BounceMailbox(Settings.from_env({}), store)

    def broken(*args: Any) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr(mailbox, "_record", broken)
    raw = DSN.format(rcpt="b@example.net", message_id="<q7@example.jp>").encode()
    assert asyncio.run(mailbox.accept_bounce(raw, ["postmaster@bounce.localhost"])
                       ).startswith("451")


def test_lease_of_a_dead_worker_runs_out(store: Store) -> None:
    from todoke.queue import claims

    _, ids = _queue(store, ["a@example.net"])
    with store.session() as session:
        assert claims.claim(session, Delivery, ("queued", "deferred"), 10, "t1") == ids
        session.get_one(Delivery, ids[0]).lease_until = utcnow()
    with store.session() as session:
        assert claims.release_expired(session, Delivery, back_to="deferred") == 1
        assert claims.claim(session, Delivery, ("queued", "deferred"), 10, "t2") == ids
        assert not outcome.apply(session, ids[0], "t1", outcome.blocked("a@example.net"))


@dataclass
class TlsSink:
    """Offers STARTTLS; remembers whether each mail came over TLS."""

    tls: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tls.append(session.ssl is not None)
        return "250 2.0.0 Ok"


def test_starttls_when_offered(store: Store, tmp_path: Any) -> None:
    import ssl

    from todoke.ingest.tls import self_signed

    cert, key = self_signed(tmp_path, "mx.example.net")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    sink = TlsSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        _, ids = _queue(store, ["a@example.net", "b@example.net"])
        _run_worker(store, _settings(store, port), ids)
    finally:
        controller.stop()
    assert sink.tls == [True, True]  # self-signed: opportunistic TLS does not verify
    with store.read() as session:
        assert {d.status for d in session.scalars(select(Delivery))} == {"delivered"}


def test_next_mail_goes_out_while_outcomes_commit(store: Store, slow_sink: Any) -> None:
    """A lane sends its next mail without waiting for the outcome of the one before to be
    committed (group commit); the outcomes are all written once the database lets them."""
    sink, port = slow_sink
    rcpts = [f"user{i}@example.net" for i in range(20)]
    _, ids = _queue(store, rcpts)
    holding, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def block_commits() -> None:
        while not sink.rcpts:  # the claim is committed once the first mail is under way
            time.sleep(0.002)
        with store.session() as session:
            if store.is_postgres:  # the outcomes' locked read waits for these row locks
                session.execute(select(Delivery.id).where(Delivery.id.in_(ids))
                                .with_for_update())
            else:  # the write lock, which every outcome commit needs
                session.execute(text("SELECT 1"))
            holding.set()
            release.wait(30)

    def let_go_when_all_sent() -> None:
        holding.wait(10)
        deadline = time.monotonic() + 10
        while len(sink.rcpts) < len(rcpts) and time.monotonic() < deadline:
            time.sleep(0.01)
        with store.read() as session:
            seen.append(len(sink.rcpts))
            seen.append(session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.status == "delivered")) or 0)
        release.set()

    threads = [threading.Thread(target=block_commits),
               threading.Thread(target=let_go_when_all_sent)]
    for thread in threads:
        thread.start()
    _run_worker(store, _settings(store, port), ids)
    for thread in threads:
        thread.join(30)
    assert seen[0] == 20  # every mail went out while the commits were held up
    assert seen[1] < 20  # and they were held up
    with store.read() as session:
        assert set(session.scalars(select(Delivery.status))) == {"delivered"}

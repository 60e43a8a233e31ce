"""Bench: deliveries per second through the mail worker to a relay.

Queues MAILS transactional mails of about 4 KB (one recipient each, spread over DOMAINS
recipient domains) straight into the store, then runs one MailWorker against a sink on
127.0.0.1 (TODOKE_RELAY): Postfix's ``smtp-sink`` when it is installed, else an aiosmtpd
sink in another process. Prints deliveries/s from the worker's start until every delivery is
``delivered`` (each outcome is committed with its delivery-log event), on SQLite and on
PostgreSQL (a fresh database made from TODOKE_BENCH_POSTGRES_URL, else
TODOKE_TEST_POSTGRES_URL, else the local server).

    .venv/bin/python bench/relay.py [--mails 5000] [--domains 10] [--engines sqlite,postgres]
For scale: Postfix relays 700–740 mails/s end to end from 20 sessions on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _support import LOCAL_POSTGRES, free_port, fresh_postgres, postgres_base
from sqlalchemy import func, insert, select

from todoke.accounts import create_account
from todoke.config import Settings
from todoke.mail.delivery.worker import MailWorker
from todoke.store.db import Store
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, MailMessage

BODY = ("x" * 76 + "\r\n") * 50


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """smtp-sink (Postfix) if installed, else an aiosmtpd sink in a child process."""
    if shutil.which("smtp-sink"):
        command = ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{port}", "256"]
    else:
        code = ("import time; from aiosmtpd.controller import Controller\n"
                "class H:\n async def handle_DATA(s, *a): return '250 OK'\n"
                f"c = Controller(H(), hostname='127.0.0.1', port={port}); c.start()\n"
                "time.sleep(10**6)\n")
        command = [sys.executable, "-c", code]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the sink did not start")


def queue(store: Store, mails: int, domains: int) -> None:
    with store.session() as session:
        account = create_account(session, f"bench-{uuid.uuid4().hex[:6]}", [])
        config = account.organisation.server_configs[0]
        org_id, config_id = account.organisation.id, config.id
    now = utcnow()
    for start in range(0, mails, 1000):
        with store.session() as session:
            count = min(1000, mails - start)
            raws = [(f"From: bench@example.jp\r\nTo: u{i}@d{i % domains}.example\r\n"
                     f"Subject: bench {i}\r\nMessage-ID: <b{i}@example.jp>\r\n\r\n{BODY}"
                     ).encode() for i in range(start, start + count)]
            ids = session.scalars(insert(MailMessage).returning(MailMessage.id), [
                {"organisation_id": org_id, "server_config_id": config_id,
                 "mail_from": "bench@example.jp", "subject": "bench", "created": now,
                 "message_id": f"<b{start + n}@example.jp>", "x_api_data": "",
                 "size": len(raw), "raw": raw} for n, raw in enumerate(raws)]).all()
            session.execute(insert(Delivery), [
                {"message_id": mid, "rcpt": f"u{start + n}@d{(start + n) % domains}.example",
                 "domain": f"d{(start + n) % domains}.example", "status": "queued",
                 "attempts": 0, "next_attempt_at": now, "last_reply": "", "reply_code": "",
                 "enhanced_status": "", "reason": "", "hardbounce": False, "remote_mta": "",
                 "source_ip": "", "verp_token": secrets.token_hex(12), "created": now,
                 "updated": now} for n, mid in enumerate(ids)])


async def drive(store: Store, settings: Settings, mails: int) -> float:
    stop = asyncio.Event()
    worker = MailWorker(settings, store)
    started = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    while True:
        await asyncio.sleep(0.1)
        with store.read() as session:
            done = session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.status == "delivered")) or 0
        if done >= mails:
            break
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return elapsed


def run(url: str, mails: int, domains: int, port: int) -> None:
    store = Store(url)
    store.migrate()
    queue(store, mails, domains)
    settings = Settings.from_env({"TODOKE_DATABASE_URL": url, "TODOKE_RELAY": f"127.0.0.1:{port}",
                                  "TODOKE_LOG_LEVEL": "warning"})
    elapsed = asyncio.run(drive(store, settings, mails))
    print(f"{store.dialect:10s} {mails} deliveries to {domains} domains in {elapsed:.2f} s: "
          f"{mails / elapsed:.0f} deliveries/s")
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--domains", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        for engine in args.engines.split(","):
            if engine == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    run(f"sqlite:///{Path(tmp) / 'todoke.db'}", args.mails, args.domains, port)
                continue
            with fresh_postgres(postgres_base() or LOCAL_POSTGRES) as url:
                run(url, args.mails, args.domains, port)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()

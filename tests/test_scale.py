"""Scale and durability: many workers on one PostgreSQL, and kill -9 during ingest."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from todoke.store.db import Store
from todoke.store.models import FaxAttempt, FaxJob, InboundMail

pytestmark = pytest.mark.slow
SENDER = "bulk@example.jp"


def test_three_workers_send_every_job_exactly_once(postgres_url, make_gateway, tmp_path):
    numbers = [f"0312{n:06d}" for n in range(1000)]
    busy_once = {n: ["6017", "0"] for n in numbers[::10]}  # 100 jobs need a retry
    gw = make_gateway(postgres_url, {"numbers": busy_once, "default": "0"},
                      TODOKE_MINUTE_SECONDS="0.01", TODOKE_FAX_LINES="24")
    gw.api_key = gw.create_account("bulk", SENDER)
    gw.cli("accounts", "set", "bulk", "fax.notify=never")
    gw.start("--no-worker")
    for chunk in (numbers[:500], numbers[500:]):
        reply = gw.send(SENDER, [f"{n}@fax.localhost" for n in chunk], subject="bulk")
        assert reply.startswith("250 2.0.0 OK queued as M") and "(500 fax)" in reply, reply

    workers = [
        subprocess.Popen([sys.executable, "-m", "todoke.cli", "worker"], env=gw.env,
                         stdout=subprocess.DEVNULL,
                         stderr=(tmp_path / f"worker-{i}.log").open("wb"))
        for i in range(3)
    ]
    store = Store(postgres_url)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with store.session() as session:
                left = session.scalar(select(func.count()).select_from(FaxJob)
                                      .where(FaxJob.status != "done"))
                failed = session.scalar(select(func.count()).select_from(FaxJob)
                                        .where(FaxJob.status == "failed"))
            if left == 0 or failed:
                break
            time.sleep(0.5)
        assert left == 0, f"{left} jobs not done"
        with store.session() as session:
            attempts = session.execute(select(FaxAttempt.job_id, FaxAttempt.result_code,
                                              FaxAttempt.worker)).all()
            jobs = session.execute(select(FaxJob.id, FaxJob.number, FaxJob.attempts)).all()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        store.dispose()

    assert len(jobs) == 1000
    successes = [job_id for job_id, code, _ in attempts if code == "0"]
    assert len(successes) == 1000 and len(set(successes)) == 1000  # each sent exactly once
    assert len(attempts) == 1100  # plus one busy attempt for every tenth number
    retried = {number for _id, number, count in jobs if count == 2}
    assert retried == set(busy_once)
    # the work really was shared between the three processes
    assert len({worker.rsplit(":", 1)[0] for *_, worker in attempts}) == 3


def _message(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "0312345678@fax.localhost"
    msg["Subject"] = f"order-{i:05d}"
    msg["Message-ID"] = f"<order-{i:05d}@example.jp>"
    msg.set_content(("Order line\n" * 300)[:4000])
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_kill_during_ingest_loses_no_acknowledged_mail(database_url, make_gateway):
    gw = make_gateway(database_url)
    gw.api_key = gw.create_account("bulk", SENDER)
    gw.start("--no-worker")
    acknowledged: set[str] = set()
    lock = threading.Lock()
    total = 2000

    def client(start: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=20) as smtp:
                for i in range(start, total, 20):
                    smtp.sendmail(SENDER, ["0312345678@fax.localhost"], _message(i))
                    with lock:
                        acknowledged.add(f"order-{i:05d}")
        except (smtplib.SMTPException, OSError):
            return  # the server died under us: what was not acknowledged may be lost

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    while True:
        with lock:
            if len(acknowledged) >= 600:
                break
        time.sleep(0.01)
    gw.kill()  # SIGKILL, mid-stream
    for thread in threads:
        thread.join(30)
    assert 600 <= len(acknowledged) < total, "the kill must land during ingest"

    gw.start("--no-worker")  # recovery: the store opens again
    store = Store(database_url)
    try:
        with store.session() as session:
            stored = set(session.scalars(select(InboundMail.subject)).all())
            job_count = session.scalar(select(func.count()).select_from(FaxJob))
    finally:
        store.dispose()
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged mails lost, e.g. {sorted(missing)[:5]}"
    assert job_count == len(stored)
    history = gw.api("GET", "/v1/fax/jobs?per_page=1").json()
    assert history["total"] == len(stored)

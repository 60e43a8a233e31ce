"""Bench: mails per second through SMTP ingest to committed fax jobs.

Starts ``todoke serve --no-worker`` on SQLite (a temp dir) and on PostgreSQL (a fresh
database made from TODOKE_BENCH_POSTGRES_URL, else TODOKE_TEST_POSTGRES_URL, else the local
server) and sends MAILS 4 KB mails from 20 parallel SMTP sessions: with Postfix's
``smtp-source`` when it is installed (the load generator Postfix's own figure was measured
with), else from Python client processes. Prints mails/s from the first MAIL to the last 250
(every 250 is sent only after the commit), then checks the count in the store.

    .venv/bin/python bench/ingest.py [--mails 5000] [--sessions 20] [--engines sqlite,postgres]
For scale: Postfix relays about 700 mails/s end to end on this kind of machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from _support import LOCAL_POSTGRES, free_port, fresh_postgres, postgres_base, wait_healthy
from sqlalchemy import func, select

from todoke.store.db import Store
from todoke.store.models import InboundMail

SENDER = "bench@example.jp"


def message(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "0312345678@fax.localhost"
    msg["Subject"] = f"bench {i}"
    msg["Message-ID"] = f"<bench-{i}@example.jp>"
    msg.set_content(("Order line 12345 widget x 4 @ 1,000 JPY\n" * 110)[:4000])
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def session_worker(args: tuple[int, int, int, int]) -> tuple[int, float, float]:
    port, start, step, total = args
    body = [message(i) for i in range(start, total, step)]
    ok = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        began = time.perf_counter()
        for raw in body:
            smtp.sendmail(SENDER, ["0312345678@fax.localhost"], raw)
            ok += 1
        ended = time.perf_counter()
    return ok, began, ended


def run_engine(name: str, url: str, mails: int, sessions: int, workdir: Path) -> dict[str, float]:
    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_")}
    env.update(TODOKE_DATA_DIR=str(workdir / "data"), TODOKE_DATABASE_URL=url,
               TODOKE_SMTP_LISTEN=f"127.0.0.1:{smtp_port}",
               TODOKE_HTTP_LISTEN=f"127.0.0.1:{http_port}", TODOKE_LOG_LEVEL="warning")
    cli = [sys.executable, "-m", "todoke.cli"]
    subprocess.run([*cli, "accounts", "create", "bench", "--sender", SENDER, "--json"],
                   env=env, check=True, capture_output=True)
    server = subprocess.Popen([*cli, "serve", "--no-worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(http_port)
        if shutil.which("smtp-source"):  # Postfix's C load generator: the client costs ~nothing
            began = time.perf_counter()
            subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(mails), "-l", "4096",
                            "-f", SENDER, "-t", "0312345678@fax.localhost",
                            f"127.0.0.1:{smtp_port}"], check=True)
            sent, elapsed = mails, time.perf_counter() - began
        else:
            with multiprocessing.Pool(sessions) as pool:
                results = pool.map(session_worker,
                                   [(smtp_port, s, sessions, mails) for s in range(sessions)])
            sent = sum(r[0] for r in results)
            elapsed = max(r[2] for r in results) - min(r[1] for r in results)
        store = Store(url)
        with store.session() as session:
            stored = session.scalar(select(func.count()).select_from(InboundMail)) or 0
        store.dispose()
    finally:
        server.terminate()
        server.wait(30)
    return {"engine": name, "mails": sent, "stored": stored, "seconds": round(elapsed, 2),
            "mails_per_s": round(sent / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            workdir = Path(tmp) / engine
            if engine == "sqlite":
                rows.append(run_engine("sqlite", f"sqlite:///{workdir / 'bench.db'}",
                                       args.mails, args.sessions, workdir))
                continue
            with fresh_postgres(postgres_base() or LOCAL_POSTGRES) as url:
                rows.append(run_engine("postgres", url, args.mails, args.sessions, workdir))
    print(f"SMTP ingest, {args.sessions} sessions, 4 KB mails (Postfix here: ~700 mails/s)")
    for row in rows:
        print(f"  {row['engine']:9} {row['mails']:6} mails in {row['seconds']:6.2f} s = "
              f"{row['mails_per_s']:7.1f} mails/s  (stored {row['stored']})")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Bench: mails per second from SMTP submission to delivered at a sink, todoke beside Postfix.

All relay the same load to Postfix's ``smtp-sink`` on 127.0.0.1:
  - todoke, applications' way: ``todoke serve`` with TODOKE_RELAY at the sink; SESSIONS client
    processes (Python smtplib) submit MAILS mails of 4 KB over STARTTLS + AUTH with the API
    key; the clock stops when the store says every delivery is ``delivered``.
  - todoke, Postfix's way: the same gateway fed by ``smtp-source`` (sessions, mails, size as
    below) from a trusted network (``todoke accounts networks``: no TLS, no AUTH), exactly the
    load Postfix gets; the Python clients above cost the machine's two cores as much CPU as
    the gateway itself, smtp-source almost none.
  - Postfix: a private instance (its own queue in a temp dir, relayhost = the sink) fed by
    ``smtp-source``; the clock stops when its queue is empty.
Each line also gives the CPU seconds the server used (its whole process tree).
Needs root and Debian's postfix (smtp-source, smtp-sink). SQLite by default; --engine postgres
uses a fresh database from TODOKE_TEST_POSTGRES_URL.

    .venv/bin/python bench/relay_e2e.py [--mails 3000] [--sessions 20] [--engine sqlite]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from _support import LOCAL_POSTGRES, free_port, fresh_postgres, postgres_base, wait_healthy
from sqlalchemy import func, select

from todoke.store.db import Store
from todoke.store.models_mail import Delivery

SENDER = "shop@example.jp"
BODY = ("Order line 12345 widget x 4 @ 1,000 JPY\n" * 110)[:4000]


def wait_port(port: int, what: str) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def sink(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "512"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "smtp-sink")
    return process


def client(args: tuple[int, str, int, int, int]) -> int:
    port, key, start, step, total = args
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    mails = []
    for i in range(start, total, step):  # built before the clock matters, like smtp-source
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = f"user{i}@example.net"
        msg["Subject"] = f"order {i}"
        msg.set_content(BODY)
        mails.append((f"user{i}@example.net", msg.as_bytes(policy=msg.policy.clone(
            linesep="\r\n"))))
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.starttls(context=context)
        smtp.login("admin", key)
        for rcpt, raw in mails:
            smtp.sendmail(SENDER, [rcpt], raw)
    return len(mails)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and every process below it, with the children
    they have waited for (Linux /proc)."""
    return sum(tree_cpu(root).values())


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and of each process below it, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick  # + waited children
    found, stack = {}, [root]
    while stack:
        pid = stack.pop()
        found[pid] = times.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return found


def run_todoke(url: str, mails: int, sessions: int, sink_port: int, work: Path,
               source: bool, profile: str = "") -> float:
    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_")}
    env.update(TODOKE_DATA_DIR=str(work / "data"), TODOKE_DATABASE_URL=url,
               TODOKE_SMTP_LISTEN=f"127.0.0.1:{smtp_port}",
               TODOKE_HTTP_LISTEN=f"127.0.0.1:{http_port}", TODOKE_LOG_LEVEL="warning",
               TODOKE_RELAY=f"127.0.0.1:{sink_port}")
    cli = [sys.executable, "-m", "todoke.cli"]
    created = subprocess.run([*cli, "accounts", "create", "shop", "--sender", SENDER, "--json"],
                             env=env, check=True, capture_output=True, text=True)
    key = json.loads(created.stdout)["api_key"]
    if source:
        subprocess.run([*cli, "accounts", "networks", "shop", "127.0.0.0/8"], env=env,
                       check=True, capture_output=True)
    wrap = ["py-spy", "record", "-f", "raw", "-r", "100", "--subprocesses", "-o", profile,
            "--"] if profile else []
    server = subprocess.Popen([*wrap, *cli, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    store = Store(url)
    try:
        wait_healthy(http_port)
        began = time.perf_counter()
        if source:
            subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(mails), "-l", "4096",
                            "-f", SENDER, "-t", "user@example.net", f"127.0.0.1:{smtp_port}"],
                           check=True)
            sent = mails
        else:
            with multiprocessing.Pool(sessions) as pool:
                sent = sum(pool.map(client, [(smtp_port, key, s, sessions, mails)
                                             for s in range(sessions)]))
        submitted = time.perf_counter() - began
        while True:
            with store.read() as session:
                done = session.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.status == "delivered")) or 0
            if done >= sent:
                break
            if time.perf_counter() - began > 600:
                raise SystemExit(f"only {done} of {sent} delivered")
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        each = tree_cpu(server.pid)
        cpu = sum(each.values())
    finally:
        if profile:  # py-spy writes its profile on SIGINT, then todoke is stopped
            server.send_signal(signal.SIGINT)
            server.wait(60)
        server.terminate()
        server.wait(30)
        store.dispose()
    how = "smtp-source, trusted network" if source else "Python clients, STARTTLS + AUTH"
    print(f"  todoke ({how})\n           {sent} mails: submitted in {submitted:.2f} s, "
          f"all delivered in "
          f"{elapsed:.2f} s = {sent / elapsed:.0f} mails/s; the gateway used {cpu:.1f} CPU s "
          f"({cpu / sent * 1000:.2f} ms a mail)")
    print("           by process (serve first): "
          + ", ".join(f"{seconds:.1f}" for seconds in each.values()) + " CPU s")
    return sent / elapsed


def run_postfix(mails: int, sessions: int, sink_port: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="bench-postfix-"))
    os.chmod(root, 0o755)
    for sub in ("etc", "queue", "data"):
        (root / sub).mkdir()
    shutil.chown(root / "data", "postfix")
    port = free_port()
    (root / "etc" / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink_port}
smtp_tls_security_level = none
maillog_file = /dev/stdout
biff = no
""")
    master = Path("/etc/postfix/master.cf").read_text().splitlines()
    master = [f"127.0.0.1:{port} inet n - n - - smtpd" if line.startswith("smtp ") and
              " inet " in line else line for line in master]
    (root / "etc" / "master.cf").write_text("\n".join(master) + "\n")
    process = subprocess.Popen(["postfix", "-c", str(root / "etc"), "start-fg"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, "postfix")
        began = time.perf_counter()
        subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(mails), "-l", "4096",
                        "-f", SENDER, "-t", "user@example.net", f"127.0.0.1:{port}"],
                       check=True)
        submitted = time.perf_counter() - began
        while True:
            queue = subprocess.run(["postqueue", "-c", str(root / "etc"), "-p"],
                                   capture_output=True, text=True).stdout
            if "Mail queue is empty" in queue:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        cpu = tree_cpu_seconds(process.pid)
    finally:
        subprocess.run(["postfix", "-c", str(root / "etc"), "stop"], capture_output=True)
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)
    print(f"  Postfix (smtp-source)\n           {mails} mails: submitted in {submitted:.2f} s, "
          f"all delivered in "
          f"{elapsed:.2f} s = {mails / elapsed:.0f} mails/s; Postfix used {cpu:.1f} CPU s "
          f"({cpu / mails * 1000:.2f} ms a mail)")
    return mails / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", default="", help="py-spy raw profile of todoke serve here")
    args = parser.parse_args()
    if not (shutil.which("postfix") and shutil.which("smtp-sink") and os.geteuid() == 0):
        raise SystemExit("needs root and Debian's postfix (smtp-source, smtp-sink)")
    sink_port = free_port()
    sink_process = sink(sink_port)
    try:
        print(f"SMTP submission → delivered at smtp-sink, {args.sessions} sessions, 4 KB mails")
        ours = {}
        for source in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                if args.engine == "sqlite":
                    ours[source] = run_todoke(f"sqlite:///{tmp}/relay.db", args.mails,
                                              args.sessions, sink_port, Path(tmp), source,
                                              args.profile if source else "")
                    continue
                with fresh_postgres(postgres_base() or LOCAL_POSTGRES) as url:
                    ours[source] = run_todoke(url, args.mails, args.sessions, sink_port,
                                              Path(tmp), source, args.profile if source else "")
        theirs = run_postfix(args.mails, args.sessions, sink_port)
        print(f"  ratio todoke / Postfix: {ours[True] / theirs:.2f}x fed alike (smtp-source); "
              f"{ours[False] / theirs:.2f}x with Python STARTTLS + AUTH clients")
    finally:
        sink_process.terminate()


if __name__ == "__main__":
    main()

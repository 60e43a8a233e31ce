"""Bench: error log search and export on SQLite and PostgreSQL (issue 6).

Fills N error rows (default 1,000,000; ``--rows 10000000`` for the issue's figure) spread over
40 days for one organisation (two server configurations, four API users) by bulk insert
(executemany on SQLite, COPY on PostgreSQL), then times first-page searches by partial
recipient, by status and by one day (p50 / p95 ms over ``--queries`` each, the count included)
and one full export of the organisation's 40 days (rows/s; peak RSS of a separate process
that only exports, via resource.getrusage). Goal: p95 < 50 ms, export > 300,000 rows/s.

    .venv/bin/python bench/errorlog.py [--rows N] [--engines sqlite,postgres]

PostgreSQL comes from TODOKE_TEST_POSTGRES_URL (a fresh database is made and dropped, or with
``--postgres-db NAME`` kept and reused like ``--sqlite-file``).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from _support import fresh_postgres, kept_postgres, postgres_base
from sqlalchemy import insert, select

from todoke.accounts import add_api_user, create_account
from todoke.errorlog import export
from todoke.errorlog.search import Criteria, Scope, search
from todoke.store.db import Store
from todoke.store.models import ServerConfig, utcnow
from todoke.store.models_log import ErrorLog

STATUSES = [1, 2, 2, 2, 3, 4, 4, 5, 7, 8, 9, 10, 99]
COLUMNS = ["created", "organisation_id", "server_config_id", "api_user_id", "kind", "status",
           "reason", "from_addr", "return_path", "to_addr", "subject", "message_id", "api_data",
           "response"]


def setup_tenant(store: Store) -> tuple[int, list[int], list[int]]:
    with store.session() as session:
        org = create_account(session, "bench", []).organisation
        first = session.query(ServerConfig).filter_by(organisation_id=org.id).one()
        second = ServerConfig(organisation=org, name="second")
        session.add(second)
        session.flush()
        users = [first.api_users[0]]
        users += [add_api_user(session, c, f"u{i}")[0] for i, c in enumerate((first, second,
                                                                                second))]
        session.flush()
        return org.id, [first.id, second.id], [(u.server_config_id, u.id) for u in users]


def rows(n: int, org: int, users: list[tuple[int, int]], seed: int = 1):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    now = utcnow()
    span = 40 * 86400
    for i in range(n):
        config, user = users[i % len(users)]
        created = now - timedelta(seconds=span * (n - i) / n)
        status = STATUSES[rnd.randrange(len(STATUSES))]
        domain = f"d{rnd.randrange(5000)}.example"
        yield (created, org, config, user, "mail", status, "userunknown", "app@shop.example",
               f"bounces+{i:x}@bounce.example", f"user{rnd.randrange(2_000_000)}@{domain}",
               f"ご注文ありがとうございます #{i}", f"<{i}.{seed}@shop.example>",
               f"order-{i}", "550 5.1.1 <x>: Recipient address rejected: User unknown")


def fill(store: Store, n: int, org: int, users: list[tuple[int, int]]) -> float:
    started = time.perf_counter()
    batch = 20_000
    if store.is_postgres:
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY error_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(n, org, users):
                    copy.write_row(row)
            raw.commit()
            # what autovacuum does on a live server after a bulk load: the visibility map
            # (index-only scans) and statistics
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            cur.execute("VACUUM ANALYZE error_log")
        finally:
            raw.close()
    else:
        chunk: list[dict[str, object]] = []
        for row in rows(n, org, users):
            chunk.append(dict(zip(COLUMNS, row, strict=True)))
            if len(chunk) == batch:
                with store.session() as session:
                    session.execute(insert(ErrorLog), chunk)
                chunk = []
        if chunk:
            with store.session() as session:
                session.execute(insert(ErrorLog), chunk)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def timed(store: Store, scope: Scope, make: list[Criteria]) -> tuple[float, float, int]:
    times = []
    total = 0
    for criteria in make:
        started = time.perf_counter()
        with store.read() as session:
            page = search(session, scope, criteria, 1, 10, screen=True)
        times.append((time.perf_counter() - started) * 1000)
        total += page.total
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], total // len(make)


def run_export(url: str, org: int, out: str) -> None:
    """Child process: export only, then print rows, seconds, peak RSS (MB)."""
    store = Store(url)
    today = utcnow().date()
    started = time.perf_counter()
    count = export.write_zip(store, Scope(org), Criteria(today - timedelta(days=40), today),
                             "bench-password", out)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} {seconds:.3f} {peak:.1f}")


def filled_tenant(store: Store) -> tuple[int, list[int]] | None:
    """The organisation and server configurations of an earlier fill of this database."""
    with store.read() as session:
        org = session.scalar(select(ErrorLog.organisation_id).limit(1))
        if org is None:
            return None
        configs = list(session.scalars(select(ServerConfig.id).where(
            ServerConfig.organisation_id == org).order_by(ServerConfig.id)))
    return org, configs


def bench(url: str, n: int, queries: int, label: str) -> None:
    store = Store(url)
    store.migrate()
    earlier = filled_tenant(store)
    if earlier is not None:  # --sqlite-file of an earlier run: time the searches again
        org, configs = earlier
        print(f"[{label}] reusing the rows already in the database")
    else:
        org, configs, users = setup_tenant(store)
        print(f"[{label}] filling {n:,} rows …", flush=True)
        seconds = fill(store, n, org, users)
        print(f"[{label}] fill: {seconds:.1f} s ({n / seconds:,.0f} rows/s)")
    rnd = random.Random(7)
    today = utcnow().date()
    start = today - timedelta(days=40)
    scope = Scope(org, server_config_id=configs[0])
    cases = {
        "partial recipient": [Criteria(start, today, to=f"user{rnd.randrange(2_000_000)}@")
                              for _ in range(queries)],
        "partial domain": [Criteria(start, today, to=f"@d{rnd.randrange(5000)}.ex")
                           for _ in range(queries)],
        "status": [Criteria(start, today, status=rnd.choice(STATUSES)) for _ in range(queries)],
        "one day": [Criteria(d, d) for d in (today - timedelta(days=rnd.randrange(40))
                                             for _ in range(queries))],
    }
    for name, criteria in cases.items():
        p50, p95, hits = timed(store, scope, criteria)
        print(f"[{label}] first page by {name:18s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"(~{hits:,} hits, count capped at 10,000)")
    store.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "errors.zip")
        result = subprocess.run([sys.executable, __file__, "--export-child", url, str(org), out],
                                capture_output=True, text=True, check=True)
        count, secs, peak = result.stdout.split()
        size = Path(out).stat().st_size / 1e6
    print(f"[{label}] export: {int(count):,} rows in {float(secs):.1f} s = "
          f"{int(count) / float(secs):,.0f} rows/s, ZIP {size:.0f} MB, peak RSS {peak} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--sqlite-file", help="keep the SQLite database here (filled once, "
                        "reused by later runs: a 10M-row fill takes ~20 minutes)")
    parser.add_argument("--postgres-db", help="keep the PostgreSQL database of this name "
                        "(filled once, reused by later runs)")
    parser.add_argument("--export-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        url, org, out = args.export_child
        run_export(url, int(org), out)
        return
    engines = args.engines.split(",")
    if "sqlite" in engines and args.sqlite_file:
        bench(f"sqlite:///{Path(args.sqlite_file).resolve()}", args.rows, args.queries, "sqlite")
    elif "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/bench.db", args.rows, args.queries, "sqlite")
    if "postgres" in engines:
        base = postgres_base(default=None)
        if not base:
            print("[postgres] skipped: TODOKE_TEST_POSTGRES_URL not set")
            return
        if args.postgres_db:
            bench(kept_postgres(base, args.postgres_db), args.rows, args.queries, "postgres")
            return
        with fresh_postgres(base) as url:
            bench(url, args.rows, args.queries, "postgres")


if __name__ == "__main__":
    _ = date
    main()

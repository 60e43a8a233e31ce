"""The ``todoke`` command: serve, worker, accounts, classify, migrate.

Messages for people are Japanese first, English second. Exit codes: 0 ok, 1 failure,
2 bad usage or settings, 3 a port is in use, 4 the store cannot be reached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from todoke import log
from todoke.config import Settings, SettingsError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="todoke (届け): mail and fax delivery gateway / メール・FAX配信ゲートウェイ")
accounts_app = typer.Typer(no_args_is_help=True, help="Fax accounts / アカウント管理")
app.add_typer(accounts_app, name="accounts")
lists_app = typer.Typer(no_args_is_help=True, help="Fax number lists / FAX番号リスト")
app.add_typer(lists_app, name="lists")
users_app = typer.Typer(no_args_is_help=True, help="Console users / コンソールユーザー")
app.add_typer(users_app, name="users")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"todoke: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise _fail(f"設定エラー / settings error: {exc}", 2) from exc
    log.setup(settings.log_level)
    if settings.bounce_rules:  # loaded once; forked ingest processes inherit them
        from todoke.mail.bounce import load_rules

        try:
            load_rules(settings.bounce_rules)
        except (OSError, ValueError, KeyError) as exc:
            raise _fail(f"TODOKE_BOUNCE_RULES={settings.bounce_rules}: {exc}", 2) from exc
    return settings


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from todoke.server import EXIT_STORE_UNAVAILABLE
    from todoke.store.db import Store, StoreUnavailable

    store = Store(settings.database_url)
    try:
        store.check()
        store.migrate()
    except StoreUnavailable as exc:
        raise _fail(f"データベースに接続できません / cannot reach the store "
                    f"({store.engine.url.render_as_string(hide_password=True)}): {exc}",
                    EXIT_STORE_UNAVAILABLE) from exc
    return store


@app.command()
def serve(no_worker: bool = typer.Option(False, "--no-worker",
                                         help="Do not run a worker in this process")) -> None:
    """SMTP ingest, HTTP API and console, and a worker / 受付・API・ワーカーを起動します."""
    from todoke.metrics_files import use_process_files

    settings = _settings()
    if "prometheus_client" not in sys.modules:  # one set of counters for all our processes
        use_process_files(settings.data_dir / "metrics")
    from todoke.accounts import ensure_first_admin
    from todoke.ingest.tls import server_context
    from todoke.server import (
        StartupError,
        bind,
        fork_ingest,
        fork_worker,
        run_loop,
        stop_children,
    )
    from todoke.server import serve as run

    store = _store(settings)
    with store.session() as session:
        password = ensure_first_admin(session)
    if password:
        typer.echo(
            "初回起動: 管理者ユーザー admin を作成しました。一時パスワード(この一度だけ表示): "
            f"{password}\nFirst start: console administrator 'admin' created; one-time "
            f"password (shown once): {password}", err=True)
    try:
        sockets = (bind(settings.smtp_listen, "SMTP"), bind(settings.http_listen, "HTTP"))
    except StartupError as exc:
        raise _fail(str(exc), exc.exit_code) from exc
    server_context(settings)  # make the STARTTLS certificate once, before any fork
    children = fork_ingest(settings, store, sockets[0], settings.smtp_processes - 1)
    inline_worker = not no_worker
    if inline_worker and settings.worker_process == "yes":
        children += fork_worker(settings, store)
        inline_worker = False
    try:
        run_loop(run(settings, store, with_worker=inline_worker, sockets=sockets))
    finally:
        stop_children(children)


@app.command()
def worker() -> None:
    """One more worker process against the same database / ワーカーを追加で起動します."""
    from todoke.server import run_loop, work

    settings = _settings()
    store = _store(settings)
    run_loop(work(settings, store))


@app.command()
def migrate() -> None:
    """Apply database migrations (every command does this too) / スキーマを更新します."""
    settings = _settings()
    _store(settings)
    typer.echo("ok")


@accounts_app.command("create")
def accounts_create(
    name: str,
    sender: list[str] = typer.Option([], "--sender", help="Authorised sender address"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an account with its administrator API key / アカウントを作成します."""
    from todoke.accounts import AccountError, create_account

    store = _store(_settings())
    try:
        with store.session() as session:
            created = create_account(session, name, sender)
            account = created.organisation.name
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc
    if as_json:
        typer.echo(json.dumps({"account": account, "api_key": created.api_key}))
    else:
        typer.echo(f"アカウント {account} を作成しました / account created\n"
                   f"API key (shown once / 一度だけ表示): {created.api_key}")


@accounts_app.command("set")
def accounts_set(name: str, assignments: list[str]) -> None:
    """Change properties: key=value … (fax.retries=2 fax.notify=failure …) / 設定を変更します."""
    from todoke.accounts import AccountError, get_account, set_property

    store = _store(_settings())
    try:
        with store.session() as session:
            org = get_account(session, name)
            for item in assignments:
                key, sep, value = item.partition("=")
                if not sep:
                    raise AccountError(f"expected key=value, got {item!r} / key=value の形で指定")
                set_property(session, org, key.strip(), value.strip())
    except AccountError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo("ok")


@accounts_app.command("show")
def accounts_show(name: str) -> None:
    """Print an account's properties as JSON / アカウントの設定を表示します."""
    from todoke.accounts import AccountError, describe, get_account

    store = _store(_settings())
    try:
        with store.session() as session:
            typer.echo(json.dumps(describe(get_account(session, name)), ensure_ascii=False,
                                  indent=2))
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc


@accounts_app.command("networks")
def accounts_networks(
    name: str,
    networks: list[str] = typer.Argument(None, help="CIDRs, e.g. 192.0.2.0/24; none = withdraw"),
    api_user: str = typer.Option("", "--api-user", help="API user (default: the administrator)"),
) -> None:
    """Let clients in these networks submit mail over SMTP without AUTH, as an API user /
    指定ネットワークからのSMTP送信を認証なしで受け付けます."""
    from todoke.accounts import AccountError, get_account, set_networks

    store = _store(_settings())
    try:
        with store.session() as session:
            user = set_networks(session, get_account(session, name), networks or [],
                                api_user or None)
            typer.echo(json.dumps({"api_user": user.name, "networks":
                                   [n for n in user.networks.split(",") if n]}))
    except AccountError as exc:
        raise _fail(str(exc), 2) from exc


@accounts_app.command("list")
def accounts_list() -> None:
    """List accounts / アカウント一覧."""
    from sqlalchemy import select

    from todoke.store.models import Organisation

    store = _store(_settings())
    with store.session() as session:
        for org in session.scalars(select(Organisation).order_by(Organisation.name)):
            typer.echo(org.name)


@lists_app.command("set")
def lists_set(account: str, name: str, numbers: list[str]) -> None:
    """Create or replace a list: mail to list-NAME@<fax domain> faxes every number."""
    from todoke.accounts import AccountError, get_account, set_list

    store = _store(_settings())
    try:
        with store.session() as session:
            fax_list = set_list(session, get_account(session, account), name, numbers)
            count = len(fax_list.numbers)
    except AccountError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"list-{name.lower()}: {count} numbers / 件")


@lists_app.command("show")
def lists_show(account: str) -> None:
    """Print an account's lists as JSON / リストを表示します."""
    from sqlalchemy import select

    from todoke.accounts import AccountError, get_account
    from todoke.store.models import FaxList

    store = _store(_settings())
    try:
        with store.session() as session:
            org = get_account(session, account)
            data = {f.name: [n.number for n in f.numbers] for f in session.scalars(
                select(FaxList).where(FaxList.organisation_id == org.id).order_by(FaxList.name))}
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(json.dumps(data, indent=2))


@lists_app.command("delete")
def lists_delete(account: str, name: str) -> None:
    """Delete a list / リストを削除します."""
    from todoke.accounts import AccountError, delete_list, get_account

    store = _store(_settings())
    try:
        with store.session() as session:
            delete_list(session, get_account(session, account), name)
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo("ok")


@users_app.command("create")
def users_create(
    username: str,
    account: str = typer.Option("", "--account", help="Organisation; empty = system admin"),
    role: str = typer.Option("user", "--role", help="admin | group_admin | user"),
) -> None:
    """Create a console user and print a one-time password / ユーザーを作成します."""
    import secrets

    from sqlalchemy import select

    from todoke.accounts import AccountError, get_account, hash_password
    from todoke.store.models import ConsoleUser

    if role not in ("admin", "group_admin", "user"):
        raise _fail("role: admin | group_admin | user", 2)
    if (role == "admin") != (not account):
        raise _fail("an admin has no --account; group_admin and user need one / "
                    "admin は --account なし、group_admin と user は --account が必要です", 2)
    store = _store(_settings())
    password = secrets.token_urlsafe(12)
    try:
        with store.session() as session:
            if session.scalar(select(ConsoleUser).where(ConsoleUser.username == username)):
                raise AccountError(f"user {username!r} exists already / 既に存在します")
            org_id = get_account(session, account).id if account else None
            session.add(ConsoleUser(username=username, organisation_id=org_id, role=role,
                                    password_hash=hash_password(password),
                                    must_change_password=True))
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"ユーザー {username} を作成しました。一時パスワード: {password}\n"
               f"user {username} created; one-time password: {password}")


@app.command()
def classify(
    files: list[Path],
    as_json: bool = typer.Option(False, "--json", help="One JSON line per recipient"),
    jobs: int = typer.Option(0, "--jobs", help="Processes (0 = one per core)"),
) -> None:
    """Analyse bounce mails / バウンスメールを解析します."""
    from todoke.mail.bounce.command import classify_main

    raise typer.Exit(classify_main(files, as_json=as_json, jobs=jobs))


# --- error log, delivery log, block list (issue 6): todoke errors|deliveries|blocks, purge ---
errors_app = typer.Typer(no_args_is_help=True, help="Error log / エラーログ")
app.add_typer(errors_app, name="errors")
deliveries_app = typer.Typer(no_args_is_help=True, help="Delivery log / 配信ログ")
app.add_typer(deliveries_app, name="deliveries")
blocks_app = typer.Typer(no_args_is_help=True, help="Block list / 配信停止アドレス")
app.add_typer(blocks_app, name="blocks")


def _searched(parse):  # type: ignore[no-untyped-def]
    """Run ``parse()``; a SearchError becomes exit code 2 with both messages."""
    from todoke.errorlog.search import SearchError

    try:
        return parse()
    except SearchError as exc:
        raise _fail(f"{exc.ja} / {exc.en}", 2) from exc


def _error_criteria(start: str, end: str, status: int | None, to: str | None,
                    retention: int):  # type: ignore[no-untyped-def]
    from todoke.errorlog.search import parse_criteria

    return _searched(lambda: parse_criteria(start, end, status, to, None, retention))


def _account_scope(store, account: str):  # type: ignore[no-untyped-def]
    from todoke.accounts import AccountError, get_account
    from todoke.errorlog.search import Scope

    try:
        with store.session() as session:
            return Scope(get_account(session, account).id)
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc


def _password(password_file: Path) -> str:
    from todoke.errorlog import export

    try:
        text = password_file.read_text("utf-8").rstrip("\r\n")
    except OSError as exc:
        raise _fail(f"--password-file: {exc}", 2) from exc
    return str(_searched(lambda: export.check_password(text)))


def _write_with_progress(total: int, write, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Run ``write(progress)`` under a rich progress bar of ``total`` rows."""
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("export", total=total)
        rows = write(lambda n: progress.advance(task, n))
    typer.echo(f"{rows} 件を {out} に書き出しました / {rows} rows written to {out}")


def _print_table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _print_hits(account: str, result, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """A search page of the error or delivery log as a table."""
    _print_table(f"{account}: {result.total}{'' if result.total_exact else '+'} 件 / hits",
                 ("日時 created", "宛先 to", "件名 subject", "status", "reason"),
                 [[r["created"], r["to"], r["subject"], str(r["status"]), r["reason"]]
                  for r in rows])


def _page_json(result, key: str, rows: list) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(result.body(key, rows), ensure_ascii=False)


@errors_app.command("search")
def errors_search(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    start: str = typer.Option(..., "--start", help="YYYY-MM-DD (the account's time zone)"),
    end: str = typer.Option(..., "--end", help="YYYY-MM-DD (the account's time zone)"),
    status: int | None = typer.Option(None, "--status", help="Error status 1-11, 99"),
    to: str | None = typer.Option(None, "--to", help="Recipient, partial match / 部分一致"),
    page: int = typer.Option(1, "--page"),
    per_page: int = typer.Option(10, "--per-page"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Search the error log of an account / エラーログを検索します."""
    from todoke.errorlog.search import search, summary

    settings = _settings()
    store = _store(settings)
    criteria = _error_criteria(start, end, status, to, settings.retention_days)
    scope = _account_scope(store, account)
    with store.read() as session:
        result = search(session, scope, criteria, page, per_page, settings.retention_days)
        rows = [summary(r, result.zone) for r in result.rows]
    if as_json:
        typer.echo(_page_json(result, "errors", rows))
        return
    _print_hits(account, result, rows)


@errors_app.command("export")
def errors_export(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    start: str = typer.Option(..., "--start", help="YYYY-MM-DD"),
    end: str = typer.Option(..., "--end", help="YYYY-MM-DD"),
    password_file: Path = typer.Option(..., "--password-file",
                                       help="File holding the ZIP password (8+ characters)"),
    out: Path = typer.Option(..., "--out", help="ZIP file to write"),
    status: int | None = typer.Option(None, "--status"),
    to: str | None = typer.Option(None, "--to"),
) -> None:
    """Every hit as CSV in an AES-256 encrypted ZIP / 暗号化ZIPでダウンロードします."""
    from todoke.errorlog import export
    from todoke.errorlog.search import count

    settings = _settings()
    password = _password(password_file)
    store = _store(settings)
    criteria = _error_criteria(start, end, status, to, settings.retention_days)
    scope = _account_scope(store, account)
    with store.read() as session:
        total = count(session, scope, criteria, settings.retention_days)
    _write_with_progress(total, lambda progress: export.write_zip(
        store, scope, criteria, password, out, settings.retention_days, progress=progress), out)


def _delivery_criteria(settings: Settings, start: str, end: str, status: str | None,
                       to: str | None, sender: str | None,
                       api_data: str | None):  # type: ignore[no-untyped-def]
    from todoke.errorlog import deliverylog

    return _searched(lambda: deliverylog.parse_criteria(
        start, end, status, to, api_data, settings.retention_days, sender))


@deliveries_app.command("search")
def deliveries_search(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    start: str = typer.Option(..., "--start", help="YYYY-MM-DD (the account's time zone)"),
    end: str = typer.Option(..., "--end", help="YYYY-MM-DD (the account's time zone)"),
    status: str | None = typer.Option(None, "--status",
                                      help="queued, succeeded, deferred or failed"),
    to: str | None = typer.Option(None, "--to", help="Recipient, partial match / 部分一致"),
    sender: str | None = typer.Option(None, "--from", help="Sender, partial match"),
    api_data: str | None = typer.Option(None, "--api-data", help="X-Api-Data, partial match"),
    page: int = typer.Option(1, "--page"),
    per_page: int = typer.Option(10, "--per-page"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Search the delivery log of an account / 配信ログを検索します."""
    from todoke.errorlog import deliverylog

    settings = _settings()
    store = _store(settings)
    criteria = _delivery_criteria(settings, start, end, status, to, sender, api_data)
    scope = _account_scope(store, account)
    with store.read() as session:
        result = deliverylog.search(session, scope, criteria, page, per_page,
                                    settings.retention_days)
        rows = [deliverylog.summary(r, result.zone, settings.bounce_domain)
                for r in result.rows]
    if as_json:
        typer.echo(_page_json(result, "deliveries", rows))
        return
    _print_hits(account, result, rows)


@deliveries_app.command("export")
def deliveries_export(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    start: str = typer.Option(..., "--start", help="YYYY-MM-DD"),
    end: str = typer.Option(..., "--end", help="YYYY-MM-DD"),
    password_file: Path = typer.Option(..., "--password-file",
                                       help="File holding the ZIP password (8+ characters)"),
    out: Path = typer.Option(..., "--out", help="ZIP file to write"),
    status: str | None = typer.Option(None, "--status"),
    to: str | None = typer.Option(None, "--to"),
    sender: str | None = typer.Option(None, "--from"),
    api_data: str | None = typer.Option(None, "--api-data"),
) -> None:
    """Every hit as CSV in an AES-256 encrypted ZIP / 暗号化ZIPでダウンロードします."""
    from todoke.errorlog import deliverylog

    settings = _settings()
    password = _password(password_file)
    store = _store(settings)
    criteria = _delivery_criteria(settings, start, end, status, to, sender, api_data)
    scope = _account_scope(store, account)
    with store.read() as session:
        total = deliverylog.count(session, scope, criteria, settings.retention_days)
    _write_with_progress(total, lambda progress: deliverylog.write_zip(
        store, scope, criteria, password, out, settings.retention_days, progress=progress,
        bounce_domain=settings.bounce_domain), out)


def _block_criteria(email: str | None, start: str | None, end: str | None,
                    removed: bool):  # type: ignore[no-untyped-def]
    from todoke.errorlog import blocklist

    return _searched(lambda: blocklist.parse_criteria(email, start, end, removed))


@blocks_app.command("search")
def blocks_search(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    email: str | None = typer.Option(None, "--email", help="Address, partial match"),
    start: str | None = typer.Option(None, "--start", help="YYYY-MM-DD, on created"),
    end: str | None = typer.Option(None, "--end", help="YYYY-MM-DD, on created"),
    removed: bool = typer.Option(False, "--removed", help="The removed entries / 解除済み"),
    page: int = typer.Option(1, "--page"),
    per_page: int = typer.Option(100, "--per-page"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Search the block list of an account / 配信停止アドレスを検索します."""
    from todoke.errorlog import blocklist

    settings = _settings()
    store = _store(settings)
    criteria = _block_criteria(email, start, end, removed)
    scope = _account_scope(store, account)
    with store.read() as session:
        result = blocklist.search(session, scope, criteria, page, per_page)
        rows = [blocklist.summary(r, result.zone) for r in result.rows]
    if as_json:
        typer.echo(_page_json(result, "blocks", rows))
        return
    _print_table(f"{account}: {result.total}{'' if result.total_exact else '+'} 件 / entries",
                 ("登録日時 created", "アドレス email", "reason", "解除 removed"),
                 [[r["created"], r["email"], r["reason"], r["removed"] or ""] for r in rows])


@blocks_app.command("export")
def blocks_export(
    account: str = typer.Option(..., "--account", help="Account name / アカウント名"),
    password_file: Path = typer.Option(..., "--password-file",
                                       help="File holding the ZIP password (8+ characters)"),
    out: Path = typer.Option(..., "--out", help="ZIP file to write"),
    email: str | None = typer.Option(None, "--email"),
    start: str | None = typer.Option(None, "--start"),
    end: str | None = typer.Option(None, "--end"),
    removed: bool = typer.Option(False, "--removed"),
) -> None:
    """The entries as CSV in an AES-256 encrypted ZIP / 暗号化ZIPでダウンロードします."""
    from todoke.errorlog import blocklist

    settings = _settings()
    password = _password(password_file)
    store = _store(settings)
    criteria = _block_criteria(email, start, end, removed)
    scope = _account_scope(store, account)
    with store.read() as session:
        total = blocklist.count(session, scope, criteria)
    _write_with_progress(total, lambda progress: blocklist.write_zip(
        store, scope, criteria, password, out, progress=progress), out)


@app.command()
def purge(days: int | None = typer.Option(None, "--days",
                                          help="Keep this many days (TODOKE_RETENTION_DAYS)"),
          batch: int = typer.Option(5000, "--batch", help="Rows per transaction")) -> None:
    """Delete the error log and finished mail past the retention, release old blocks /
    保持期間を過ぎたエラーログと配信ログを削除し、古い配信停止を解除します."""
    from todoke.errorlog import blocklist
    from todoke.errorlog.retention import purge as run_purge
    from todoke.errorlog.retention import purge_deliveries

    settings = _settings()
    store = _store(settings)
    keep = days or settings.retention_days
    deleted = run_purge(store, days=keep, batch=batch)
    mail = purge_deliveries(store, days=keep, batch=max(1, min(batch, 1000)))
    released = blocklist.release(store, days=settings.block_release_days)
    typer.echo(f"{deleted} 件削除しました({keep}日より前) / {deleted} rows older than "
               f"{keep} days deleted")
    typer.echo(f"配信ログ {mail} 件削除 / {mail} finished deliveries deleted; "
               f"配信停止 {released} 件解除 / {released} blocks released "
               f"(TODOKE_BLOCK_RELEASE_DAYS={settings.block_release_days})")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

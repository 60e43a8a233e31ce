"""Web console over FastAPI's TestClient on both engines: login and the 3-failures lock,
CSRF rejection, escaping, role and organisation scoping, the first-run admin's password."""

from __future__ import annotations

import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from todoke import accounts
from todoke.api.app import create_app
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models import (
    AuditLog,
    ConsoleUser,
    FaxJob,
    InboundMail,
    ListSend,
    Organisation,
)

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCRIPT = "<script>alert('x')</script>"


@dataclass
class Console:
    store: Store
    settings: Settings
    orgs: dict[str, int]
    jobs: dict[str, int]

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.store))


def _user(session, name: str, role: str, org: int | None) -> None:
    session.add(ConsoleUser(username=name, password_hash=accounts.hash_password(name + "-secret"),
                            role=role, organisation_id=org))


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[Console]:
    settings = Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path / "data"),
                                  "TODOKE_DATABASE_URL": database_url})
    store = Store(database_url)
    store.migrate()
    orgs: dict[str, int] = {}
    jobs: dict[str, int] = {}
    with store.session() as session:
        for name in ("acme", "other"):
            org = accounts.create_account(session, name, [f"fax@{name}.example"]).organisation
            orgs[name] = org.id
            mail = InboundMail(organisation_id=org.id, envelope_from="x@example.jp",
                               sender="x@example.jp", notify_to="x@example.jp",
                               subject=f"{SCRIPT} {name}", raw=b"x")
            session.add(mail)
            session.flush()
            job = FaxJob(organisation_id=org.id, inbound_mail_id=mail.id, number="0311112222",
                         status="failed", result_code="6017", attempts=1, max_attempts=1,
                         detail="<b>busy</b>")
            session.add(job)
            session.flush()
            jobs[name] = job.id
        _user(session, "alice", "group_admin", orgs["acme"])
        _user(session, "bob", "user", orgs["acme"])
        _user(session, "carol", "group_admin", orgs["other"])
        _user(session, "root", "admin", None)
    yield Console(store, settings, orgs, jobs)
    store.dispose()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client: TestClient, name: str, password: str | None = None) -> str:
    """Log in; returns the page reached after the redirect (its CSRF token is the session's)."""
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={
        "csrf": token, "username": name, "password": password or name + "-secret"})
    assert response.status_code == 200, response.text
    return response.text


def test_login_logout_and_cookie_flags(console: Console) -> None:
    client = console.client()
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/console/"
    assert client.get("/console/history").url.path == "/console/login"
    token = csrf_of(client.get("/console/login").text)
    bad = client.post("/console/login", data={"csrf": token, "username": "alice",
                                              "password": "wrong"})
    assert bad.status_code == 401
    assert "ユーザー名またはパスワードが違います" in bad.text
    response = client.post("/console/login", data={
        "csrf": token, "username": "alice", "password": "alice-secret"},
        follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    page = client.get("/console/history")
    assert page.url.path == "/console/history" and "送信履歴" in page.text
    new_token = csrf_of(page.text)
    assert new_token != token  # a new session (and token) after logging in
    client.post("/console/logout", data={"csrf": new_token})
    assert client.get("/console/history").url.path == "/console/login"
    key = console.settings.data_dir / "console.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_three_wrong_passwords_lock_the_account(console: Console) -> None:
    client = console.client()
    token = csrf_of(client.get("/console/login").text)
    for _ in range(3):
        response = client.post("/console/login", data={
            "csrf": token, "username": "bob", "password": "nope"})
        assert response.status_code == 401
    response = client.post("/console/login", data={
        "csrf": token, "username": "bob", "password": "bob-secret"})
    assert response.status_code == 401
    assert "ロックされています" in response.text
    with console.store.read() as session:  # the failures were committed
        org = session.get_one(Organisation, console.orgs["acme"])
        assert org.failed_logins == 3 and org.locked_until is not None
    # the other organisation is not affected
    assert "送信履歴" in login(console.client(), "carol")


def test_posts_without_the_csrf_token_are_refused(console: Console) -> None:
    client = console.client()
    assert client.post("/console/login", data={
        "username": "alice", "password": "alice-secret"}).status_code == 403
    login(client, "alice")
    job = console.jobs["acme"]
    assert client.post("/console/settings", data={"fax.retries": "0"}).status_code == 403
    assert client.post("/console/settings", data={"fax.retries": "0",
                                                   "csrf": "forged"}).status_code == 403
    assert client.post(f"/console/history/{job}/resend").status_code == 403
    assert client.post("/console/logout").status_code == 403
    with console.store.read() as session:
        assert session.get_one(Organisation, console.orgs["acme"]).fax_retries == 3
        assert session.scalar(select(FaxJob).where(FaxJob.resend_of == job)) is None


def test_subjects_and_details_are_escaped(console: Console) -> None:
    client = console.client()
    page = login(client, "alice")
    assert SCRIPT not in page and "<b>busy</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; acme" in page
    assert "&lt;b&gt;busy&lt;/b&gt;" in page
    assert "6017" in page and "話中" in page and "相手の回線が話中でした" in page
    assert "script-src 'self'" in client.get("/console/history").headers[
        "content-security-policy"]


def test_settings_change_and_validation(console: Console) -> None:
    client = console.client()
    token = csrf_of(login(client, "alice"))
    response = client.post("/console/settings", data={
        "csrf": token, "fax.retries": "0", "fax.retry_interval": "5", "fax.notify": "failure",
        "fax.notify_html": "text", "fax.require_password": "1", "fax.password": "body-pass"})
    assert response.url.path == "/console/settings" and "保存しました" in response.text
    with console.store.read() as session:
        org = session.get_one(Organisation, console.orgs["acme"])
        assert (org.fax_retries, org.fax_retry_interval, org.fax_notify) == (0, 5.0, "failure")
        assert org.fax_notify_html is False and org.fax_require_password is True
        assert accounts.verify_password("body-pass", org.fax_password_hash)
        assert org.credit_limit is None  # operator fields are not a group admin's
    bad = client.post("/console/settings", data={"csrf": token, "fax.retries": "9"},
                      files={"fax.smime_certs": ("cert.pem", b"not a certificate")})
    assert bad.status_code == 422
    assert "fax.retries" in bad.text and "PEM" in bad.text
    with console.store.read() as session:  # nothing of a refused form is kept
        org = session.get_one(Organisation, console.orgs["acme"])
        assert org.fax_retries == 0 and org.fax_require_password is True
        assert org.fax_smime_certs == ""


def test_roles_and_organisations_are_scoped(console: Console) -> None:
    own, foreign = console.jobs["acme"], console.jobs["other"]
    alice = console.client()
    page = login(alice, "alice")
    token = csrf_of(page)
    assert "acme" in page and "other</td>" not in page
    assert alice.post(f"/console/history/{foreign}/resend",
                      data={"csrf": token}).status_code == 404
    assert alice.post(f"/console/history/{own}/resend",
                      data={"csrf": token}).url.path == "/console/history"
    # a group admin creates users only in its own organisation, never system admins
    response = alice.post("/console/users", data={
        "csrf": token, "username": "dave", "password": "dave-secret-1", "role": "user",
        "organisation": str(console.orgs["other"])})
    assert response.status_code == 200 and "dave" in response.text
    assert "carol" not in response.text and "root" not in response.text
    assert alice.post("/console/users", data={
        "csrf": token, "username": "eve", "password": "eve-secret-12",
        "role": "admin"}).status_code == 403
    with console.store.read() as session:
        dave = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "dave"))
        assert dave is not None and dave.organisation_id == console.orgs["acme"]
        assert dave.must_change_password
        carol = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "carol"))
        assert carol is not None
    assert alice.post("/console/users", data={"csrf": token, "delete": str(carol.id)}
                      ).status_code == 403

    bob = console.client()
    token = csrf_of(login(bob, "bob"))
    assert bob.get("/console/audit").status_code == 403
    assert bob.get("/console/users").status_code == 403
    assert bob.post("/console/settings", data={"csrf": token,
                                               "fax.retries": "1"}).status_code == 403
    assert bob.post(f"/console/history/{own}/resend", data={"csrf": token}).status_code == 200

    root = console.client()
    page = login(root, "root")
    assert "組織を選択してください" in page  # a system admin chooses an organisation first
    token = csrf_of(page)
    page = root.post("/console/org", data={"csrf": token,
                                           "organisation": str(console.orgs["other"])}).text
    assert f"{SCRIPT} other".replace("<", "&lt;").replace(">", "&gt;").replace(
        "'", "&#39;") in page
    page = root.get("/console/users").text
    assert all(name in page for name in ("alice", "bob", "carol", "root", "dave"))
    response = root.post("/console/users", data={
        "csrf": token, "username": "frank", "password": "frank-secret", "role": "group_admin",
        "organisation": str(console.orgs["other"])})
    assert "frank" in response.text
    assert "運用" in root.get("/console/settings").text


def test_first_admin_sets_a_new_password(console: Console) -> None:
    with console.store.session() as session:
        for user in session.scalars(select(ConsoleUser)):
            session.delete(user)
    with console.store.session() as session:
        password = accounts.ensure_first_admin(session)
    assert password
    client = console.client()
    page = login(client, "admin", password)
    assert "新しいパスワードを設定してください" in page
    token = csrf_of(page)
    assert client.get("/console/history").url.path == "/console/password"
    short = client.post("/console/password", data={
        "csrf": token, "current": password, "new": "short", "confirm": "short"})
    assert short.status_code == 422
    done = client.post("/console/password", data={
        "csrf": token, "current": password, "new": "a-new-password",
        "confirm": "a-new-password"})
    assert done.status_code == 200 and "組織を選択してください" in done.text
    assert client.get("/console/history").url.path == "/console/org"
    assert "組織を選択してください" in login(console.client(), "admin", "a-new-password")


def test_english_is_switchable(console: Console) -> None:
    client = console.client()
    login(client, "alice")
    page = client.get("/console/history?lang=en").text
    assert "Send history" in page and "Busy" in page
    assert "Send history" in client.get("/console/history").text  # remembered in a cookie
    assert "送信履歴" in client.get("/console/history?lang=ja").text


def test_lists_senders_audit_and_list_resend(console: Console) -> None:
    org_id = console.orgs["acme"]
    with console.store.session() as session:
        session.add(AuditLog(organisation_id=org_id, kind="fax.unauthorised_sender",
                             actor="<img src=x>@evil.example", detail={"to": "0312345678"}))
        job = session.get_one(FaxJob, console.jobs["acme"])
        send = ListSend(organisation_id=org_id, inbound_mail_id=job.inbound_mail_id,
                        list_name="shops")
        session.add(send)
        session.flush()
        job.list_send_id = send.id
        send_id = send.id
    client = console.client()
    token = csrf_of(login(client, "alice"))
    page = client.post("/console/lists", data={"csrf": token, "name": "shops",
                                               "numbers": "03-1111-2222\n0312345678\n"}).text
    assert "shops · 2" in page
    bad = client.post("/console/lists", data={"csrf": token, "name": "x", "numbers": "abc"})
    assert bad.status_code == 422 and "abc" in bad.text
    page = client.post("/console/senders", data={"csrf": token,
                                                 "address": "desk@acme.example"}).text
    assert "desk@acme.example" in page
    taken = client.post("/console/senders", data={"csrf": token,
                                                  "address": "fax@other.example"})
    assert taken.status_code == 422
    audit = client.get("/console/audit").text
    assert "&lt;img src=x&gt;@evil.example" in audit and "<img src=x>" not in audit
    sends = client.get("/console/list-sends").text
    assert "shops" in sends and "失敗分のみ再送信" in sends
    done = client.post(f"/console/list-sends/{send_id}/resend-failed", data={"csrf": token})
    assert "失敗した番号の再送信を受け付けました" in done.text
    with console.store.read() as session:
        [copy] = session.scalars(select(FaxJob).where(FaxJob.resend_of == job.id)).all()
        assert copy.list_send_id == send_id and copy.status == "queued"
    carol = console.client()
    token = csrf_of(login(carol, "carol"))
    assert carol.post(f"/console/list-sends/{send_id}/resend-failed",
                      data={"csrf": token}).status_code == 404
    assert "evil.example" not in carol.get("/console/audit").text

"""Delivery reports (配信レポート) and administration pages over FastAPI's TestClient, on both
engines: the error log's 100 cap and pager, validation messages, the detail dialog, escaping,
the download grant (403 without it) and the encrypted ZIP, tenant scope (also for guessed
ids), the delivery-log and block-list tabs, API keys and webhook secrets shown once, the
download-grant checkbox, and CSRF refusals."""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pyzipper
from sqlalchemy import select

from todoke import accounts
from todoke.api.app import create_app
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models import ApiUser, ConsoleUser, Organisation, ServerConfig, utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, MailMessage, Suppression
from todoke.webhooks import manage

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
ACME_ROWS = 130  # more than the screen's 100
APP_ROWS = 7  # of those, sent by the API user "app"


@dataclass
class Reports:
    store: Store
    settings: Settings
    orgs: dict[str, int]
    configs: dict[str, int]  # organisation name -> its default server configuration
    app_user: int  # API user "app" of acme's default configuration
    other_admin_user: int  # API user "admin" of other's configuration
    other_error: int  # an error-log row of the organisation "other"
    script_error: int  # acme's row with <script> everywhere
    deliveries: dict[str, int]  # recipient -> delivery id (acme's three, other's one)

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.store))


def _user(session, name: str, role: str, org: int | None) -> None:
    session.add(ConsoleUser(username=name, password_hash=accounts.hash_password(name + "-secret"),
                            role=role, organisation_id=org))


def _error(org: int, config: int, i: int, **values: object) -> ErrorLog:
    fields: dict[str, object] = {
        "created": utcnow() - timedelta(minutes=i), "organisation_id": org,
        "server_config_id": config, "kind": "mail", "status": 2, "reason": "userunknown",
        "from_addr": "shop@acme.example", "return_path": f"bounces+t{i}@bounce.localhost",
        "to_addr": f"user{i:03d}@example.net", "subject": f"ご注文 {i}",
        "message_id": f"<m{i}@acme.example>", "api_data": f"order-{i}",
        "response": "550 5.1.1 user unknown"}
    fields.update(values)
    return ErrorLog(**fields)


@pytest.fixture
def reports(database_url: str, tmp_path: Path) -> Iterator[Reports]:
    settings = Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path / "data"),
                                  "TODOKE_DATABASE_URL": database_url})
    store = Store(database_url)
    store.migrate()
    with store.session() as session:
        orgs, configs = {}, {}
        for name in ("acme", "other"):
            org = accounts.create_account(session, name, []).organisation
            orgs[name], configs[name] = org.id, org.server_configs[0].id
        acme_config = session.get_one(ServerConfig, configs["acme"])
        app_user, _key = accounts.add_api_user(session, acme_config, "app")
        session.flush()
        other_admin = session.scalar(select(ApiUser.id).where(
            ApiUser.server_config_id == configs["other"]))
        rows = [_error(orgs["acme"], configs["acme"], i,
                       api_user_id=app_user.id if i < APP_ROWS else None)
                for i in range(1, ACME_ROWS)]
        script = _error(orgs["acme"], configs["acme"], 0, subject=SCRIPT, to_addr=
                        "script@example.net", response=f"550 {SCRIPT}", api_data=SCRIPT,
                        from_addr="=cmd|' /C calc'!A0")
        other = _error(orgs["other"], configs["other"], 0, to_addr="secret@other.example",
                       subject="other's secret")
        session.add_all([*rows, script, other])
        session.flush()
        _user(session, "alice", "group_admin", orgs["acme"])
        _user(session, "ada", "admin", orgs["acme"])
        _user(session, "bob", "user", orgs["acme"])
        _user(session, "carol", "group_admin", orgs["other"])
        _user(session, "root", "admin", None)
        ids = (app_user.id, other_admin, other.id, script.id)
        deliveries = _mail(session, orgs, configs, app_user.id)
    yield Reports(store, settings, orgs, configs, *ids, deliveries)
    store.dispose()


def _mail(session, orgs: dict[str, int], configs: dict[str, int],
          app_user: int) -> dict[str, int]:
    """acme: one mail by the API user "app" to three recipients (delivered, failed,
    deferred) and two block-list entries (one removed); other: one mail, one entry."""
    now = utcnow()
    ids: dict[str, int] = {}
    plan = {"acme": [("ok@example.net", "delivered", None, "250 2.0.0 OK"),
                     ("gone@example.net", "failed", 2, f"550 5.1.1 {SCRIPT}"),
                     ("later@example.net", "deferred", None, "451 4.3.0 try later")],
            "other": [("secret@other.example", "delivered", None, "250 OK")]}
    for name, recipients in plan.items():
        message = MailMessage(organisation_id=orgs[name], server_config_id=configs[name],
                              api_user_id=app_user if name == "acme" else None,
                              mail_from=f"shop@{name}.example", subject=SCRIPT,
                              message_id=f"<{name}@example>", x_api_data="order-7", raw=b"x",
                              created=now - timedelta(minutes=5))
        session.add(message)
        session.flush()
        for n, (rcpt, status, error_status, reply) in enumerate(recipients):
            delivery = Delivery(message_id=message.id, rcpt=rcpt, domain=rcpt.split("@")[1],
                                status=status, error_status=error_status, last_reply=reply,
                                source_ip="192.0.2.7", remote_mta="mx.example.net",
                                verp_token=f"{name}{n:022d}", attempts=1)
            session.add(delivery)
            session.flush()
            ids[rcpt] = delivery.id
    session.add_all([
        Suppression(server_config_id=configs["acme"], address="gone@example.net",
                    reason="userunknown", source_delivery_id=ids["gone@example.net"]),
        Suppression(server_config_id=configs["acme"], address="old@example.net",
                    reason="hostunknown", removed=now - timedelta(days=1)),
        Suppression(server_config_id=configs["other"], address="secret@other.example",
                    reason="userunknown")])
    return ids


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client: TestClient, name: str) -> str:
    """Log in; returns the CSRF token of the new session."""
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={
        "csrf": token, "username": name, "password": name + "-secret"})
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def period() -> dict[str, str]:
    """A period around today in any zone (the rows are from the last two hours)."""
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    return {"start_date": (day - timedelta(days=3)).isoformat(),
            "end_date": (day + timedelta(days=1)).isoformat()}


def search(client: TestClient, config: int, **params: object):
    return client.get("/console/reports/errors", params={"sc": config, **period(), **params})


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="error-(\d+)"', html)]


def test_first_100_hits_ten_per_page_with_the_pager(reports: Reports) -> None:
    client = reports.client()
    login(client, "alice")
    acme = reports.configs["acme"]
    page = search(client, acme)
    assert page.status_code == 200
    html = page.text
    assert f"{ACME_ROWS}件中 1–10件" in html
    assert "最初の100件を表示します" in html  # the note when more than 100 hits exist
    ids = row_ids(html)
    assert len(ids) == 10 and ids[0] == reports.script_error  # newest first
    pages = re.findall(r'<a href="[^"]*page=(\d+)">\d+</a>', html)
    assert pages == [str(n) for n in range(2, 11)]  # 10 pages: the first 100 hits only
    assert 'aria-current="page">1</span>' in html
    last = search(client, acme, page=10).text
    assert f"{ACME_ROWS}件中 91–100件" in last and len(row_ids(last)) == 10
    assert 'rel="next"' not in last and 'rel="prev"' in last
    beyond = search(client, acme, page=11).text  # past the last page: the last page
    assert row_ids(beyond) == row_ids(last)
    seen = {i for n in range(1, 11) for i in row_ids(search(client, acme, page=n).text)}
    assert len(seen) == 100
    # narrowed below 100: no note, fewer pages
    narrow = search(client, acme, to="user00").text  # user001 … user009
    assert "9件中 1–9件" in narrow and "最初の100件" not in narrow
    assert 'rel="next"' not in narrow
    by_status = search(client, acme, status="4").text
    assert 'id="count"' not in by_status and "該当する記録はありません" in by_status
    by_data = search(client, acme, api_data="order-12").text  # order-12, order-120…129
    assert "11件中 1–10件" in by_data
    # the screen is the seed's: columns, required dates, the 12 statuses
    assert all(word in html for word in ("日時", "宛先アドレス", "件名", "エラー理由"))
    assert html.count('required') >= 2 and 'type="date"' in html
    assert len(re.findall(r'<option value="\d+"', html)) == 12
    assert "11 購読解除アドレス" in html and "99 その他" in html


def test_validation_messages_name_the_field(reports: Reports) -> None:
    client = reports.client()
    login(client, "bob")
    acme = reports.configs["acme"]
    cases = [
        ({"start_date": "", "end_date": "2026-11-23"}, "start_date", "検索開始日"),
        ({"start_date": "2026-11-01", "end_date": ""}, "end_date", "検索終了日"),
        ({"start_date": "2026/11/01", "end_date": "2026-11-23"}, "start_date", "YYYY-MM-DD"),
        ({"start_date": "2026-11-23", "end_date": "2026-11-01"}, "end_date", "より前にできません"),
        ({"start_date": "2026-01-01", "end_date": "2026-11-23"}, "end_date", "40日以内"),
        ({**period(), "status": "42"}, "status", "エラーステータス"),
        ({**period(), "to": "x" * 400}, "to", "宛先アドレス"),
    ]
    for params, name, words in cases:
        response = client.get("/console/reports/errors", params={"sc": acme, **params})
        assert response.status_code == 422, params
        message = re.search(r'<p class="error" role="alert" id="search-error" '
                            r'data-field="([^"]+)">([^<]+)</p>', response.text)
        assert message and message.group(1) == name and words in message.group(2), params
        assert not row_ids(response.text)
    english = client.get("/console/reports/errors", params={
        "sc": acme, "start_date": "", "end_date": "2026-11-23", "lang": "en"})
    assert "start_date is required" in english.text and "Error log" in english.text
    assert "Unknown user" in search(client, acme).text  # the cookie keeps English


def test_detail_dialog_has_every_field_and_everything_is_escaped(reports: Reports) -> None:
    client = reports.client()
    login(client, "bob")
    acme = reports.configs["acme"]
    html = search(client, acme).text
    assert SCRIPT not in html and f"{ESCAPED}</td>" in html
    link = f"/console/reports/errors/{reports.script_error}?sc={acme}"
    assert f'hx-get="{link}"' in html and 'hx-target="#dialog-slot"' in html
    dialog = client.get(link, headers={"HX-Request": "true"})
    assert dialog.status_code == 200
    text = dialog.text
    assert text.startswith('<dialog id="detail-dialog"') and "<html" not in text
    for label in ("日時", "エラー理由", "差出人アドレス", "Return-Path", "宛先アドレス", "件名",
                  "メッセージID", "X-Api-Data", "応答メッセージ"):
        assert f"<dt>{label}</dt>" in text, label
    assert "2 ユーザ不明" in text and "userunknown" in text
    assert "script@example.net" in text and "bounces+t0@bounce.localhost" in text
    assert "&lt;m0@acme.example&gt;" in text and "=cmd|&#39; /C calc&#39;!A0" in text
    assert SCRIPT not in text
    assert text.count(ESCAPED) == 3  # subject, X-Api-Data, response
    page = client.get(link)  # without htmx: a whole page with the same fields
    assert "<html" in page.text and "配信詳細" in page.text and "550 " + ESCAPED in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_user_sees_only_the_own_organisation_even_by_guessing_ids(reports: Reports) -> None:
    acme, other = reports.configs["acme"], reports.configs["other"]
    client = reports.client()
    login(client, "alice")
    html = search(client, acme).text
    assert "secret@other.example" not in html and f"sc-{other}" not in html
    assert client.get(f"/console/reports/errors/{reports.other_error}?sc={acme}",
                      headers={"HX-Request": "true"}).status_code == 404
    assert search(client, other).status_code == 404  # another organisation's configuration
    assert client.get(f"/console/reports/errors/{reports.other_error}?sc={other}"
                      ).status_code == 404
    assert client.get(f"/console/reports/errors?sc={acme}&au={reports.other_admin_user}"
                      ).status_code == 404
    assert client.get("/console/reports/errors?sc=abc").status_code == 404
    assert "secret@other.example" not in search(client, acme, to="secret").text
    # one API user: only its own rows
    narrowed = search(client, acme, au=reports.app_user).text
    assert f"{APP_ROWS - 1}件中 1–{APP_ROWS - 1}件" in narrowed
    assert f'id="au-{reports.app_user}" href' in narrowed and 'aria-current="true"' in narrowed
    assert client.get(f"/console/reports/errors/{reports.script_error}?sc={acme}"
                      f"&au={reports.app_user}").status_code == 404  # not the API user's
    # the other organisation's group admin sees only its row
    carol = reports.client()
    login(carol, "carol")
    page = carol.get("/console/reports", params=period()).text  # its default configuration
    assert "1件中 1–1件" in page and "secret@other.example" in page
    assert search(carol, acme).status_code == 404
    # a system administrator sees every organisation's configurations
    root = reports.client()
    login(root, "root")
    page = search(root, other).text
    assert f'id="sc-{acme}"' in page and f'id="sc-{other}"' in page
    assert "secret@other.example" in page and "<h3 class=\"org\">acme</h3>" in page


def _download(client: TestClient, token: str | None, config: int, password: str,
              **criteria: str):
    data = {"sc": str(config), "password": password, **period(), **criteria}
    if token is not None:
        data["csrf"] = token
    return client.post("/console/reports/errors/download", data=data)


def test_download_needs_the_grant_and_gives_the_encrypted_zip(reports: Reports) -> None:
    acme = reports.configs["acme"]
    alice = reports.client()
    token = login(alice, "alice")
    assert 'id="download"' not in search(alice, acme).text  # download=false
    refused = _download(alice, token, acme, "zip-password-1")
    assert refused.status_code == 403 and "ダウンロードは許可されていません" in refused.text
    with reports.store.session() as session:
        org = session.get_one(Organisation, reports.orgs["acme"])
        accounts.set_property(session, org, "download", "true")
    html = search(alice, acme).text
    assert 'id="download"' in html and 'id="download-dialog"' in html
    assert 'minlength="8"' in html
    assert _download(alice, None, acme, "zip-password-1").status_code == 403  # no CSRF token
    short = _download(alice, token, acme, "short")
    assert short.status_code == 422 and "8文字以上" in short.text
    response = _download(alice, token, acme, "zip-password-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        [name] = zf.namelist()
        with pytest.raises(RuntimeError):
            zf.read(name, pwd=b"wrong-password")
        zf.setpassword(b"zip-password-1")
        body = zf.read(name).decode("utf-8")
    assert "\r\n" not in body
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["created", "status", "from", "to", "messageId", "returnPath", "subject",
                       "apiData", "reason"]
    assert len(rows) == 1 + ACME_ROWS  # every hit, not only the first 100
    assert "secret@other.example" not in body
    script = next(r for r in rows if r[3] == "script@example.net")
    assert script[6] == SCRIPT and script[2].startswith("'=")  # formula neutralised
    narrowed = _download(alice, token, acme, "zip-password-1", to="user00")
    with pyzipper.AESZipFile(io.BytesIO(narrowed.content)) as zf:
        zf.setpassword(b"zip-password-1")
        assert len(zf.read(zf.namelist()[0]).decode().splitlines()) == 1 + 9
    # a plain user of the same organisation has no grant, whatever the organisation says
    bob = reports.client()
    bob_token = login(bob, "bob")
    assert 'id="download"' not in search(bob, acme).text
    assert _download(bob, bob_token, acme, "zip-password-1").status_code == 403
    assert bob.get("/console/reports/errors/download").status_code == 405  # POST only
    # another organisation's configuration: not found, not downloadable
    carol = reports.client()
    assert _download(carol, login(carol, "carol"), acme, "zip-password-1").status_code == 404
    # a system administrator may always download
    with reports.store.session() as session:
        org = session.get_one(Organisation, reports.orgs["other"])
        assert org.download_allowed is False
    root = reports.client()
    root_token = login(root, "root")
    assert 'id="download"' in search(root, reports.configs["other"]).text
    assert _download(root, root_token, reports.configs["other"], "zip-password-1"
                     ).status_code == 200


def test_server_configs_and_api_keys_shown_once(reports: Reports) -> None:
    alice = reports.client()
    token = login(alice, "alice")
    overview = alice.get("/console/admin").text
    assert "default" in overview and "other" not in overview
    created = alice.post("/console/admin/servers", data={"csrf": token, "name": "マーケティング",
                                                         "organisation": "999999"})
    assert created.status_code == 403  # not an organisation alice manages
    created = alice.post("/console/admin/servers", data={"csrf": token, "name": "マーケティング"})
    assert created.status_code == 200 and "作成しました" in created.text
    config_url = str(created.url.path)
    config_id = int(config_url.rsplit("/", 1)[1])
    duplicate = alice.post("/console/admin/servers", data={"csrf": token, "name": "マーケティング"})
    assert duplicate.status_code == 422 and "既に存在します" in duplicate.text
    renamed = alice.post(f"{config_url}/rename", data={"csrf": token, "name": SCRIPT})
    assert renamed.status_code == 200 and ESCAPED in renamed.text and SCRIPT not in renamed.text
    page = alice.post(f"{config_url}/api-users", data={"csrf": token, "name": "mailer",
                                                      "is_admin": "1"})
    assert page.status_code == 200 and "今だけ表示されます" in page.text
    assert page.headers["cache-control"] == "no-store"
    key = re.search(r'<p class="secret" id="api-key">(tdk_[A-Za-z0-9_-]+)</p>', page.text)
    assert key
    api_key = key.group(1)
    listing = alice.get(config_url).text
    assert api_key not in listing and api_key[:12] in listing  # only the prefix, never again
    assert api_key not in alice.get("/console/admin").text
    with reports.store.session() as session:
        user = session.scalar(select(ApiUser).where(ApiUser.server_config_id == config_id))
        assert user is not None and user.is_admin and user.name == "mailer"
        assert user.key_hash == accounts.hash_api_key(api_key)
        user_id = user.id
    # the key works against the API, and only for its server configuration
    api = reports.client()
    assert api.get("/v1/fax/jobs", headers={"Authorization": f"Bearer {api_key}"}
                   ).status_code == 200
    bad = alice.post(f"{config_url}/api-users", data={"csrf": token, "name": "mailer"})
    assert bad.status_code == 422 and "既に存在します" in bad.text
    assert alice.post(f"{config_url}/api-users", data={"csrf": token, "name": "a b"}
                      ).status_code == 422
    # a new key replaces the old one; revoking stops the key
    renewed = alice.post(f"{config_url}/api-users/{user_id}/regenerate", data={"csrf": token})
    new_key = re.search(r'id="api-key">(tdk_[^<]+)</p>', renewed.text)
    assert new_key and new_key.group(1) != api_key
    with reports.store.read() as session:
        assert accounts.find_api_user(session, api_key) is None
        assert accounts.find_api_user(session, new_key.group(1)) is not None
    revoked = alice.post(f"{config_url}/api-users/{user_id}/revoke", data={"csrf": token})
    assert "無効にしました" in revoked.text and 'data-status="revoked"' in revoked.text
    with reports.store.read() as session:
        assert accounts.find_api_user(session, new_key.group(1)) is None
    # the new configuration and its API user appear in the reports' chooser
    chooser = alice.get("/console/reports/errors").text
    assert f'id="sc-{config_id}"' in chooser and ">mailer</a>" in chooser
    # other organisations and plain users: not found / forbidden
    carol = reports.client()
    carol_token = login(carol, "carol")
    assert carol.get(config_url).status_code == 404
    assert carol.post(f"{config_url}/api-users", data={"csrf": carol_token, "name": "x"}
                      ).status_code == 404
    assert carol.post(f"/console/admin/servers/{reports.configs['acme']}/api-users/"
                      f"{reports.app_user}/revoke", data={"csrf": carol_token}).status_code == 404
    assert carol.post(f"/console/admin/servers/{reports.configs['other']}/api-users/"
                      f"{reports.app_user}/revoke", data={"csrf": carol_token}).status_code == 404
    bob = reports.client()
    login(bob, "bob")
    assert bob.get("/console/admin").status_code == 403
    with reports.store.read() as session:
        assert session.get_one(ApiUser, reports.app_user).disabled is False


def test_posts_without_the_csrf_token_change_nothing(reports: Reports) -> None:
    alice = reports.client()
    login(alice, "alice")
    acme = reports.configs["acme"]
    base = f"/console/admin/servers/{acme}"
    for url, data in ((("/console/admin/servers"), {"name": "x"}),
                      (f"{base}/rename", {"name": "renamed"}),
                      (f"{base}/api-users", {"name": "sneaky"}),
                      (f"{base}/api-users/{reports.app_user}/regenerate", {}),
                      (f"{base}/api-users/{reports.app_user}/revoke", {}),
                      (f"/console/admin/orgs/{reports.orgs['acme']}/download",
                       {"download": "1"})):
        for token in (None, "forged"):
            sent = dict(data, csrf=token) if token else data
            response = alice.post(url, data=sent)
            assert response.status_code == 403, url
            assert "CSRF" in response.text
    with reports.store.read() as session:
        assert [c.name for c in session.scalars(select(ServerConfig).where(
            ServerConfig.organisation_id == reports.orgs["acme"]))] == ["default"]
        assert session.scalar(select(ApiUser).where(ApiUser.name == "sneaky")) is None
        assert session.get_one(ApiUser, reports.app_user).disabled is False
        assert session.get_one(Organisation, reports.orgs["acme"]).download_allowed is False


def test_the_download_grant_checkbox(reports: Reports) -> None:
    acme_id, other_id = reports.orgs["acme"], reports.orgs["other"]
    alice = reports.client()
    token = login(alice, "alice")  # a group administrator sees the grant, cannot change it
    page = alice.get("/console/admin").text
    assert f'id="download-{acme_id}" disabled' in page
    assert alice.post(f"/console/admin/orgs/{acme_id}/download",
                      data={"csrf": token, "download": "1"}).status_code == 403
    ada = reports.client()
    token = login(ada, "ada")  # the organisation's administrator may
    page = ada.post(f"/console/admin/orgs/{acme_id}/download",
                    data={"csrf": token, "download": "1"}).text
    assert "保存しました" in page and f'id="download-{acme_id}" checked' in page
    assert ada.post(f"/console/admin/orgs/{other_id}/download",
                    data={"csrf": token, "download": "1"}).status_code == 403
    root = reports.client()
    token = login(root, "root")  # a system administrator, for every organisation
    page = root.get("/console/admin").text
    assert f'id="org-{acme_id}"' in page and f'id="org-{other_id}"' in page
    root.post(f"/console/admin/orgs/{other_id}/download", data={"csrf": token, "download": "1"})
    root.post(f"/console/admin/orgs/{acme_id}/download", data={"csrf": token})
    with reports.store.read() as session:
        assert session.get_one(Organisation, other_id).download_allowed is True
        assert session.get_one(Organisation, acme_id).download_allowed is False
    created = root.post("/console/admin/servers", data={
        "csrf": token, "name": "root-made", "organisation": str(other_id)})
    assert created.status_code == 200 and "other" in created.text


def test_delivery_log_tab(reports: Reports) -> None:
    acme, other = reports.configs["acme"], reports.configs["other"]
    ids = reports.deliveries
    alice = reports.client()
    token = login(alice, "alice")
    page = alice.get("/console/reports/deliveries", params={"sc": acme, **period()})
    assert page.status_code == 200
    html = page.text
    assert "3件中 1–3件" in html and SCRIPT not in html and ESCAPED in html
    assert "secret@other.example" not in html
    assert all(word in html for word in ("配信成功", "配信失敗", "再送待ち"))
    assert "2 ユーザ不明" in html
    ok = alice.get("/console/reports/deliveries", params={
        "sc": acme, **period(), "status": "succeeded"}).text
    assert "1件中 1–1件" in ok and "ok@example.net" in ok
    bad = alice.get("/console/reports/deliveries", params={
        "sc": acme, **period(), "status": "bounced"})
    assert bad.status_code == 422 and 'data-field="status"' in bad.text
    by_user = alice.get("/console/reports/deliveries", params={
        "sc": acme, "au": reports.app_user, **period()}).text
    assert "3件中" in by_user
    dialog = alice.get(f"/console/reports/deliveries/{ids['gone@example.net']}?sc={acme}",
                       headers={"HX-Request": "true"}).text
    assert dialog.startswith('<dialog id="detail-dialog"')
    assert "192.0.2.7" in dialog and "mx.example.net" in dialog and "order-7" in dialog
    assert f"550 5.1.1 {ESCAPED}" in dialog and SCRIPT not in dialog
    assert "bounces+acme" in dialog
    assert alice.get(f"/console/reports/deliveries/{ids['secret@other.example']}?sc={acme}"
                     ).status_code == 404
    assert alice.get(f"/console/reports/deliveries?sc={other}").status_code == 404
    # download: refused without the grant, an encrypted ZIP with it
    data = {"csrf": token, "sc": str(acme), "password": "zip-password-1", **period()}
    assert alice.post("/console/reports/deliveries/download", data=data).status_code == 403
    with reports.store.session() as session:
        accounts.set_property(session, session.get_one(Organisation, reports.orgs["acme"]),
                              "download", "true")
    assert 'id="download"' in alice.get("/console/reports/deliveries").text
    response = alice.post("/console/reports/deliveries/download", data=data)
    assert response.status_code == 200
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"zip-password-1")
        rows = list(csv.reader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
    assert rows[0][:4] == ["created", "status", "from", "to"] and len(rows) == 4
    assert sorted(r[3] for r in rows[1:]) == ["gone@example.net", "later@example.net",
                                              "ok@example.net"]
    bob = reports.client()
    data["csrf"] = login(bob, "bob")
    assert bob.post("/console/reports/deliveries/download", data=data).status_code == 403


def test_block_list_tab_and_removal(reports: Reports) -> None:
    acme, other = reports.configs["acme"], reports.configs["other"]
    bob = reports.client()
    bob_token = login(bob, "bob")
    page = bob.get(f"/console/reports/blocks?sc={acme}").text
    assert "1件中 1–1件" in page and 'data-email="gone@example.net"' in page
    assert "old@example.net" not in page and "secret@other.example" not in page
    assert 'class="danger remove"' not in page  # only administrators remove
    assert bob.post("/console/reports/blocks/remove", data={
        "csrf": bob_token, "sc": str(acme), "email": "gone@example.net"}).status_code == 403
    removed = bob.get(f"/console/reports/blocks?sc={acme}&removed=true").text
    assert 'data-email="old@example.net"' in removed and "gone@example.net" not in removed
    assert "gone@" in bob.get(f"/console/reports/blocks?sc={acme}&email=gon").text
    nothing = bob.get(f"/console/reports/blocks?sc={acme}&email=zzz").text
    assert "該当する記録はありません" in nothing
    narrowed = bob.get(f"/console/reports/blocks?sc={acme}&au={reports.app_user}").text
    assert 'data-email="gone@example.net"' in narrowed  # caused by the API user's own mail

    alice = reports.client()
    token = login(alice, "alice")
    page = alice.get(f"/console/reports/blocks?sc={acme}").text
    assert 'class="danger remove"' in page
    form = {"sc": str(acme), "email": "gone@example.net"}
    assert alice.post("/console/reports/blocks/remove", data=form).status_code == 403  # CSRF
    assert alice.post("/console/reports/blocks/remove", data={
        **form, "csrf": token, "sc": str(other)}).status_code == 404
    assert alice.post("/console/reports/blocks/remove", data={
        "csrf": token, "sc": str(acme), "email": "secret@other.example"}).status_code == 404
    done = alice.post("/console/reports/blocks/remove", data={**form, "csrf": token})
    assert done.status_code == 200 and "配信停止を解除しました" in done.text
    assert "gone@example.net" not in done.text.split('id="block-search"')[1]
    with reports.store.read() as session:
        rows = {s.address: s.removed for s in session.scalars(select(Suppression))}
    assert rows["gone@example.net"] is not None and rows["secret@other.example"] is None
    assert alice.post("/console/reports/blocks/remove", data={**form, "csrf": token}
                      ).status_code == 404  # not on the list any more

    carol = reports.client()
    login(carol, "carol")
    page = carol.get("/console/reports/blocks").text
    assert 'data-email="secret@other.example"' in page and "example.net" not in page
    # the download: a system administrator; a ZIP of the entries found
    root = reports.client()
    root_token = login(root, "root")
    response = root.post("/console/reports/blocks/download", data={
        "csrf": root_token, "sc": str(acme), "removed": "true", "password": "zip-password-1"})
    assert response.status_code == 200
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"zip-password-1")
        rows_csv = list(csv.reader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
    assert rows_csv[0] == ["created", "email", "reason", "removed"]
    assert sorted(r[1] for r in rows_csv[1:]) == ["gone@example.net", "old@example.net"]
    assert carol.post("/console/reports/blocks/download", data={
        "csrf": csrf_of(page), "sc": str(other), "password": "zip-password-1"}
        ).status_code == 403


def test_webhooks_secret_shown_once_switch_test_delete(reports: Reports) -> None:
    acme, other = reports.configs["acme"], reports.configs["other"]
    base = f"/console/admin/servers/{acme}/webhooks"
    alice = reports.client()
    token = login(alice, "alice")
    page = alice.get(base)
    assert page.status_code == 200 and "記録はありません" in page.text
    assert f'href="{base}"' in alice.get(f"/console/admin/servers/{acme}").text
    url = f"https://hooks.example.jp/todoke?x={SCRIPT}"
    assert alice.post(base, data={"url": url, "events": "bounces"}).status_code == 403  # CSRF
    bad = alice.post(base, data={"csrf": token, "url": "ftp://hooks.example.jp/",
                                 "events": "bounces"})
    assert bad.status_code == 422 and "http:// または https://" in bad.text
    assert 'value="ftp://hooks.example.jp/"' in bad.text  # what was typed stays
    none = alice.post(base, data={"csrf": token, "url": "https://hooks.example.jp/"})
    assert none.status_code == 422 and "イベントを1つ以上" in none.text
    added = alice.post(base, data={"csrf": token, "url": url,
                                   "events": ["deliveries", "bounces"]})
    assert added.status_code == 200 and "今だけ表示されます" in added.text
    secret = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9_-]+)</p>', added.text)
    assert secret and SCRIPT not in added.text
    listing = alice.get(base).text
    assert secret.group(1) not in listing and SCRIPT not in listing and ESCAPED in listing
    with reports.store.read() as session:
        [hook] = manage.list_webhooks(session, acme)
        assert hook.secret == secret.group(1) and hook.events == "deliveries,bounces"
        hook_id = hook.id
    assert f'id="webhook-{hook_id}" data-enabled="true"' in listing
    page = alice.post(f"{base}/{hook_id}/disable", data={"csrf": token}).text
    assert f'id="webhook-{hook_id}" data-enabled="false"' in page and "保存しました" in page
    page = alice.post(f"{base}/{hook_id}/enable", data={"csrf": token}).text
    assert f'id="webhook-{hook_id}" data-enabled="true"' in page
    page = alice.post(f"{base}/{hook_id}/test", data={"csrf": token}).text
    assert "テストイベントを送信待ちにしました" in page
    with reports.store.read() as session:
        assert manage.pending(session, [hook_id]) == {hook_id: 1}
    # another organisation: not found, by page or by guessing the webhook's id
    carol = reports.client()
    carol_token = login(carol, "carol")
    assert carol.get(base).status_code == 404
    assert carol.post(f"{base}/{hook_id}/delete", data={"csrf": carol_token}
                      ).status_code == 404
    assert carol.post(f"/console/admin/servers/{other}/webhooks/{hook_id}/delete",
                      data={"csrf": carol_token}).status_code == 404
    bob = reports.client()
    assert bob.post(f"{base}/{hook_id}/delete", data={"csrf": login(bob, "bob")}
                    ).status_code == 403
    page = alice.post(f"{base}/{hook_id}/delete", data={"csrf": token}).text
    assert "削除しました" in page and f'id="webhook-{hook_id}"' not in page
    with reports.store.read() as session:
        assert manage.list_webhooks(session, acme) == []

"""Web console in a real browser (Debian's Chromium through Playwright) against `todoke serve`:
log in, set retries to 0, fax by SMTP, watch the failure (6017) in the history, resend it;
send mail that a relay on 127.0.0.1 refuses, search the error log by partial address, open the
detail dialog, download the encrypted ZIP and open it, and check that a group administrator
without the download grant sees no download button and gets 403 from the download URL.
Saves screenshots of the main pages to docs/screenshots/ (linked from the README)."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pyzipper
from aiosmtpd.controller import Controller
from sqlalchemy import select

from todoke import accounts
from todoke.store.db import Store
from todoke.store.models import ConsoleUser, Organisation, ServerConfig

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SENDER = "orders@example.jp"
NUMBER = "0311112222"
SUBJECT = "<script>window.pwned = 1</script> 注文書 11月"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing (scripts/system-deps installs it)")
        pytest.skip("/usr/bin/chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login_settings_fail_and_resend_in_the_browser(tmp_path: Path, make_gateway: Any,
                                                       browser: Any) -> None:
    url = f"sqlite:///{tmp_path / 'todoke.db'}"
    gw = make_gateway(url, simulator={"numbers": {NUMBER: ["6017", "0"]}})
    gw.api_key = gw.create_account("acme", SENDER)
    store = Store(url)
    with store.session() as session:
        org = session.scalar(select(Organisation).where(Organisation.name == "acme"))
        assert org is not None
        session.add(ConsoleUser(username="tanaka", organisation_id=org.id, role="group_admin",
                                password_hash=accounts.hash_password("tanaka-password")))
    gw.start()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(gw.base_url + "/")
    assert page.url.endswith("/console/login")
    page.fill("#username", "tanaka")
    page.fill("#password", "wrong")
    page.click("#login")
    assert "ユーザー名またはパスワードが違います" in page.inner_text(".error")
    page.fill("#username", "tanaka")
    page.fill("#password", "tanaka-password")
    _shot(page, "login")
    page.click("#login")
    page.wait_for_url("**/console/history")
    assert page.inner_text("h1") == "送信履歴"

    # retries: 3 → 0, saved
    page.click("nav.tabs >> text=プロパティ")
    assert page.input_value("#retries") == "3"
    page.select_option("#retries", "0")
    page.click("#save-settings")
    assert "保存しました" in page.inner_text(".flash")
    assert page.input_value("#retries") == "0"
    _shot(page, "settings")
    with store.read() as session:
        assert session.scalar(select(Organisation.fax_retries).where(
            Organisation.name == "acme")) == 0

    # a fax by SMTP: the line is busy, no retries, so the history shows it failed with 6017
    assert gw.send(SENDER, [f"{NUMBER}@fax.localhost"], subject=SUBJECT).startswith("250")
    page.click("nav.tabs >> text=送信履歴")
    failed = page.locator('tr[data-status="failed"]')
    failed.wait_for(timeout=60_000)  # htmx refreshes the table while the fax is on its way
    row = failed.inner_text()
    assert "6017" in row and "話中" in row and "相手の回線が話中でした" in row
    assert "1/1" in row  # one attempt of one: retries=0 took effect
    assert page.locator("tr[data-status] .subject").first.inner_text() == SUBJECT
    assert page.evaluate("window.pwned") is None  # the subject is text, not a script
    _shot(page, "history-failed")

    # the line is free now; resend from the history and watch it succeed
    gw.write_simulator({"numbers": {NUMBER: ["0"]}})
    failed.locator("button.resend").click()
    assert "再送信を受け付けました" in page.inner_text(".flash")
    done = page.locator('tr[data-status="done"][data-code="0"]')
    done.wait_for(timeout=60_000)
    assert "再送元" in done.inner_text()
    assert page.locator('tr[data-status="failed"]').count() == 1
    _shot(page, "history")

    # English, and the page on a phone
    page.goto(gw.base_url + "/console/history?lang=en")
    assert page.inner_text("h1") == "Send history"
    assert "Busy" in page.locator('tr[data-status="failed"]').inner_text()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                storage_state=context.storage_state())
    mobile = phone.new_page()
    mobile.goto(gw.base_url + "/console/history?lang=ja")
    assert mobile.locator('tr[data-status="done"]').count() == 1
    _shot(mobile, "history-phone")
    phone.close()

    page.click("#logout")
    page.wait_for_url("**/console/login")
    page.goto(gw.base_url + "/console/history")
    assert page.url.endswith("/console/login")
    context.close()
    store.dispose()


class RefusingRelay:
    """TODOKE_RELAY on 127.0.0.1: refuses ``nobody…@`` at RCPT like Postfix, takes the rest."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.lower().startswith("nobody"):
            return (f"550 5.1.1 <{address}>: Recipient address rejected: "
                    "User unknown in virtual mailbox table")
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 OK"


@pytest.fixture
def relay_port() -> Iterator[int]:
    from tests.conftest import free_port

    port = free_port()
    controller = Controller(RefusingRelay(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _login(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url("**/console/history")


def _wait_for_errors(gw: Any, count: int) -> None:
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    params = {"start_date": str(day - timedelta(days=1)), "end_date": str(day + timedelta(days=1))}
    deadline = time.monotonic() + 60
    total = -1
    while time.monotonic() < deadline:
        response = gw.api("GET", "/v1/errors", params=params)
        total = response.json().get("total", -1) if response.status_code == 200 else -1
        if total >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the error log has {total} rows, expected {count}")


def test_error_log_search_detail_download_and_admin_in_the_browser(
        tmp_path: Path, make_gateway: Any, browser: Any, relay_port: int) -> None:
    url = f"sqlite:///{tmp_path / 'todoke.db'}"
    gw = make_gateway(url, TODOKE_RELAY=f"127.0.0.1:{relay_port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.cli("accounts", "set", "acme", "download=true")
    gw.create_account("beta", "fax@beta.example")  # no download grant
    store = Store(url)
    with store.session() as session:
        orgs = {o.name: o.id for o in session.scalars(select(Organisation))}
        configs = {name: session.scalar(select(ServerConfig.id).where(
            ServerConfig.organisation_id == org_id)) for name, org_id in orgs.items()}
        for name, org in (("tanaka", "acme"), ("sato", "beta")):
            session.add(ConsoleUser(username=name, organisation_id=orgs[org],
                                    role="group_admin",
                                    password_hash=accounts.hash_password(name + "-password")))
    gw.start()

    # twelve recipients the relay refuses (550 5.1.1), one it takes
    refused = [f"nobody{n:02d}@example.net" for n in range(1, 13)]
    response = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": [*refused, "taro@example.net"], "subject": SUBJECT,
        "text": "ご注文ありがとうございます。\n", "headers": {"X-Api-Data": "order-42"}})
    assert response.status_code == 202, response.text
    _wait_for_errors(gw, len(refused))

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP",
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _login(page, gw.base_url, "tanaka", "tanaka-password")
    page.click("nav.tabs >> text=配信レポート")
    page.wait_for_url("**/console/reports/errors**")
    assert page.inner_text("#tab-errors") == "エラーログ"
    assert page.inner_text("#count") == "12件中 1–10件"
    assert page.locator("#errors tbody tr").count() == 10
    assert page.locator(".pager a", has_text="2").count() == 1  # the pager, top right
    _shot(page, "reports-errors")

    # "+" folds the server configuration's API users away and back; choose the API user
    sc = page.locator(f"#sc-{configs['acme']}")
    assert sc.get_attribute("open") is not None
    sc.locator(".toggle").click()
    assert sc.get_attribute("open") is None
    sc.locator(".toggle").click()
    sc.locator(".api-users a", has_text="admin").click()
    page.wait_for_url("**au=*")
    assert "admin" in page.inner_text("#selection")

    # search by part of the address
    page.fill("#to", "nobody1")
    page.click("#search")
    page.wait_for_url("**to=nobody1**")
    rows = page.locator("#errors tbody tr")
    assert page.inner_text("#count") == "3件中 1–3件" and rows.count() == 3
    assert sorted(rows.locator(".detail-link").all_inner_texts()) == [
        "nobody10@example.net", "nobody11@example.net", "nobody12@example.net"]
    assert rows.first.locator(".subject").inner_text() == SUBJECT
    assert "2 ユーザ不明" in rows.first.inner_text()

    # the detail dialog, loaded by htmx
    rows.first.locator(".detail-link").click()
    dialog = page.locator("#detail-dialog")
    dialog.wait_for(state="visible")
    fields = dialog.inner_text()
    assert SUBJECT in fields and "order-42" in fields and SENDER in fields
    assert "User unknown in virtual mailbox table" in fields and "bounces+" in fields
    assert page.evaluate("window.pwned") is None  # subjects are text, never script
    _shot(page, "reports-detail")
    page.click("#close-detail")
    dialog.wait_for(state="hidden")

    # the download dialog: an AES ZIP of every hit, opened with the password
    page.click("#download")
    page.locator("#download-dialog").wait_for(state="visible")
    page.fill("#zip-password", "zip-password-42")
    _shot(page, "reports-download")
    with page.expect_download() as download_info:
        page.click("#download-submit")
    zip_path = download_info.value.path()
    with pyzipper.AESZipFile(zip_path) as zf:
        [name] = zf.namelist()
        with pytest.raises(RuntimeError):
            zf.read(name, pwd=b"not-the-password")
        zf.setpassword(b"zip-password-42")
        rows_csv = list(csv.reader(io.StringIO(zf.read(name).decode("utf-8"))))
    assert rows_csv[0][:4] == ["created", "status", "from", "to"]
    assert sorted(r[3] for r in rows_csv[1:]) == [
        "nobody10@example.net", "nobody11@example.net", "nobody12@example.net"]
    assert {r[1] for r in rows_csv[1:]} == {"2"} and rows_csv[1][6] == SUBJECT

    # the delivery log and the block list of the same mail
    page.click("#tab-deliveries")
    page.wait_for_url("**/reports/deliveries**")
    assert page.inner_text("#count") == "13件中 1–10件"
    _shot(page, "reports-deliveries")
    page.click("#tab-blocks")
    page.wait_for_url("**/reports/blocks**")
    assert page.inner_text("#count") == "12件中 1–10件"  # every hard bounce, none for taro
    page.fill("#email", "nobody01")
    page.click("#search")
    page.wait_for_url("**email=nobody01**")
    blocked = page.locator('tr[data-email="nobody01@example.net"]')
    assert page.locator("#blocks tbody tr").count() == 1 and blocked.count() == 1
    _shot(page, "reports-blocks")
    blocked.locator("button.remove").click()
    assert "配信停止を解除しました" in page.inner_text(".flash")
    assert page.inner_text("#count") == "11件中 1–10件"

    # administration: a new API user's key is shown once
    page.click("nav.tabs a[href=\"/console/admin\"]")
    _shot(page, "admin")
    page.locator(f"#config-{configs['acme']} a").click()
    page.fill("#api-user-name", "mailer")
    page.click("#create-api-user")
    key = page.inner_text("#api-key")
    assert key.startswith("tdk_")
    _shot(page, "admin-api-key")
    page.click("#back-to-config")
    assert page.locator('tr[data-name="mailer"]').count() == 1
    assert key not in page.content()
    assert gw.api("GET", "/v1/fax/jobs", key).status_code == 200  # the key works
    _shot(page, "admin-server")
    page.click("#webhooks-link")
    page.fill("#webhook-url", "https://hooks.example.jp/todoke/events")
    page.uncheck("#event-deliveries")
    page.click("#add-webhook")
    secret = page.inner_text("#webhook-secret")
    assert secret.startswith("whsec_")
    page.click("#back-to-webhooks")
    assert page.locator('#webhooks tr[data-enabled="true"]').count() == 1
    assert secret not in page.content()
    _shot(page, "admin-webhooks")

    # English, and the reports on a phone
    page.goto(gw.base_url + "/console/reports/errors?lang=en")
    assert page.inner_text("#tab-errors") == "Error log"
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                storage_state=context.storage_state())
    mobile = phone.new_page()
    mobile.goto(gw.base_url + "/console/reports/errors?lang=ja")
    assert mobile.locator("#errors tbody tr").count() == 10
    _shot(mobile, "reports-phone")
    phone.close()
    context.close()

    # a group administrator without the grant: no button, and 403 from the download URL
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page = other.new_page()
    _login(page, gw.base_url, "sato", "sato-password")
    page.goto(gw.base_url + "/console/reports/errors")
    assert page.locator("#error-search").count() == 1
    assert page.locator("#download").count() == 0
    assert page.locator("#download-dialog").count() == 0
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    answer = page.request.post(gw.base_url + "/console/reports/errors/download", form={
        "csrf": page.locator("input[name=csrf]").first.input_value(),
        "sc": str(configs["beta"]), "start_date": str(day - timedelta(days=1)),
        "end_date": str(day), "password": "zip-password-42"})
    assert answer.status == 403
    assert "ダウンロードは許可されていません" in answer.text()
    other.close()
    store.dispose()

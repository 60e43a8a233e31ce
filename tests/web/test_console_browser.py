"""Web console in a real browser (Debian's Chromium through Playwright) against `todoke serve`:
log in, set retries to 0, fax by SMTP, watch the failure (6017) in the history, resend it.
Saves screenshots of the main pages to docs/screenshots/ (linked from the README)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from todoke import accounts
from todoke.store.db import Store
from todoke.store.models import ConsoleUser, Organisation

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

"""Account policies: the password lock, lists and list sends, the credit limit, SMTP limits."""

from __future__ import annotations

import smtplib
import ssl
import time

import pytest
from sqlalchemy import select
from tests.test_submission import FAX, mail

from todoke.accounts import create_account, get_account, set_list, set_property
from todoke.config import Settings
from todoke.ingest import checks
from todoke.ingest.faxmail import FaxMailIntake
from todoke.store.models import FaxJob, Outbox

PW = "pw@example.jp"


@pytest.fixture
def intake(store, tmp_path):
    settings = Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path),
                                  "TODOKE_MINUTE_SECONDS": "0.02"})
    with store.session() as session:
        org = create_account(session, "pw", [PW]).organisation
        set_property(session, org, "fax.require_password", "true")
        set_property(session, org, "fax.password", "s3cret")
        set_list(session, org, "clients", ["03-1111-1111", "03-2222-2222"])
    intake = FaxMailIntake(settings, store)
    yield intake
    intake.close()


def _send(intake, body, rcpt=FAX):
    return intake.accept_sync(PW, [rcpt], mail(PW, body))


def test_three_wrong_passwords_lock_the_account_for_an_hour(store, intake):
    bad = f"550 5.7.1 {checks.BAD_PASSWORD}"
    assert _send(intake, "Password: s3cret\nhello\n").startswith("250")
    for _ in range(3):
        assert _send(intake, "Password: guess\nhello\n") == bad
    with store.session() as session:
        org = get_account(session, "pw")
        assert org.failed_logins == 3 and org.locked_until is not None
    # locked: even the right password is refused, and a list send fails with 207000
    assert _send(intake, "Password: s3cret\nhello\n") == bad
    reply = _send(intake, "Password: s3cret\nto the list\n", "list-clients@fax.localhost")
    assert reply == bad  # the password check comes first while locked
    with store.session() as session:
        set_property(session, get_account(session, "pw"), "fax.require_password", "false")
    reply = _send(intake, "to the list\n", "list-clients@fax.localhost")
    assert reply.startswith("250 2.0.0 OK queued"), reply
    with store.session() as session:
        [job] = session.scalars(select(FaxJob).where(FaxJob.list_send_id.is_not(None))).all()
        assert (job.status, job.result_code, job.number) == ("failed", "207000", "list-clients")
        [notice] = session.scalars(select(Outbox).where(Outbox.fax_job_id == job.id)).all()
        assert b"207000" in notice.raw or b"MjA3MDAw" in notice.raw
        set_property(session, get_account(session, "pw"), "fax.require_password", "true")
    # the lock ends by itself after 60 (scaled) minutes
    time.sleep(60 * 0.02 + 0.2)
    assert _send(intake, "Password: s3cret\nhello\n").startswith("250")
    with store.session() as session:
        assert get_account(session, "pw").failed_logins == 0


def test_an_administrator_can_unlock(store, intake):
    for _ in range(3):
        _send(intake, "Password: guess\n")
    with store.session() as session:
        set_property(session, get_account(session, "pw"), "locked", "false")
    assert _send(intake, "Password: s3cret\nhello\n").startswith("250")


def test_list_send_makes_one_job_per_number(store, intake):
    reply = _send(intake, "Password: s3cret\nhello\n", "list-Clients@fax.localhost")
    assert reply.startswith("250 2.0.0 OK queued") and "(2 fax)" in reply
    with store.session() as session:
        numbers = sorted(j.number for j in session.scalars(select(FaxJob)))
    assert numbers == ["0311111111", "0322222222"]
    missing = _send(intake, "Password: s3cret\nhello\n", "list-nobody@fax.localhost")
    assert missing == f"550 5.1.3 {checks.NO_RECIPIENTS}"


@pytest.mark.slow
def test_list_history_and_resend_failed_only(database_url, make_gateway):
    gw = make_gateway(database_url, {"numbers": {"0322222222": ["6017"]}})
    gw.api_key = gw.create_account("acme", "a@example.jp")
    gw.cli("accounts", "set", "acme", "fax.retries=0", "fax.notify=never")
    gw.cli("lists", "set", "acme", "clients", "03-1111-1111", "03-2222-2222", "0333333333")
    bad = gw.cli("lists", "set", "acme", "bad", "0311111111", "abc", check=False)
    assert bad.returncode == 2 and "abc" in bad.stderr
    gw.start()
    assert gw.send("a@example.jp", ["list-clients@fax.localhost"]).startswith("250")
    gw.wait_jobs_final(3)
    [send] = gw.api("GET", "/v1/fax/list-sends").json()
    assert (send["list_name"], send["total"], send["status"]) == ("clients", 3, "partly failed")
    assert send["counts"] == {"done": 2, "failed": 1}
    gw.write_simulator({"numbers": {}})
    response = gw.api("POST", f"/v1/fax/list-sends/{send['id']}/resend-failed")
    assert response.status_code == 202, response.text
    jobs = gw.wait_jobs_final(4)
    assert sum(1 for j in jobs if j["number"] == "0322222222") == 2
    assert sum(1 for j in jobs if j["number"] == "0311111111") == 1  # not sent again
    [send] = gw.api("GET", "/v1/fax/list-sends").json()
    assert (send["total"], send["status"], send["counts"]) == (3, "done", {"done": 3})
    again = gw.api("POST", f"/v1/fax/list-sends/{send['id']}/resend-failed")
    assert again.status_code == 409
    lists = gw.api("GET", "/v1/fax/lists").json()
    assert lists == [{"name": "clients", "numbers": ["0311111111", "0322222222", "0333333333"]}]
    assert gw.api("PUT", "/v1/fax/lists/x y", json={"numbers": []}).status_code == 422


@pytest.mark.slow
def test_credit_limit_holds_then_fails_or_sends(database_url, make_gateway):
    gw = make_gateway(database_url, TODOKE_MINUTE_SECONDS="0.004")
    gw.api_key = gw.create_account("acme", "a@example.jp")
    gw.cli("accounts", "set", "acme", "credit_limit=1", "page_price=1", "fax.notify=never")
    gw.start()
    assert gw.send("a@example.jp", ["0311111111@fax.localhost"]).startswith("250")
    gw.wait_jobs_final(1)
    assert gw.send("a@example.jp", ["0322222222@fax.localhost"]).startswith("250")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        held = [j for j in gw.jobs() if j["status"] == "held"]
        if held:
            break
        time.sleep(0.05)
    assert held and held[0]["result_code"] == "-22"
    # 24 (scaled) hours later it fails with 205000
    [failed, _first] = gw.wait_jobs_final(2, timeout=60)
    assert (failed["status"], failed["result_code"], failed["attempts"]) == ("failed", "205000", 0)
    # raising the limit lets a held fax go
    assert gw.send("a@example.jp", ["0333333333@fax.localhost"]).startswith("250")
    deadline = time.monotonic() + 20  # queued → active → held as the worker gets to it
    while gw.jobs()[0]["status"] != "held" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gw.jobs()[0]["status"] == "held"
    gw.cli("accounts", "set", "acme", "credit_limit=100")
    newest = gw.wait_jobs_final(3)[0]
    assert (newest["status"], newest["result_code"]) == ("done", "0")


@pytest.mark.slow
def test_smtp_limits_and_starttls(tmp_path, make_gateway):
    gw = make_gateway(f"sqlite:///{tmp_path / 'h.db'}", TODOKE_MAX_MESSAGE_SIZE="20000")
    gw.api_key = gw.create_account("acme", "a@example.jp")
    gw.start()
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250
        assert smtp.has_extn("starttls") and smtp.esmtp_features["size"] == "20000"
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        smtp.starttls(context=context)
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert not smtp.sendmail("a@example.jp", [FAX], mail("a@example.jp", "over TLS\n"))
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("a@example.jp")
        codes = [smtp.rcpt(f"03{n:08d}@fax.localhost")[0] for n in range(501)]
        assert codes[:500] == [250] * 500 and codes[500] == 452
        smtp.rset()
        smtp.mail("a@example.jp")
        smtp.rcpt(FAX)
        code, reply = smtp.data(b"Subject: x\r\n\r\n" + b"y" * 1200 + b"\r\n")
        assert code == 500 and b"Line too long" in reply  # RFC 5321 4.5.3.1.6
        smtp.rset()
        with pytest.raises(smtplib.SMTPSenderRefused) as too_big:
            smtp.sendmail("a@example.jp", [FAX], mail("a@example.jp", "x" * 30000))
        assert too_big.value.smtp_code == 552
    assert len(gw.jobs()) == 1

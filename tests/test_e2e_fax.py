"""End to end over real SMTP: a gateway subprocess, the simulator, a sink catching mail."""

from __future__ import annotations

import email
from email.policy import default

import httpx
import pytest

pytestmark = pytest.mark.slow

SENDER = "orders@example.jp"
BUSY_THEN_OK = "0312345678"
ALWAYS_BUSY = "0311112222"
BREAKS = "0322223333"


def _text(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=default)
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _subject(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=default)["Subject"])


def test_busy_retries_then_sends_and_failure_notice(database_url, make_gateway, smtp_sink):
    simulator = {"numbers": {BUSY_THEN_OK: ["6017", "6017", "6017", "0"],
                             ALWAYS_BUSY: ["6017"]}, "default": "0"}
    gw = make_gateway(database_url, simulator, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    reply = gw.send(SENDER, [f"{BUSY_THEN_OK}@fax.localhost", "03-1111-2222@fax.localhost"],
                    subject="注文書 2026-11 /notify failure")
    assert reply.startswith("250 2.0.0 OK queued as M"), reply
    jobs = {j["number"]: j for j in gw.wait_jobs_final(2)}
    ok, busy = jobs[BUSY_THEN_OK], jobs[ALWAYS_BUSY]
    assert (ok["status"], ok["result_code"], ok["attempts"]) == ("done", "0", 4)
    assert (busy["status"], busy["result_code"], busy["attempts"]) == ("failed", "6017", 4)
    assert busy["subject"] == "注文書 2026-11"

    detail = gw.api("GET", f"/v1/fax/jobs/{busy['id']}").json()
    assert [a["result_code"] for a in detail["attempt_log"]] == ["6017"] * 4

    # /notify failure: exactly one mail, for the number that stayed busy
    received = smtp_sink.wait_for(1)
    import time

    time.sleep(0.5)
    assert len(smtp_sink.received) == 1
    mail = received[0]
    assert mail.rcpt_tos == [SENDER]
    assert mail.mail_from == "<>"  # null reverse-path (RFC 3834), as aiosmtpd shows it
    assert _subject(mail.content) == f"FAX送信が失敗しました -> {ALWAYS_BUSY}"
    body = _text(mail.content)
    assert "送信結果: 6017" in body
    assert "注文書 2026-11" in body


def test_resend_from_history(database_url, make_gateway, smtp_sink):
    simulator = {"numbers": {ALWAYS_BUSY: ["6017", "0"]}}
    gw = make_gateway(database_url, simulator, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.cli("accounts", "set", "acme", "fax.retries=0", "fax.notify=always")
    gw.start()
    assert gw.send(SENDER, [f"{ALWAYS_BUSY}@fax.localhost"]).startswith("250")
    [job] = gw.wait_jobs_final(1)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    # the line is free now: the simulator re-reads its file when it changes
    gw.write_simulator({"numbers": {ALWAYS_BUSY: ["0"]}})
    response = gw.api("POST", f"/v1/fax/jobs/{job['id']}/resend")
    assert response.status_code == 202, response.text
    assert response.json()["resend_of"] == job["id"]
    jobs = gw.wait_jobs_final(2)
    assert jobs[0]["resend_of"] == job["id"] and jobs[0]["status"] == "done"
    subjects = sorted(_subject(m.content) for m in smtp_sink.wait_for(2))
    assert subjects == [f"FAX送信が失敗しました -> {ALWAYS_BUSY}",
                        f"FAX送信が成功しました -> {ALWAYS_BUSY}"]


def test_multipage_fax_resumes_after_last_page_sent(database_url, make_gateway):
    simulator = {"numbers": {BREAKS: ["8010@2", "0"]}}
    gw = make_gateway(database_url, simulator)
    gw.api_key = gw.create_account("acme", SENDER)
    gw.cli("accounts", "set", "acme", "fax.notify=never")
    gw.start()
    body = "".join(f"line {i}: 請求書の明細です。\n" for i in range(400))
    assert gw.send(SENDER, [f"{BREAKS}@fax.localhost"], body=body).startswith("250")
    [job] = gw.wait_jobs_final(1)
    assert job["pages"] >= 4
    detail = gw.api("GET", f"/v1/fax/jobs/{job['id']}").json()
    first, second = detail["attempt_log"]
    assert (first["result_code"], first["first_page"], first["pages_sent"]) == ("8010", 0, 2)
    assert (second["result_code"], second["first_page"]) == ("0", 2)
    assert second["pages_sent"] == job["pages"] - 2
    assert job["pages_sent"] == job["pages"]


def test_unauthorised_sender_is_dropped_silently(database_url, make_gateway, smtp_sink):
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    reply = gw.send("intruder@example.com", ["0312345678@fax.localhost"])
    assert reply.startswith("250"), reply
    assert gw.jobs() == []
    assert smtp_sink.received == []
    from sqlalchemy import select

    from todoke.store.db import Store
    from todoke.store.models import AuditLog

    store = Store(database_url)
    with store.session() as session:
        [entry] = session.scalars(select(AuditLog)).all()
        assert entry.kind == "fax.unauthorised_sender"
        assert entry.actor == "intruder@example.com"
    store.dispose()


def test_refusals_and_relaying(database_url, make_gateway):
    gw = make_gateway(database_url)
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    assert gw.send(SENDER, ["not-a-number@fax.localhost"]) == (
        "550 5.1.3 *** No recipients found ***")
    assert gw.send(SENDER, ["someone@elsewhere.example"]).startswith("550 5.7.1 Relaying denied")
    assert gw.jobs() == []


def test_history_is_scoped_to_the_key(database_url, make_gateway):
    gw = make_gateway(database_url)
    key_a = gw.create_account("a-corp", "a@example.jp")
    key_b = gw.create_account("b-corp", "b@example.jp")
    gw.start()
    assert gw.send("a@example.jp", ["0312345678@fax.localhost"]).startswith("250")
    [job] = gw.wait_jobs_final(1, key=key_a)
    assert gw.jobs(key_b) == []
    assert gw.api("GET", f"/v1/fax/jobs/{job['id']}", key_b).status_code == 404
    assert gw.api("POST", f"/v1/fax/jobs/{job['id']}/resend", key_b).status_code == 404
    assert gw.api("GET", "/v1/fax/jobs", "tdk_wrong").status_code == 401
    metrics = httpx.get(gw.base_url + "/metrics").text
    assert 'todoke_fax_jobs{status="done"} 1.0' in metrics
    assert 'todoke_fax_results_total{code="0"} 1.0' in metrics
    assert "todoke_fax_mails_stored_total 1.0" in metrics
    # counted in the worker process, and the mail in one of the SMTP processes: both shown
    assert 'todoke_fax_attempts_total{code="0"} 1.0' in metrics
    assert 'todoke_ingest_mails_total{outcome="accepted"} 1.0' in metrics


def test_english_notification_goes_to_reply_to(database_url, make_gateway, smtp_sink):
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.cli("accounts", "set", "acme", "language=en", "timezone=Europe/London")
    gw.start()
    reply = gw.send(SENDER, ["0099999998021@fax.localhost"], subject="Invoice 7 /retries 0",
                    headers={"Reply-To": "Desk <desk@example.jp>"})
    assert reply.startswith("250"), reply
    [job] = gw.wait_jobs_final(1)
    assert (job["result_code"], job["attempts"]) == ("8021", 1)
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ["desk@example.jp"]
    message = email.message_from_bytes(mail.content, policy=default)
    assert message["Subject"] == "Fax transmission failed -> 0099999998021"
    assert message.get_content_type() == "multipart/alternative"
    assert "Result: 8021" in _text(mail.content)
    assert message.get_body(("html",)) is not None
    assert gw.api("GET", "/openapi.json").json()["paths"]["/v1/fax/jobs/{job_id}/resend"]
    assert httpx.get(gw.base_url + "/docs").status_code == 200

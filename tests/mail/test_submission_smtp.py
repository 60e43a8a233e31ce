"""SMTP submission: API users authenticate (only after STARTTLS) and send to any domain."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _mail(to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "shop@example.jp"
    msg["To"] = ", ".join(to)
    msg["Subject"] = "ご注文ありがとうございます"
    msg["X-Api-Data"] = "order-42"
    msg.set_content("Thank you for your order.\n")
    return msg


def test_submission_with_auth_after_starttls(database_url, make_gateway, smtp_sink):
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("shop", "shop@example.jp")
    gw.start()
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features  # not offered before TLS
        code, _ = smtp.docmd("AUTH", "PLAIN AGFkbWluAHg=")
        assert code == 538  # encryption required (RFC 4954)
        smtp.mail("shop@example.jp")
        code, reply = smtp.rcpt("anyone@example.net")
        assert code == 550 and b"Relaying denied" in reply
        smtp.rset()
        smtp.starttls(context=_tls())
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("admin", gw.api_key + "x")
        smtp.login("admin", gw.api_key)
        refused = smtp.send_message(_mail(["a@example.net", "b@example.org"]))
        assert refused == {}
        smtp.mail("shop@example.jp")
        assert smtp.rcpt("c@example.net")[0] == 250
        assert smtp.rcpt("0312345678@fax.localhost")[0] == 452  # no mixing with faxes
        smtp.rset()
    received = smtp_sink.wait_for(2)
    assert sorted(r.rcpt_tos[0] for r in received) == ["a@example.net", "b@example.org"]
    for item in received:
        assert item.mail_from.startswith("bounces+") and item.mail_from.endswith(
            "@bounce.localhost")
        assert b"Message-ID:" in item.content and b"X-Api-Data: order-42" in item.content
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = gw.api("GET", "/v1/mail/deliveries").json()["deliveries"]
        if len(rows) == 2 and all(r["status"] == "delivered" for r in rows):
            break
        time.sleep(0.1)
    assert {r["status"] for r in rows} == {"delivered"}, rows


def _rcpt_code(port: int, rcpt: str) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("shop@example.jp")
        return smtp.rcpt(rcpt)[0]


def test_trusted_network_submits_without_auth(database_url, make_gateway, smtp_sink):
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("shop", "shop@example.jp")
    bad = gw.cli("accounts", "networks", "shop", "127.0.0.300", check=False)
    assert bad.returncode == 2 and "127.0.0.300" in bad.stderr
    # a network that does not contain the client: still no relaying
    assert gw.cli("accounts", "networks", "shop", "192.0.2.0/24").returncode == 0
    gw.start()
    for _ in range(4):  # every SMTP process has read the table
        assert _rcpt_code(gw.smtp_port, "anyone@example.net") == 550
    assert gw.cli("accounts", "networks", "shop", "127.0.0.0/8").returncode == 0
    time.sleep(1.1)  # a miss re-reads the table after a second
    for _ in range(4):
        assert _rcpt_code(gw.smtp_port, "anyone@example.net") == 250
        assert _rcpt_code(gw.smtp_port, "0312345678@fax.localhost") == 250  # fax rules unchanged
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        assert smtp.send_message(_mail(["plain@example.net"])) == {}
        smtp.mail("shop@example.jp")
        assert smtp.rcpt("x@example.net")[0] == 250
        assert smtp.rcpt("0312345678@fax.localhost")[0] == 452  # no mixing
    [received] = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ["plain@example.net"]
    assert received.mail_from.startswith("bounces+")


def test_sender_domains_refuse_other_senders(database_url, make_gateway, smtp_sink):
    """With ``mail.sender_domains`` the API and SMTP submission take mail only from those
    domains and their subdomains (envelope and From); the refusal names the domain."""
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    gw.api_key = gw.create_account("shop", "shop@example.jp")
    bad = gw.cli("accounts", "set", "shop", "mail.sender_domains=example.jp,bad_domain",
                 check=False)
    assert bad.returncode != 0 and "bad_domain" in bad.stderr
    assert gw.cli("accounts", "set", "shop", "mail.sender_domains=Example.JP").returncode == 0
    gw.start()

    def send(sender: str) -> Any:
        return gw.api("POST", "/v1/mail/send", json={
            "from": sender, "to": "a@example.net", "subject": "s", "text": "t"})

    assert send("shop@example.jp").status_code == 202
    assert send("news@mail.example.jp").status_code == 202  # a subdomain
    refused = send("shop@notexample.jp")
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["field"] == "from" and detail["allowed"] == ["example.jp"]
    assert "notexample.jp" in detail["message"] and "notexample.jp" in detail["message_ja"]
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        smtp.starttls(context=_tls())
        smtp.login("admin", gw.api_key)
        assert smtp.send_message(_mail(["b@example.net"])) == {}
        forged = _mail(["c@example.net"])
        forged.replace_header("From", "CEO <ceo@evil.example>")
        with pytest.raises(smtplib.SMTPDataError) as raised:
            smtp.send_message(forged, from_addr="shop@example.jp")
        assert raised.value.smtp_code == 550 and b"evil.example" in raised.value.smtp_error
        with pytest.raises(smtplib.SMTPDataError) as raised:
            smtp.send_message(_mail(["d@example.net"]), from_addr="bounce@other.example")
        assert raised.value.smtp_code == 550 and b"other.example" in raised.value.smtp_error
    received = smtp_sink.wait_for(3)
    assert sorted(r.rcpt_tos[0] for r in received) == ["a@example.net", "a@example.net",
                                                        "b@example.net"]
    rows = gw.api("GET", "/v1/mail/deliveries").json()["deliveries"]
    assert len(rows) == 3  # nothing of the refused mails was queued
    assert gw.cli("accounts", "set", "shop", "mail.sender_domains=").returncode == 0
    assert "mail.sender_domains" in gw.cli("accounts", "show", "shop").stdout

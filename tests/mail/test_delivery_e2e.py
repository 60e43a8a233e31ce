"""End to end over real SMTP: ``todoke serve`` delivers transactional mail to a routing
SMTP server on 127.0.0.1 (TODOKE_RELAY) that answers per recipient local part, and a DSN
(RFC 3464, built here) mailed back to the bounce domain is matched by the VERP return path."""

from __future__ import annotations

import re
import smtplib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest
from aiosmtpd.controller import Controller

pytestmark = pytest.mark.slow

SENDER = "shop@example.jp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

ANSWERS = {
    "550": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    "452": "452 4.2.2 <{rcpt}>: Mailbox full, quota exceeded",
    "421": "421 4.3.2 Service shutting down, try again in 1 seconds",
}
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"


@dataclass
class Router:
    """An SMTP server whose answer depends on the local part: ``user-550@…`` gets 550 at
    RCPT, ``user-452@…`` 452, ``user-421@…`` 421 once then 250, ``user-552@…`` 552 at DATA;
    anything else is accepted. Keeps every RCPT it saw and every mail it accepted."""

    rcpts: list[str] = field(default_factory=list)
    mails: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        local = address.partition("@")[0].lower()
        with self.lock:
            self.rcpts.append(address.lower())
            self.seen[address.lower()] += 1
            count = self.seen[address.lower()]
        match = re.match(r"user-(\d{3})", local)
        code = match.group(1) if match else ""
        if code in ("550", "452") or (code == "421" and count == 1):
            return ANSWERS[code].format(rcpt=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if any(r.lower().startswith("user-552") for r in envelope.rcpt_tos):
            return TOO_BIG
        with self.lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos),
                               envelope.original_content))
        return "250 2.0.0 Ok: queued as 4F1A2B3C"

    def rcpt_count(self, address: str) -> int:
        with self.lock:
            return self.seen[address.lower()]

    def mail_for(self, address: str) -> tuple[str, list[str], bytes] | None:
        with self.lock:
            for mail in self.mails:
                if address.lower() in (r.lower() for r in mail[1]):
                    return mail
        return None


def start_router(port: int) -> tuple[Router, Controller]:
    router = Router()
    controller = Controller(router, hostname="127.0.0.1", port=port)
    controller.start()
    return router, controller


def build_dsn(return_path: str, rcpt: str, message_id: str, subject: str = "hello",
              status: str = "5.1.1",
              diagnostic: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: "
                                "User unknown in local recipient table") -> bytes:
    """A Postfix-style RFC 3464 DSN for ``rcpt``, quoting the original's headers."""
    date = formatdate(usegmt=True)
    text = f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {return_path}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <20261123.dsn.1@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="DSN-BOUNDARY"

--DSN-BOUNDARY
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{rcpt}>: host inbox.example.net[192.0.2.25] said: {diagnostic.format(rcpt=rcpt)}
    (in reply to RCPT TO command)

--DSN-BOUNDARY
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: {date}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: failed
Status: {status}
Remote-MTA: dns; inbox.example.net
Diagnostic-Code: smtp; {diagnostic.format(rcpt=rcpt)}
Last-Attempt-Date: {date}

--DSN-BOUNDARY
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: shop@example.jp
To: {rcpt}
Subject: {subject}
Message-ID: {message_id}
Date: {date}

--DSN-BOUNDARY--
"""
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
def router() -> Iterator[tuple[Router, int]]:
    port = free_port()
    server, controller = start_router(port)
    try:
        yield server, port
    finally:
        controller.stop()


FINAL = ("delivered", "failed", "blocked")


def deliveries(gw: Any, key: str | None = None, **params: str) -> dict[str, dict[str, Any]]:
    response = gw.api("GET", "/v1/mail/deliveries", key, params=params)
    assert response.status_code == 200, response.text
    return {d["rcpt"]: d for d in response.json()["deliveries"]}


def wait_for(gw: Any, check: Any, timeout: float = 60, **params: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = deliveries(gw, **params)
        if check(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"deliveries not as expected in time: {rows}")


def test_every_outcome_classified(database_url, make_gateway, router):
    sink, port = router
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{port}",
                      TODOKE_MINUTE_SECONDS="0.001")
    gw.api_key = gw.create_account("acme", SENDER)
    other_key = gw.create_account("other", "info@other.example")
    gw.start()
    to = ["ok@example.net", "user-550@example.net", "user-452@example.net",
          "user-552@example.net", "user-421@example.net", "user-dsn@example.net"]
    response = gw.api("POST", "/v1/mail/send", json={
        "from": f"Shop <{SENDER}>", "to": to[:3], "cc": to[3:5], "bcc": to[5],
        "subject": "ご注文ありがとうございます", "text": "本文です。\n",
        "html": "<p>本文です。</p>",
        "headers": {"X-Api-Data": "order-42"},
        "attachments": [{"filename": "a.txt", "content_type": "text/plain",
                         "content": "aGVsbG8="}],
    })
    assert response.status_code == 202, response.text
    answer = response.json()
    message_id = answer["message_id"]
    assert message_id.endswith("@example.jp>")
    assert [d["rcpt"] for d in answer["deliveries"]] == to
    assert {d["status"] for d in answer["deliveries"]} == {"queued"}

    rows = wait_for(gw, lambda r: len(r) == 6 and all(
        d["status"] in FINAL for rcpt, d in r.items() if rcpt != "user-452@example.net"),
        message_id=message_id)
    ok, unknown = rows["ok@example.net"], rows["user-550@example.net"]
    assert (ok["status"], ok["reason"], ok["error_status"], ok["attempts"]) == (
        "delivered", "delivered", None, 1)
    assert ok["reply_code"] == "250" and ok["source_ip"] == "127.0.0.1"
    assert ok["api_data"] == "order-42"
    assert (unknown["status"], unknown["reason"], unknown["error_status"]) == (
        "failed", "userunknown", 2)
    assert (unknown["reply_code"], unknown["enhanced_status"], unknown["hardbounce"]) == (
        "550", "5.1.1", True)
    assert "User unknown in virtual mailbox table" in unknown["last_reply"]
    big = rows["user-552@example.net"]
    assert (big["status"], big["reason"], big["error_status"], big["hardbounce"]) == (
        "failed", "mesgtoobig", 8, False)
    retried = rows["user-421@example.net"]
    assert (retried["status"], retried["attempts"]) == ("delivered", 2)
    assert sink.rcpt_count("user-421@example.net") == 2

    # the mail as delivered: VERP return path, headers, no Bcc
    mail_from, _, raw = sink.mail_for("ok@example.net")
    assert re.fullmatch(r"bounces\+[0-9a-f]{24}@bounce\.localhost", mail_from)
    assert b"X-Api-Data: order-42" in raw and b"Bcc" not in raw
    assert message_id.encode() in raw

    # mailbox full: deferred (mailboxfull, 5) attempt after attempt, then expired (3)
    full = wait_for(gw, lambda r: r["user-452@example.net"]["status"] == "failed",
                    message_id=message_id)["user-452@example.net"]
    assert (full["reason"], full["error_status"], full["hardbounce"]) == ("expired", 3, False)
    assert full["attempts"] > 3
    detail = gw.api("GET", f"/v1/mail/deliveries/{full['id']}").json()
    deferred = [e for e in detail["events"] if e["status"] == "deferred"]
    assert len(deferred) == full["attempts"] - 1
    assert "452 4.2.2" in deferred[0]["detail"]
    assert detail["events"][0]["status"] == "queued"

    # the accepted mail comes back as a DSN to its VERP address
    dsn_from, _, _ = sink.mail_for("user-dsn@example.net")
    with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=30) as smtp:
        smtp.sendmail("", [dsn_from], build_dsn(dsn_from, "user-dsn@example.net",
                                                "<unrelated@example.jp>"))
    rows = wait_for(gw, lambda r: r["user-dsn@example.net"]["status"] == "failed",
                    message_id=message_id)
    bounced = rows["user-dsn@example.net"]
    assert (bounced["reason"], bounced["error_status"], bounced["hardbounce"]) == (
        "userunknown", 2, True)
    assert "User unknown in local recipient table" in bounced["last_reply"]

    # hard bounces are blocked from now on, without a connection
    blocks = gw.api("GET", "/v1/blocks").json()
    assert sorted(b["email"] for b in blocks["blocks"]) == [
        "user-550@example.net", "user-dsn@example.net"]
    assert [b["email"] for b in gw.api("GET", "/v1/blocks?email=DSN").json()["blocks"]] == [
        "user-dsn@example.net"]
    again = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": ["User-550@example.net", "ok@example.net"], "subject": "again",
        "text": "x"}).json()
    assert [d["status"] for d in again["deliveries"]] == ["blocked", "queued"]
    rows = wait_for(gw, lambda r: r["ok@example.net"]["status"] == "delivered",
                    message_id=again["message_id"])
    blocked = rows["User-550@example.net"]
    assert (blocked["reason"], blocked["error_status"], blocked["attempts"]) == (
        "suppressed", 10, 0)
    assert sink.rcpt_count("user-550@example.net") == 1

    # tenant isolation
    assert gw.api("GET", "/v1/blocks", other_key).json()["blocks"] == []
    assert deliveries(gw, other_key) == {}
    assert gw.api("GET", f"/v1/mail/deliveries/{ok['id']}", other_key).status_code == 404
    assert gw.api("DELETE", "/v1/blocks/user-550@example.net", other_key).status_code == 404
    assert gw.api("GET", "/v1/blocks").json()["total"] == 2

    # release the block: the address is attempted again
    assert gw.api("DELETE", "/v1/blocks/user-550@example.net").status_code == 204
    third = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": "user-550@example.net", "text": "x"}).json()
    wait_for(gw, lambda r: r["user-550@example.net"]["status"] == "failed",
             message_id=third["message_id"])
    assert sink.rcpt_count("user-550@example.net") == 2


def test_send_refuses_bad_requests(database_url, make_gateway, router):
    _, port = router
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    response = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": ["good@example.net", "bad@@example.net", "no-domain"],
        "text": "x"})
    assert response.status_code == 422
    assert response.json()["detail"]["invalid"] == ["bad@@example.net", "no-domain"]
    response = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": "a@example.net", "headers": {"Bcc": "x@example.net"}})
    assert response.status_code == 422
    assert gw.api("POST", "/v1/mail/send", key="nope", json={
        "from": SENDER, "to": "a@example.net"}).status_code == 401
    assert deliveries(gw) == {}


def test_bounce_domain_takes_mail_but_not_mixed_with_fax(database_url, make_gateway):
    gw = make_gateway(database_url)
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    plain = b"From: someone@example.net\r\nSubject: hello\r\n\r\nnot a bounce\r\n"
    assert gw.send_raw("someone@example.net", ["postmaster@bounce.localhost"],
                       plain).startswith("250")
    mixed = gw.send_raw("someone@example.net",
                        ["postmaster@bounce.localhost", "0312345678@fax.localhost"], plain)
    assert mixed.startswith("452 4.5.3"), mixed
    mixed = gw.send_raw(SENDER, ["0312345678@fax.localhost", "postmaster@bounce.localhost"],
                        plain)
    assert mixed.startswith("452 4.5.3"), mixed
    assert gw.send_raw("someone@example.net", ["x@elsewhere.example"], plain).startswith(
        "550 5.7.1")

"""Unit tests of the bounce classifier: SMTP replies, deployment rules, ARF, auto-replies,
plain DSNs built in the test, non-bounces, and the tables."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from todoke.mail.bounce import (
    classify_bytes,
    classify_smtp_reply,
    clear_rules,
    load_rules,
)
from todoke.mail.bounce.lhost import ORDER, REGISTRY, load_all
from todoke.mail.bounce.table import ERROR_STATUS, PSEUDO_CODE, REASONS, error_status


@pytest.mark.parametrize(
    ("code", "text", "enhanced", "reason", "status", "hard", "err"),
    [
        (550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown", None,
         "userunknown", "5.1.1", True, 2),
        (550, "No such user here", "5.1.1", "userunknown", "5.1.1", True, 2),
        (452, "4.2.2 The email account that you tried to reach is over quota", None,
         "mailboxfull", "4.2.2", False, 5),
        (552, "5.3.4 Message size exceeds fixed maximum message size", None,
         "mesgtoobig", "5.3.4", False, 8),
        (550, "5.1.2 Host unknown: domain does not exist", None, "hostunknown", "5.1.2", True, 1),
        (550, "5.1.6 Recipient address has moved", None, "hasmoved", "5.1.6", True, 6),
        (554, "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org", None,
         "blocked", "5.7.1", False, 4),
        (550, "5.7.26 Unauthenticated email from example.com is not accepted due to "
              "domain's DMARC policy", None, "authfailure", "5.7.26", False, 4),
        (550, "5.2.1 The email account that you tried to reach is disabled", None,
         "suspend", "5.2.1", False, 2),
        (556, "5.1.10 Recipient address has null MX", None, "notaccept", "5.1.10", True, 7),
        (554, "5.7.1 Relay access denied", None, "norelaying", "5.7.1", False, 4),
        (554, "Message rejected: Email address is not verified. The following identities "
              "failed the check in region US-EAST-1: a@example.jp", None, "norelaying",
         "5.0.909", False, 4),
        (554, "mx.example.net ESMTP not accepting connections", None, "blocked", "5.0.971",
         False, 4),
        (550, "5.7.1 Message rejected as spam by Content Filtering", None,
         "spamdetected", "5.7.1", False, 4),
    ],
)
def test_classify_smtp_reply(code: int, text: str, enhanced: str | None, reason: str,
                             status: str, hard: bool, err: int) -> None:
    assert classify_smtp_reply(code, text, enhanced) == (reason, status, hard, err)


def test_smtp_reply_4xx_is_soft() -> None:
    reason, status, hard, _ = classify_smtp_reply(421, "Service not available, try later")
    assert hard is False
    assert status.startswith("4.")
    reason, status, hard, _ = classify_smtp_reply(450, "4.1.1 <x@example.org>: user unknown")
    assert reason == "userunknown"
    assert hard is False


def test_smtp_reply_without_codes_in_text() -> None:
    reason, status, hard, err = classify_smtp_reply(550, "mailbox unavailable")
    assert reason == "userunknown"
    assert status == "5.0.911"
    assert hard is True
    assert err == 2


def test_user_rules_come_first(tmp_path: Path) -> None:
    text = "5.7.1 message refused: Nyaan policy 42"
    assert classify_smtp_reply(550, text)[0] != "mailboxfull"
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npattern = "nyaan policy \\\\d+"\nreason = "mailboxfull"\n')
    try:
        assert load_rules(rules) == 1
        assert classify_smtp_reply(550, text)[0] == "mailboxfull"
    finally:
        clear_rules()
    assert classify_smtp_reply(550, text)[0] != "mailboxfull"


def test_user_rules_json_and_bad_reason(tmp_path: Path) -> None:
    good = tmp_path / "rules.json"
    good.write_text(json.dumps({"rules": [{"pattern": "quux", "reason": "suspend"}]}))
    try:
        load_rules(good)
        assert classify_smtp_reply(550, "quux")[0] == "suspend"
    finally:
        clear_rules()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"pattern": "x", "reason": "no-such-reason"}]))
    with pytest.raises(ValueError):
        load_rules(bad)


def _dsn(recipients: list[tuple[str, str, str, str]], action: str = "failed") -> bytes:
    """A Postfix-like RFC 3464 DSN for (address, status, diagnostic, remote-mta) tuples."""
    blocks = "\n".join(
        f"Final-Recipient: rfc822; {a}\nAction: {action}\nStatus: {s}\n"
        f"Remote-MTA: dns; {m}\nDiagnostic-Code: smtp; {d}\n"
        for a, s, d, m in recipients
    )
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
        "To: sender@example.com\nSubject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\n\n'
        "--BB\nContent-Type: text/plain\n\nI'm sorry to have to inform you...\n\n"
        "--BB\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\n"
        f"{blocks}\n"
        "--BB\nContent-Type: text/rfc822-headers\n\n"
        "From: sender@example.com\nTo: a@example.org\nSubject: hello\n\n--BB--\n"
    ).encode()


def test_rfc3464_two_recipients() -> None:
    raw = _dsn([
        ("a@example.org", "5.1.1", "550 5.1.1 <a@example.org>: User unknown", "mx.example.org"),
        ("b@example.org", "5.2.2", "552 5.2.2 Mailbox full", "mx.example.org"),
    ])
    recs = classify_bytes(raw)
    assert [(r.recipient, r.reason, r.status, r.replycode, r.hardbounce) for r in recs] == [
        ("a@example.org", "userunknown", "5.1.1", "550", True),
        ("b@example.org", "mailboxfull", "5.2.2", "552", False),
    ]
    assert recs[0].remote_mta == "mx.example.org"
    assert recs[1].error_status == 5


def test_rfc3464_delayed_is_expired() -> None:
    raw = _dsn([("c@example.org", "4.4.7", "Message expired: unable to deliver in 5 days",
                 "mx.example.org")], action="delayed")
    (rec,) = classify_bytes(raw)
    assert rec.reason == "expired"
    assert rec.hardbounce is False
    assert rec.error_status == 3


def test_arf_feedback_report() -> None:
    raw = (
        b"From: feedback@fbl.example.net\nTo: abuse@example.com\nSubject: FW: spam report\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="AA"\n\n'
        b"--AA\nContent-Type: text/plain\n\nThis is an email abuse report.\n\n"
        b"--AA\nContent-Type: message/feedback-report\n\n"
        b"Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"
        b"Original-Rcpt-To: <one@example.org>\nOriginal-Rcpt-To: <two@example.org>\n"
        b"Source-IP: 192.0.2.1\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\n\n"
        b"--AA\nContent-Type: message/rfc822\n\n"
        b"From: news@example.com\nTo: one@example.org\nSubject: offer\n\nbuy\n--AA--\n"
    )
    recs = classify_bytes(raw)
    assert [r.recipient for r in recs] == ["one@example.org", "two@example.org"]
    assert {r.reason for r in recs} == {"feedback"}
    assert recs[0].feedback_type == "abuse"
    assert recs[0].hardbounce is False
    assert recs[0].status == ""


def test_autoreply_is_vacation() -> None:
    msg = EmailMessage()
    msg["From"] = "Kiji Tora <kijitora@example.org>"
    msg["To"] = "sender@example.com"
    msg["Subject"] = "Out of Office: hello"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("I am out of the office until Monday.")
    (rec,) = classify_bytes(bytes(msg))
    assert (rec.recipient, rec.reason, rec.hardbounce) == ("kijitora@example.org", "vacation",
                                                          False)
    assert rec.error_status == ERROR_STATUS["vacation"]


def test_ordinary_mail_is_no_bounce() -> None:
    msg = EmailMessage()
    msg["From"] = "friend@example.org"
    msg["To"] = "me@example.com"
    msg["Subject"] = "lunch?"
    msg.set_content("Shall we meet at noon? Mail me at friend@example.org")
    assert classify_bytes(bytes(msg)) == []


def test_qmail_style_text_bounce() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\nTo: sender@example.com\n"
        b"Subject: failure notice\n\n"
        b"Hi. This is the qmail-send program at mx.example.net.\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        b"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        b"<gone@example.org>:\n192.0.2.9 does not like recipient.\n"
        b"Remote host said: 550 5.1.1 <gone@example.org>: Recipient address rejected: "
        b"User unknown in virtual mailbox table\nGiving up on 192.0.2.9.\n\n"
        b"--- Below this line is a copy of the message.\n\nReturn-Path: <sender@example.com>\n"
    )
    (rec,) = classify_bytes(raw)
    assert (rec.recipient, rec.reason, rec.status, rec.replycode, rec.hardbounce) == (
        "gone@example.org", "userunknown", "5.1.1", "550", True)


def test_tables_are_complete() -> None:
    assert len(REASONS) == 36
    assert set(ERROR_STATUS) == set(REASONS)
    assert all(error_status(r) in (*range(1, 12), 99) for r in REASONS)
    assert set(PSEUDO_CODE) <= set(REASONS)


def test_lhost_order_names_every_module() -> None:
    load_all()
    assert set(REGISTRY) <= set(ORDER)
    modules = {p.stem for p in (Path(__file__).resolve().parents[3] / "src/todoke/mail/bounce/"
                                "lhost").glob("*.py") if not p.stem.startswith("_")}
    assert modules <= set(ORDER), modules - set(ORDER)


def test_smtp_reply_context() -> None:
    text = "5.0.0 <x@example.org>: user unknown"
    assert classify_smtp_reply(550, text, command="RCPT")[0] == "userunknown"
    assert classify_smtp_reply(550, text, command="DATA")[0] == "filtered"
    assert classify_smtp_reply(554, "5.7.1 Service unavailable", command="EHLO")[0] == "blocked"
    reply = "5.7.510 Access denied, example.org does not accept email over IPv6"
    assert classify_smtp_reply(550, reply, host="mx.protection.outlook.com")[0] == "rejected"
    assert classify_smtp_reply(550, "5.4.1 Recipient address rejected: Access denied. "
                               "AS(201806281)", host="example-com.mail.protection.outlook.com"
                               )[0] == "userunknown"


def test_rhost_modules_listed_and_applied() -> None:
    from todoke.mail.bounce.rhost.providers import MODULES

    folder = Path(__file__).resolve().parents[3] / "src/todoke/mail/bounce/rhost"
    files = {p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "providers")}
    assert files == set(MODULES)
    godaddy = "Connection refused. This IP is listed on the Spamhaus Block List (SBL). IB104"
    assert classify_smtp_reply(554, godaddy, host="smtp.secureserver.net")[0] == "blocked"
    orange = "550 5.5.0 Le compte du destinataire est bloque. LPN007_426"
    assert classify_smtp_reply(550, orange, host="smtpz4.laposte.net")[0] == "suspend"


def test_success_notice_is_no_bounce() -> None:
    raw = _dsn([("ok@example.org", "2.0.0", "250 2.0.0 OK queued", "mx.example.org")],
               action="delivered")
    assert classify_bytes(raw) == []
    (rec,) = classify_bytes(raw, delivered=True)
    assert (rec.reason, rec.status, rec.hardbounce) == ("delivered", "2.0.0", False)

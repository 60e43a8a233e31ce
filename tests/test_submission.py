"""Submission checks over real SMTP: every refusal with its exact text, in both reject modes,
the authentication options that let mail through, and S/MIME against registered certificates."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default

import pytest
from sqlalchemy import select
from tests.ingest.test_smime import NOW, detached_mail, make_cert, pem

from todoke.ingest import checks
from todoke.store.db import Store
from todoke.store.models import InboundMail

pytestmark = pytest.mark.slow

PLAIN, PW, TK, SM = "plain@example.jp", "pw@example.jp", "tk@example.jp", "sender@example.org"
FAX = "0312345678@fax.localhost"
TICKET = b"<?xml version='1.0'?><FaxInfo><Key>KEY-123</Key></FaxInfo>"


def mail(sender: str, body: str | None = "Please fax this.\n", *, html: str | None = None,
         attachments: tuple[tuple[bytes, str, str, str], ...] = (), tag: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = FAX
    msg["Subject"] = f"case {tag}"
    msg["Message-ID"] = f"<{tag or 'm'}@example.jp>"
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for data, maintype, subtype, name in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def partial(sender: str, tag: str) -> bytes:
    return (f"From: {sender}\r\nTo: {FAX}\r\nSubject: part 1\r\nMessage-ID: <{tag}@example.jp>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: message/partial; id=\"abc@example.jp\"; "
            "number=1; total=2\r\n\r\nFrom: x@example.jp\r\nSubject: big\r\n\r\nfirst half\r\n"
            ).encode()


EXE = (b"MZ\x90\x00" * 100, "application", "x-msdownload", "tool.exe")
REFUSALS = [
    ("no-body", PW, lambda t: mail(PW, None, html="<p>hello</p>", tag=t),
     checks.NO_BODY_FOR_PASSWORD),
    ("no-password", PW, lambda t: mail(PW, "Hello\n", tag=t), checks.NO_PASSWORD),
    ("bad-password", PW, lambda t: mail(PW, "Password: wrong\nHello\n", tag=t),
     checks.BAD_PASSWORD),
    ("no-recipients", PLAIN, lambda t: mail(PLAIN, tag=t), checks.NO_RECIPIENTS),
    ("unsupported", PLAIN, lambda t: mail(PLAIN, attachments=(EXE,), tag=t), checks.UNSUPPORTED),
    ("partial", PLAIN, lambda t: partial(PLAIN, t), checks.UNSUPPORTED),
    ("no-ticket", TK, lambda t: mail(TK, tag=t), checks.NO_TICKET),
    ("no-signature", SM, lambda t: mail(SM, tag=t), checks.NO_SIGNATURE),
    ("no-documents", PLAIN, lambda t: mail(PLAIN, "  \n\n", tag=t), checks.NO_DOCUMENTS),
]


@pytest.fixture
def signer():
    return make_cert()


def _gateway(make_gateway, database_url, tmp_path, signer, **extra):
    gw = make_gateway(database_url, **extra)
    gw.keys = {name: gw.create_account(name, sender)
               for name, sender in (("plain", PLAIN), ("pw", PW), ("tk", TK), ("sm", SM))}
    gw.api_key = gw.keys["plain"]
    cert_file = tmp_path / "sender.pem"
    cert_file.write_bytes(pem(signer[1]))
    gw.cli("accounts", "set", "pw", "fax.require_password=true", "fax.password=s3cret")
    gw.cli("accounts", "set", "tk", "fax.require_ticket=true", "fax.ticket_key=KEY-123")
    gw.cli("accounts", "set", "sm", "fax.require_smime=true", f"fax.smime_certs=@{cert_file}")
    return gw.start()


def _recipients(tag: str) -> list[str]:
    return ["not-a-number@fax.localhost"] if tag == "no-recipients" else [FAX]


def test_each_refusal_is_an_smtp_reply_with_the_exact_text(
        database_url, make_gateway, tmp_path, signer, smtp_sink):
    gw = _gateway(make_gateway, database_url, tmp_path, signer,
                  TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    for tag, sender, build, message in REFUSALS:
        reply = gw.send_raw(sender, _recipients(tag), build(tag))
        code, status = checks.REPLIES[message]
        assert reply == f"{code} {status} {message}", tag
    assert all(gw.jobs(key) == [] for key in gw.keys.values())
    assert smtp_sink.received == []  # no backscatter in smtp mode


def test_each_refusal_is_a_dsn_in_bounce_mode(
        database_url, make_gateway, tmp_path, signer, smtp_sink):
    gw = _gateway(make_gateway, database_url, tmp_path, signer, TODOKE_REJECT_MODE="bounce",
                  TODOKE_RELAY=f"127.0.0.1:{smtp_sink.port}")
    for tag, sender, build, _message in REFUSALS:
        assert gw.send_raw(sender, _recipients(tag), build(tag)).startswith("250"), tag
    assert gw.send("stranger@example.com", [FAX]).startswith("250")  # silent in both modes
    received = smtp_sink.wait_for(len(REFUSALS))
    by_tag = {}
    for item in received:
        assert item.mail_from == "<>"
        dsn = email.message_from_bytes(item.content, policy=default)
        assert dsn["From"] == "MAILER-DAEMON@fax.localhost"
        assert dsn["Subject"] == "Undelivered Mail Returned to Sender"
        assert dsn.get_content_type() == "multipart/report"
        human, status, headers = dsn.iter_parts()
        assert status.get_content_type() == "message/delivery-status"
        original = headers.get_payload() if headers.is_multipart() else headers.get_content()
        tag = str(original).split("Message-ID: <", 1)[1].split("@", 1)[0]
        by_tag[tag] = (item.rcpt_tos, human.get_content().rstrip().splitlines()[-1])
    assert by_tag == {tag: ([sender], message) for tag, sender, _b, message in REFUSALS}
    assert all(gw.jobs(key) == [] for key in gw.keys.values())


def test_authentication_lets_the_right_mail_through(
        database_url, make_gateway, tmp_path, signer):
    gw = _gateway(make_gateway, database_url, tmp_path, signer)
    key_pw = gw.create_account("pw2", "pw2@example.jp")  # a second, unrelated account
    assert key_pw
    ok = [
        (PW, mail(PW, "Password: s3cret\nご注文の明細です。\n", tag="pw-ok")),
        (TK, mail(TK, attachments=((TICKET, "text", "xml", "FaxInfo.XML"),), tag="tk-ok")),
        (SM, detached_mail(*signer)),
    ]
    for sender, raw in ok:
        reply = gw.send_raw(sender, [FAX], raw)
        assert reply.startswith("250 2.0.0 OK queued"), (sender, reply)
    wrong_ticket = mail(TK, attachments=((TICKET.replace(b"KEY-123", b"KEY-999"), "text", "xml",
                                          "faxinfo.xml"),), tag="tk-bad")
    assert gw.send_raw(TK, [FAX], wrong_ticket) == f"550 5.7.1 {checks.BAD_TICKET}"
    store = Store(database_url)
    try:
        with store.session() as session:
            kept = {m.sender: m.raw for m in session.scalars(select(InboundMail))}
    finally:
        store.dispose()
    assert b"s3cret" not in kept[PW]
    assert b"Password" not in kept[PW]
    assert b"FaxInfo" not in kept[TK] and b"KEY-123" not in kept[TK]
    assert b"pkcs7-signature" not in kept[SM] and b"please send this page" in kept[SM]


def test_smime_signatures(database_url, make_gateway, tmp_path, signer):
    gw = _gateway(make_gateway, database_url, tmp_path, signer)
    key, cert = signer
    forger = make_cert()  # another key, same subject
    expired = make_cert(key=key, not_before=NOW - timedelta(days=400),
                        not_after=NOW - timedelta(days=30))
    assert gw.send_raw(SM, [FAX], detached_mail(key, cert)).startswith("250")
    assert gw.send_raw(SM, [FAX], mail(SM)) == f"550 5.7.1 {checks.NO_SIGNATURE}"
    assert gw.send_raw(SM, [FAX], detached_mail(*forger)) == f"550 5.7.1 {checks.BAD_SIGNATURE}"
    # the expired certificate is the one registered now: its signatures no longer count
    (tmp_path / "expired.pem").write_bytes(pem(expired[1]))
    gw.cli("accounts", "set", "sm", f"fax.smime_certs=@{tmp_path / 'expired.pem'}")
    assert gw.send_raw(SM, [FAX], detached_mail(*expired)) == f"550 5.7.1 {checks.BAD_SIGNATURE}"
    tampered = detached_mail(key, cert).replace(b"please send this page", b"please send 9 pages")
    gw.cli("accounts", "set", "sm", f"fax.smime_certs=@{tmp_path / 'sender.pem'}")
    assert gw.send_raw(SM, [FAX], tampered) == f"550 5.7.1 {checks.BAD_SIGNATURE}"
    assert len(gw.jobs(gw.keys["sm"])) == 1

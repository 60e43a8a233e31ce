"""Fuzz: 10,000 mutated mails through ingest (checks and commit, a real SQLite store).
No mail may crash it; each is accepted or refused with one of the known messages."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tests.test_submission import EXE, FAX, TICKET, mail, partial

from todoke.accounts import create_account, set_property
from todoke.config import Settings
from todoke.ingest import checks
from todoke.ingest.faxmail import FaxMailIntake
from todoke.store.db import Store

PLAIN, PW, TK = "plain@example.jp", "pw@example.jp", "tk@example.jp"
SEEDS = [
    mail(PLAIN, "注文書です。\n" * 20),
    mail(PW, "Password: s3cret\nHello\n"),
    mail(PLAIN, None, html="<html><body><p>見積書</p><script>x</script></body></html>"),
    mail(PLAIN, "see attached\n", attachments=(EXE,)),
    mail(TK, attachments=((TICKET, "text", "xml", "FaxInfo.XML"),)),
    mail(PLAIN, "pdf\n", attachments=(
        (b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF", "application", "pdf", "a.pdf"),)),
    partial(PLAIN, "p"),
    b"From: plain@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCQ21KOD1xGyhC?=\r\n"
    b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
]
TOKENS = [
    b"\r\n\r\n", b"\r\n", b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n", b"--zz\r\n",
    b"--zz--\r\n", b"=?utf-8?b?", b"?=", b"message/partial", b"multipart/signed",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Password: ", b"\xff\xfe", b"\x00", b"FaxInfo.XML", b"charset=\"x-unknown\"",
    b"Content-Disposition: attachment; filename*=utf-8''%E8%A6%8B.pdf\r\n", b"=\r\n",
    b"Return-Path: <pw@example.jp>\r\n", b"Reply-To: \"\" <>\r\n", b"application/pkcs7-mime",
]
RECIPIENTS = [FAX, "list-x@fax.localhost", "abc@fax.localhost", "+81312345678@fax.localhost",
              "0099999996017@fax.localhost"]
KNOWN = re.compile(r"^250 2\.0\.0 OK( queued as M\d+ \(\d+ fax\))?$")


@st.composite
def mutated_mails(draw: st.DrawFn) -> tuple[str, list[str], bytes]:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, len(raw)))
        if op == 0 and raw:
            raw[min(pos, len(raw) - 1)] = draw(st.integers(0, 255))
        elif op == 1:
            raw[pos:pos] = draw(st.binary(max_size=32))
        elif op == 2:
            del raw[pos: pos + draw(st.integers(1, 300))]
        elif op == 3:
            raw[pos:pos] = draw(st.sampled_from(TOKENS))
        else:
            raw = raw[:pos]
    sender = draw(st.sampled_from([PLAIN, PW, TK, ""]))
    rcpts = draw(st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=3))
    return sender, rcpts, bytes(raw)


@pytest.fixture(scope="module")
def intake(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz")
    store = Store(f"sqlite:///{path / 'fuzz.db'}")
    store.migrate()
    with store.session() as session:
        create_account(session, "plain", [PLAIN])
        pw = create_account(session, "pw", [PW]).organisation
        set_property(session, pw, "fax.require_password", "true")
        set_property(session, pw, "fax.password", "s3cret")
        tk = create_account(session, "tk", [TK]).organisation
        set_property(session, tk, "fax.require_ticket", "true")
        set_property(session, tk, "fax.ticket_key", "KEY-123")
    intake = FaxMailIntake(Settings.from_env({"TODOKE_DATA_DIR": str(path)}), store)
    yield intake
    intake.close()
    store.dispose()


# CI replays one fixed set of 10,000 cases; elsewhere every run explores new ones.
@settings(max_examples=10_000, deadline=None, database=None, phases=[Phase.generate],
          derandomize=bool(os.environ.get("CI")), suppress_health_check=list(HealthCheck))
@given(case=mutated_mails())
def test_mutated_mails_are_accepted_or_refused_exactly(intake, case):
    sender, rcpts, raw = case
    reply = intake.accept_sync(sender, rcpts, raw)
    if KNOWN.match(reply):
        return
    code, status, message = reply.split(" ", 2)
    assert message in checks.KNOWN_REFUSALS, reply
    assert checks.REPLIES[message] == (int(code), status), reply

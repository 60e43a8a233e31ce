"""Fax-mail header reading: subjects in every form, sender identity, numbers."""

from email.parser import BytesHeaderParser
from email.policy import compat32

import pytest

from todoke.ingest.faxmail import decode_text, fax_numbers, sender_identity


def headers(raw: bytes):
    return BytesHeaderParser(policy=compat32).parsebytes(raw + b"\r\n\r\n")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Subject: 注文書 /retries 1".encode(), "注文書 /retries 1"),  # raw UTF-8 (RFC 6532)
        ("Subject: 見積".encode("cp932"), "見積"),  # raw Shift_JIS from an old mailer
        (b"Subject: =?ISO-2022-JP?B?GyRCQ21KOD1xGyhC?= /rf", "注文書 /rf"),
        (b"Subject: =?UTF-8?B?6KuL5rGC5pu4?=", "請求書"),
        (b"Subject: =?utf-8?q?abc?= def", "abc def"),
        (b"Subject: plain", "plain"),
    ],
)
def test_subjects_decode(raw, text):
    assert decode_text(headers(raw).get("Subject")) == text


def test_sender_identity_prefers_return_path_then_envelope_then_from():
    h = headers(b"Return-Path: <RP@Example.jp>\r\nFrom: Someone <from@example.jp>")
    assert sender_identity(h, "env@example.jp") == "rp@example.jp"
    h = headers(b"From: Someone <From@example.jp>")
    assert sender_identity(h, "Env@Example.jp") == "env@example.jp"
    assert sender_identity(h, "") == "from@example.jp"


def test_numbers_are_deduplicated_and_invalid_ones_listed():
    numbers, invalid = fax_numbers([
        "03-1234-5678@fax.localhost", "0312345678@fax.localhost", "+81312345678@fax.localhost",
        "sales@fax.localhost", "0612345678@fax.localhost",
    ])
    assert [n.dialled for n in numbers] == ["0312345678", "0612345678"]
    assert invalid == ["sales"]

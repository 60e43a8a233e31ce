"""Tests for the refusal DSN: golden, RFC 3464 structure parsed back, last line of the notice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from todoke.notify import REFUSAL_STATUS, build_refusal_dsn

Reparse = Callable[[EmailMessage], EmailMessage]
View = Callable[[EmailMessage, tuple[str, ...]], str]

ORIGINAL = (
    b"Return-Path: <sales@example.co.jp>\r\n"
    b"From: Sales <sales@example.co.jp>\r\n"
    b"To: 0344772288x@fax.example.jp\r\n"
    b"Subject: =?utf-8?b?6KaL56mN5pu4?=\r\n"
    b"Message-ID: <orig-1@example.co.jp>\r\n"
    b"\r\n"
    b"Secret body text\r\n"
)
ARRIVAL = datetime(2024, 5, 1, 3, 12, 5, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 3, 12, 6, tzinfo=UTC)
RECIPIENTS = ["0344772288x@fax.example.jp", "abc@fax.example.jp"]
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")


def build(message: str = "*** No recipients found ***", **kwargs: object) -> EmailMessage:
    options: dict[str, object] = {
        "original": ORIGINAL,
        "reporting_mta": "fax.example.jp",
        "from_addr": "MAILER-DAEMON@fax.example.jp",
        "to_addr": "sales@example.co.jp",
        "recipients": RECIPIENTS,
        "message": message,
        "arrival": ARRIVAL,
        "now": NOW,
        "message_id": "<dsn-fixed@fax.example.jp>",
    }
    options.update(kwargs)
    return build_refusal_dsn(**options)  # type: ignore[arg-type]


def test_golden(golden: Callable[[str, str], None], decoded_view: View) -> None:
    golden("refusal_dsn.no_recipients.txt", decoded_view(build(), HEADERS))


def test_structure(reparse: Reparse) -> None:
    msg = reparse(build())
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["From"] == "MAILER-DAEMON@fax.example.jp"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] == "<dsn-fixed@fax.example.jp>"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]


def test_delivery_status_fields(reparse: Reparse) -> None:
    status_part = list(reparse(build()).iter_parts())[1]
    per_message, *per_recipient = status_part.get_payload()
    assert per_message["Reporting-MTA"] == "dns; fax.example.jp"
    assert per_message["Arrival-Date"] == "Wed, 01 May 2024 03:12:05 +0000"
    assert [block["Final-Recipient"] for block in per_recipient] == [
        f"rfc822; {address}" for address in RECIPIENTS]
    for block in per_recipient:
        assert block["Action"] == "failed"
        assert block["Status"] == "5.1.1"
        assert block["Diagnostic-Code"] == "X-Todoke; *** No recipients found ***"


@pytest.mark.parametrize(("message", "status"), sorted(REFUSAL_STATUS.items()))
def test_every_refusal_ends_the_notice(message: str, status: str, reparse: Reparse) -> None:
    human, report, _ = reparse(build(message)).iter_parts()
    assert human.get_content().rstrip("\n").splitlines()[-1] == message
    assert all(block["Status"] == status for block in report.get_payload()[1:])


def test_original_headers_only(reparse: Reparse) -> None:
    headers = list(reparse(build()).iter_parts())[2].get_content()
    assert "Message-ID: <orig-1@example.co.jp>" in headers.splitlines()
    assert "Subject: =?utf-8?b?6KaL56mN5pu4?=" in headers.splitlines()
    assert "Secret body text" not in headers


def test_lf_and_eight_bit_original(reparse: Reparse) -> None:
    original = "From: a@example.jp\nSubject: 見積書\n\nbody\n".encode()
    headers = list(reparse(build(original=original)).iter_parts())[2].get_content()
    assert headers.splitlines() == ["From: a@example.jp", "Subject: 見積書"]


def test_status_override_and_default(reparse: Reparse) -> None:
    msg = reparse(build("*** Something else ***", status="5.3.0"))
    assert list(msg.iter_parts())[1].get_payload()[1]["Status"] == "5.3.0"
    msg = reparse(build("*** Something else ***"))
    assert list(msg.iter_parts())[1].get_payload()[1]["Status"] == "5.0.0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"recipients": []},
        {"message": "two\nlines"},
        {"arrival": datetime(2024, 5, 1)},
        {"status": "4.2.2"},
    ],
)
def test_refused_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(**kwargs)

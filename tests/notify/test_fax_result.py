"""Tests for the fax result notification: goldens in both languages, headers, escaping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from todoke.notify import FaxOutcome, build_fax_notification

Reparse = Callable[[EmailMessage], EmailMessage]
View = Callable[[EmailMessage, tuple[str, ...]], str]

NOW = datetime(2024, 5, 1, 3, 16, 0, tzinfo=UTC)
FROM = "fax-notify@fax.example.jp"
TO = "sales@example.co.jp"

BASE = FaxOutcome(
    transaction_id="TX-20240501-0001",
    number="0344772288",
    result_code="0",
    pages_sent=3,
    pages_total=3,
    attempts=1,
    duration_s=74.6,
    subject="見積書の送付",
    csid="sales@example.co.jp",
    submitted_at=datetime(2024, 5, 1, 3, 12, 5, tzinfo=UTC),
    completed_at=datetime(2024, 5, 1, 3, 15, 40, tzinfo=UTC),
)
BUSY = replace(BASE, result_code="6017", pages_sent=1, attempts=4, duration_s=31.0)
RENDER = replace(BASE, result_code="204001", pages_sent=0, pages_total=0, attempts=1,
                 duration_s=0.0, subject="Invoice May", detail="invoice.pdf: encrypted PDF")

CASES = [
    ("ja", "success", BASE),
    ("ja", "failure", BUSY),
    ("ja", "render_error", RENDER),
    ("en", "success", BASE),
    ("en", "failure", BUSY),
    ("en", "render_error", RENDER),
]
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "Content-Language")


def build(outcome: FaxOutcome, **kwargs: object) -> EmailMessage:
    options: dict[str, object] = {"now": NOW, "message_id": "<fixed-id@fax.example.jp>"}
    options.update(kwargs)
    return build_fax_notification(outcome, from_addr=FROM, to_addr=TO, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("language", "name", "outcome"), CASES)
def test_golden(
    language: str, name: str, outcome: FaxOutcome, golden: Callable[[str, str], None],
    decoded_view: View,
) -> None:
    msg = build(outcome, language=language)
    golden(f"fax_result.{language}.{name}.txt", decoded_view(msg, HEADERS))


@pytest.mark.parametrize(
    ("language", "outcome", "subject"),
    [
        ("ja", BASE, "FAX送信が成功しました -> 0344772288"),
        ("ja", BUSY, "FAX送信が失敗しました -> 0344772288"),
        ("en", BASE, "Fax sent successfully -> 0344772288"),
        ("en", BUSY, "Fax transmission failed -> 0344772288"),
        ("ja", replace(BASE, result_code="99999"), "FAX送信が失敗しました -> 0344772288"),
    ],
)
def test_subject(language: str, outcome: FaxOutcome, subject: str, reparse: Reparse) -> None:
    assert reparse(build(outcome, language=language))["Subject"] == subject


def test_headers(reparse: Reparse) -> None:
    msg = reparse(build_fax_notification(BUSY, from_addr=FROM, to_addr=TO))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Message-ID"].endswith("@fax.example.jp>")
    assert msg["Date"].datetime.utcoffset() == timedelta(hours=9)  # the notification's zone
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "base64"


def test_raw_subject_is_ascii_encoded_word() -> None:
    raw = build(BUSY).as_bytes()
    subject_line = next(line for line in raw.split(b"\n") if line.startswith(b"Subject:"))
    assert subject_line.isascii() and b"=?utf-8?" in subject_line


def test_text_only(reparse: Reparse) -> None:
    msg = reparse(build(BUSY, html=False))
    assert msg.get_content_type() == "text/plain"
    assert "送信結果: 6017" in msg.get_content()


@pytest.mark.parametrize(("language", "line"), [("ja", "送信結果: 6017"), ("en", "Result: 6017")])
def test_result_line_then_meaning_and_remedy(language: str, line: str, reparse: Reparse) -> None:
    text = reparse(build(BUSY, language=language, html=False)).get_content()
    lines = text.splitlines()
    index = lines.index(line)
    assert lines[index + 1].startswith(("結果の内容: 話中", "Meaning: Busy"))
    assert lines[index + 2].startswith(("対処方法: ", "Remedy: "))


def test_success_has_no_remedy(reparse: Reparse) -> None:
    text = reparse(build(BASE, html=False)).get_content()
    assert "送信結果: 0" in text.splitlines()
    assert "対処方法" not in text


@pytest.mark.parametrize("language", ["ja", "en"])
def test_html_escapes_script(language: str, reparse: Reparse) -> None:
    evil = replace(RENDER, subject="<script>alert(1)</script>", number="0344<script>",
                   detail="a.pdf: <script>x</script> & more")
    msg = reparse(build(evil, language=language))
    text, page = (part.get_content() for part in msg.iter_parts())
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "0344&lt;script&gt;" in page
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in page
    assert "<script>alert(1)</script>" in text  # plain text shows it as written


def test_newlines_in_values_stay_on_one_line(reparse: Reparse) -> None:
    sneaky = replace(RENDER, subject="line one\r\nBcc: x@example.com", detail="a\nb")
    text = reparse(build(sneaky, html=False)).get_content()
    assert "件名: line one Bcc: x@example.com" in text.splitlines()
    assert "詳細: a b" in text.splitlines()


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Tokyo", "2024-05-01 12:15:40 +09:00"),
        ("UTC", "2024-05-01 03:15:40 +00:00"),
        ("America/New_York", "2024-04-30 23:15:40 -04:00"),
    ],
)
def test_times_in_the_given_zone(zone: str, shown: str, reparse: Reparse) -> None:
    text = reparse(build(BASE, timezone=zone, html=False)).get_content()
    assert f"完了日時: {shown}" in text.splitlines()


def test_times_given_in_another_offset_are_converted(reparse: Reparse) -> None:
    paris = timezone(timedelta(hours=2))
    outcome = replace(BASE, completed_at=datetime(2024, 5, 1, 5, 15, 40, tzinfo=paris))
    text = reparse(build(outcome, html=False)).get_content()
    assert "完了日時: 2024-05-01 12:15:40 +09:00" in text.splitlines()


@pytest.mark.parametrize(
    ("outcome", "kwargs"),
    [
        (replace(BASE, submitted_at=datetime(2024, 5, 1, 3, 12, 5)), {}),  # naive
        (BASE, {"timezone": "Mars/Olympus"}),
        (BASE, {"language": "fr"}),
        (replace(BASE, result_code="-3"), {}),  # still in progress
        (BASE, {"now": datetime(2024, 5, 1)}),  # naive now
    ],
)
def test_refused_input(outcome: FaxOutcome, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(outcome, **kwargs)

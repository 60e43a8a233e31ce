"""Notify stage: the fax result notification sent to the sender after a fax ends.

Owns ``FaxOutcome`` (what the worker knows when a fax job is done) and
``build_fax_notification`` (that outcome as a mail, Japanese or English, text or text+HTML).

Subjects (SPEC-FAX, "Notifications"): ``FAX送信が成功しました -> <number>`` and
``FAX送信が失敗しました -> <number>``; in English ``Fax sent successfully -> <number>`` and
``Fax transmission failed -> <number>``. The body has one ``label: value`` line per field, and
the result code on a line of its own (``送信結果: <code>`` / ``Result: <code>``) followed by
the code's meaning and remedy (remedy only on failure). Times are shown in the given IANA
time zone with their UTC offset (``2024-05-01 21:04:05 +09:00``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todoke.fax.codes import lookup
from todoke.notify.templating import render, set_standard_headers

LANGUAGES = ("ja", "en")

SUBJECTS: dict[str, tuple[str, str]] = {
    # language: (success, failure); the number is appended after " -> ".
    "ja": ("FAX送信が成功しました", "FAX送信が失敗しました"),
    "en": ("Fax sent successfully", "Fax transmission failed"),
}


@dataclass(frozen=True)
class FaxOutcome:
    """The final state of one fax to one number, as the notification reports it."""

    transaction_id: str
    number: str
    result_code: str
    pages_sent: int
    pages_total: int
    attempts: int
    duration_s: float
    subject: str  # the sender's kept subject (at most 60 characters)
    csid: str  # sender identity
    submitted_at: datetime  # aware
    completed_at: datetime  # aware
    detail: str = ""  # extra reason text, e.g. "invoice.pdf: encrypted PDF"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {name!r}") from exc


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` in ``zone`` as ``YYYY-MM-DD HH:MM:SS +HH:MM``; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("FaxOutcome times must be timezone-aware")
    local = moment.astimezone(zone)
    offset = local.strftime("%z")  # "+0900"
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def notification_subject(outcome: FaxOutcome, language: str = "ja") -> str:
    """Return the subject line for ``outcome`` in ``language``."""
    success, failure = SUBJECTS[language]
    head = success if lookup(outcome.result_code).state == "success" else failure
    return f"{head} -> {' '.join(outcome.number.split())}"


def build_fax_notification(
    outcome: FaxOutcome,
    *,
    from_addr: str,
    to_addr: str,
    language: str = "ja",
    timezone: str = "Asia/Tokyo",
    html: bool = True,
    now: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Build the result notification for ``outcome``; multipart/alternative when ``html``.

    ``now`` (the Date header, default: the current time) and ``message_id`` (default: a new
    one at the domain of ``from_addr``) exist for reproducible tests. A pending result code
    (-1, -2, -3, -22) is refused: only a finished fax is notified.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}: {language!r}")
    code = lookup(outcome.result_code)
    if code.state == "pending":
        raise ValueError(f"result code {code.code} is an in-progress state, not a result")
    zone = _zone(timezone)
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    success = code.state == "success"
    context = {
        "o": outcome,
        "success": success,
        "code": code.code,
        "label": code.label_ja if language == "ja" else code.label_en,
        "meaning": code.meaning_ja if language == "ja" else code.meaning_en,
        "remedy": code.remedy_ja if language == "ja" else code.remedy_en,
        "duration": f"{outcome.duration_s:.0f}",
        "submitted": format_time(outcome.submitted_at, zone),
        "completed": format_time(outcome.completed_at, zone),
        "timezone": timezone,
    }

    msg = EmailMessage()
    set_standard_headers(
        msg,
        from_addr=from_addr,
        to_addr=to_addr,
        subject=notification_subject(outcome, language),
        auto_submitted="auto-generated",
        now=when.astimezone(zone),
        message_id=message_id,
    )
    # base64 keeps UTF-8 Japanese intact through any 7-bit relay; every current mail client
    # (including Japanese ones) reads UTF-8, so there is no need for ISO-2022-JP.
    text = render(f"fax_result.{language}.txt.j2", **context)
    msg.set_content(text, charset="utf-8", cte="base64")
    if html:
        page = render(f"fax_result.{language}.html.j2", **context)
        msg.add_alternative(page, subtype="html", charset="utf-8", cte="base64")
    # Set last: set_content/add_alternative move or drop Content-* headers already present.
    msg["Content-Language"] = language
    return msg

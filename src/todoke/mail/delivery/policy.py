"""Mail delivery, retry policy: when to try a deferred delivery again, and when to give up.

The delay after attempt n is ``5 × 1.3^(n-1)`` minutes (Postal's shape), at most 4 hours;
a 4xx reply that says "try again in N minutes/seconds/hours" is honoured (never less than
one minute); after 5 days in the queue a delivery fails with reason ``expired`` and error
status 3 (再送タイムアウト), as Postfix bounces after its queue lifetime. Every duration is
in schedule minutes, turned into seconds by ``Settings.minutes`` (TODOKE_MINUTE_SECONDS).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from todoke.config import Settings

BASE_MINUTES = 5.0
FACTOR = 1.3
CAP_MINUTES = 240.0
LIFETIME_MINUTES = 5 * 24 * 60.0

_HINT = re.compile(
    r"(?:try|retry|come back)\b[^.;]{0,40}?\b(?:in|after)\s+(\d{1,5})\s*"
    r"(s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
    re.IGNORECASE,
)


def hinted_minutes(text: str) -> float | None:
    """The wait a reply asks for ("try again in 10 minutes"), in minutes, or None."""
    match = _HINT.search(text)
    if not match:
        return None
    amount, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("s"):
        return amount / 60.0
    if unit.startswith("h"):
        return amount * 60.0
    return amount


def retry_minutes(attempts: int, reply_text: str = "") -> float:
    """Minutes to wait after the ``attempts``-th failed attempt."""
    hint = hinted_minutes(reply_text)
    if hint is not None:
        return min(max(hint, 1.0), CAP_MINUTES)
    return min(BASE_MINUTES * FACTOR ** max(attempts - 1, 0), CAP_MINUTES)


def expired(settings: Settings, created: datetime, now: datetime) -> bool:
    """True when a delivery queued at ``created`` has outlived the queue lifetime."""
    return now - created >= timedelta(seconds=settings.minutes(LIFETIME_MINUTES))


def next_attempt(settings: Settings, now: datetime, attempts: int,
                 reply_text: str = "") -> datetime:
    """When to try again after the ``attempts``-th failed attempt."""
    return now + timedelta(seconds=settings.minutes(retry_minutes(attempts, reply_text)))

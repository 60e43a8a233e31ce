"""Bounce analysis: turn a bounce mail into one record per failed recipient.

One module per format (lhost/), one per provider whose replies decide (rhost/), a table of
telltale phrases per reason (reason/), like Sisimai; our own code.

Stage: mail. Owns classification of bounce mails (RFC 3464 DSNs, MTA-specific plain-text
bounces, RFC 5965 ARF feedback reports, RFC 3834 auto-replies) and of SMTP replies seen by our
own delivery. Standards: RFC 3463 (enhanced status codes), RFC 3464 (DSN), RFC 5321 (reply
codes), RFC 5965 (ARF), RFC 3834 (auto-replies). Settings: an optional rules file
(`load_rules(path)`, TOML/JSON regex -> reason, tried before the built-in rules).

Public API: `classify_bytes`, `classify_file`, `classify_smtp_reply`, `load_rules`,
`BounceRecord`; the CLI contract lives in `command.py`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .classify import classify_bytes
from .reason import clear_rules, load_rules
from .record import BounceRecord, Finding
from .replies import classify_smtp_reply

__all__ = [
    "BounceRecord",
    "Finding",
    "classify_bytes",
    "classify_file",
    "classify_smtp_reply",
    "clear_rules",
    "load_rules",
]


if TYPE_CHECKING:
    from pathlib import Path


def classify_file(path: str | os.PathLike[str] | Path) -> list[BounceRecord]:
    """Classify the bounce mail stored in a file (raw RFC 5322 bytes)."""
    with open(path, "rb") as fh:
        return classify_bytes(fh.read())

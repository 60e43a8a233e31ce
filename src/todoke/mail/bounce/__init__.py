"""Bounce analysis: turn a bounce mail into one record per failed recipient.

Stage: mail. Owns the classification of bounce mails (RFC 3464 DSNs, MTA-specific plain-text
bounces, RFC 5965 ARF feedback reports, RFC 3834 auto-replies, Amazon SES JSON notices) and
of single SMTP replies seen by todoke's own delivery. Like Sisimai, but our own code.

Standards: RFC 3463 (enhanced status codes), RFC 3464 (DSN), RFC 5321 (reply codes),
RFC 5965 (ARF), RFC 3834 (auto-replies), RFC 7505 (null MX), RFC 2045/2046 (MIME).
Settings: a deployment rules file (`load_rules(path)`: TOML/JSON regex -> reason, tried
before the built-in rules, first match wins).

Layout (one concept per module):
  mime.py, mailview.py   lazy MIME split of the raw bytes; decode only the parts needed
  lhost/<mta>.py         one parser per bounce writer, `@parser(name, match)`; lhost.ORDER
  rfc3464.py, arf.py, autoreply.py   the standard formats
  rhost/<provider>.py    providers whose own reply codes decide, `@provider(suffixes)`
  reason/                phrase table per reason + the decision order (status probe first)
  table.py               reasons, reason -> error status (1-11, 99), pseudo codes, hardness
  classify.py            the pipeline; replies.py the SMTP-reply entry; command.py the CLI

Public API: `classify_bytes`, `classify_file`, `classify_smtp_reply`, `load_rules`,
`clear_rules`, `BounceRecord`; the `todoke classify` contract is `command.classify_main`.
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

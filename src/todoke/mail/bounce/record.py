"""Bounce stage, data types: the raw finding a parser makes and the final record per recipient.

`Finding` is what a format parser (lhost/, rfc3464, arf, autoreply) extracts; `BounceRecord` is
what the classifier hands out after the reason, status and hardness have been decided.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Finding:
    """One failed recipient as a parser saw it, before classification."""

    recipient: str = ""
    status: str = ""
    replycode: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""
    action: str = ""
    remote_mta: str = ""
    lhost: str = ""
    rhost: str = ""
    date: str = ""
    command: str = ""
    reason: str = ""
    feedback_type: str = ""
    agent: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BounceRecord:
    """One failed recipient of a bounce mail, classified."""

    recipient: str
    reason: str
    status: str
    replycode: str
    hardbounce: bool
    error_status: int
    diagnostic: str = ""
    action: str = ""
    remote_mta: str = ""
    lhost: str = ""
    rhost: str = ""
    date: str = ""
    feedback_type: str = ""
    command: str = ""
    agent: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON-ready)."""
        return asdict(self)

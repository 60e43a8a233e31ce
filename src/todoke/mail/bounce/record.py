"""Bounce stage, data types: the raw finding a parser makes and the final record per recipient.

`Finding` is what a format parser (lhost/, rfc3464, arf, autoreply) extracts; `BounceRecord` is
what the classifier hands out after the reason, status and hardness have been decided (a
dataclass). `Finding` is a plain slotted class: parsers create many and fill them gradually.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_FINDING_FIELDS = (
    "recipient", "status", "replycode", "diagnostic", "diagnostic_type", "action", "remote_mta",
    "lhost", "rhost", "date", "command", "reason", "feedback_type", "agent",
)


class Finding:
    """One failed recipient as a parser saw it, before classification."""

    __slots__ = (*_FINDING_FIELDS, "extra")

    def __init__(self, recipient: str = "", status: str = "", replycode: str = "",
                 diagnostic: str = "", diagnostic_type: str = "", action: str = "",
                 remote_mta: str = "", lhost: str = "", rhost: str = "", date: str = "",
                 command: str = "", reason: str = "", feedback_type: str = "", agent: str = "",
                 extra: dict[str, str] | None = None) -> None:
        self.recipient = recipient
        self.status = status
        self.replycode = replycode
        self.diagnostic = diagnostic
        self.diagnostic_type = diagnostic_type
        self.action = action
        self.remote_mta = remote_mta
        self.lhost = lhost
        self.rhost = rhost
        self.date = date
        self.command = command
        self.reason = reason
        self.feedback_type = feedback_type
        self.agent = agent
        self.extra: dict[str, str] = extra if extra is not None else {}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in _FINDING_FIELDS if getattr(self, k))
        return f"Finding({inner})"


@dataclass(slots=True)
class BounceRecord:
    """One failed recipient of a bounce mail, classified.

    recipient, reason (one of the 36 in `table.REASONS`), status (enhanced code or ""),
    replycode (3 digits or ""), hardbounce, error_status (1-11, 99), then the evidence:
    diagnostic text, DSN action, remote MTA, reporting host (lhost), remote host (rhost),
    date, ARF feedback type, the SMTP command answered, and the parser (agent) that read it.
    """

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

"""Bounce stage, reason decision: from status code, reply text and context to one reason.

Owns the order in which reasons are probed (data, below), the compiled phrase table
(`phrases.py`), deployment rules (`load_rules`: a TOML or JSON file of regex -> reason, tried
before the built-in rules, first match wins, like KumoMTA's bounce classification), and the
fallbacks: 2.x.x -> delivered, status class, action "delayed" -> expired, any error text ->
onhold, else undefined. Remote-host rules (`rhost/`) are applied by the caller first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..record import Finding
from ..table import REASONS, status_reason
from .phrases import PHRASES

#: First pass: a reason wins when the status code means it or one of its phrases matches.
PROBE_ORDER: tuple[str, ...] = (
    "mailboxfull", "exceedlimit", "mesgtoobig", "suspend", "hasmoved", "norelaying",
    "spamdetected", "authfailure", "userunknown", "filtered", "requireptr", "notcompliantrfc",
    "badreputation",
    "policyviolation", "rejected", "notaccept", "hostunknown", "toomanyconn", "speeding",
    "blocked",
)
#: Status codes whose meaning no reply text overrides (RFC 3463 / RFC 7505 / RFC 7372).
DECISIVE_STATUS: dict[str, str] = {
    "2.2": "mailboxfull", "2.3": "exceedlimit", "1.6": "hasmoved", "1.10": "notaccept",
    "7.27": "notaccept", "7.26": "authfailure", "7.13": "suspend", "7.25": "requireptr",
    "4.4": "notaccept", "1.7": "rejected", "1.8": "rejected",
    "4.3": "systemerror",
}
_NOT_AT_MAIL = frozenset({
    "userunknown", "hostunknown", "onhold", "undefined", "suspend", "systemerror",
    "networkerror", "filtered", "syntaxerror", "badreputation",
})
#: Second pass, phrases only, after the status code alone had nothing decisive to say.
PHRASE_ORDER: tuple[str, ...] = (
    "mailboxfull", "spamdetected", "policyviolation", "virusdetected", "norelaying",
    "failedstarttls", "securityerror", "systemerror", "expired", "networkerror", "suspend",
    "contenterror", "systemfull", "notaccept", "mailererror",
)
#: Reasons a parser may set tentatively; the text is still examined.
RETRY: frozenset[str] = frozenset({
    "undefined", "onhold", "systemerror", "securityerror", "networkerror", "hostunknown",
    "userunknown",
})

if TYPE_CHECKING:
    from pathlib import Path

_COMPILED: dict[str, re.Pattern[str] | None] = {}


def _compiled(reason: str) -> re.Pattern[str] | None:
    """The phrase regex of a reason, compiled on first use (keeps start-up short)."""
    try:
        return _COMPILED[reason]
    except KeyError:
        ps = PHRASES.get(reason, ())
        rx = re.compile("|".join(f"(?:{p})" for p in ps)) if ps else None
        _COMPILED[reason] = rx
        return rx


def warm_up() -> None:
    """Compile every phrase regex now (before forking workers that should share them)."""
    for r in PHRASES:
        _compiled(r)
_SPACES = re.compile(r"\s+")

_user_rules: list[tuple[re.Pattern[str], str]] = []


def load_rules(path: str | Path, *, replace: bool = True) -> int:
    """Load deployment rules from TOML/JSON; they are tried before the built-in ones.

    Format (TOML): ``[[rule]] pattern = "mailbox is full" reason = "mailboxfull"``; JSON: a
    list of ``{"pattern": ..., "reason": ...}`` or an object ``{"rules": [...]}``. Patterns
    are case-insensitive regexes over the flattened reply text. Returns the rule count.
    """
    import json
    import tomllib
    from pathlib import Path

    p = Path(path)
    data: object
    if p.suffix.lower() == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
    else:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    items = data.get("rule", data.get("rules", [])) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of rules")
    rules: list[tuple[re.Pattern[str], str]] = []
    for i, item in enumerate(items):
        reason = str(item.get("reason", "")).lower()
        if reason not in REASONS:
            raise ValueError(f"{path}: rule {i}: unknown reason {reason!r}")
        rules.append((re.compile(str(item["pattern"]), re.I), reason))
    global _user_rules
    _user_rules = rules if replace else rules + _user_rules
    return len(rules)


def clear_rules() -> None:
    """Forget deployment rules."""
    _user_rules.clear()


def flatten(text: str) -> str:
    """Lower-case text with runs of white space made one space."""
    return _SPACES.sub(" ", text).strip().lower()


def match_phrase(reason: str, text: str) -> bool:
    """Whether a (flattened) text holds one of the telltale phrases of a reason."""
    rx = _compiled(reason)
    return bool(rx and rx.search(text))


def user_rule(text: str) -> str:
    """Reason from the deployment rules, "" when none matches."""
    for rx, reason in _user_rules:
        if rx.search(text):
            return reason
    return ""


def decide(f: Finding, text: str | None = None) -> str:
    """The reason for a finding (never empty)."""
    if f.reason and f.reason not in RETRY:
        return f.reason
    if text is None:
        text = flatten(f.diagnostic)
    if _user_rules:
        r = user_rule(text)
        if r:
            return r
    status = f.status
    if status.startswith("2."):
        return "delivered"
    if f.diagnostic_type == "X-UNIX":
        # a local delivery program failed (RFC 3464 diagnostic type "X-Unix")
        return "mailboxfull" if match_phrase("mailboxfull", text) else "mailererror"
    decisive = DECISIVE_STATUS.get(status[2:]) if status[:1] in ("4", "5") else None
    if decisive:
        return decisive
    if f.command in ("CONN", "HELO", "EHLO"):
        # refused before any address was given: the connecting host itself is unwelcome
        return "blocked"
    by_status = status_reason(status)
    for r in PROBE_ORDER:
        if match_phrase(r, text):
            return _refine(r, f, text)
    if by_status in PROBE_ORDER:
        return _refine(by_status, f, text)
    if by_status and by_status not in RETRY and by_status != "expired":
        return _refine(by_status, f, text)
    for r in PHRASE_ORDER:
        if match_phrase(r, text):
            return _refine(r, f, text)
    if f.reason:
        return f.reason
    if by_status:
        return _refine(by_status, f, text)
    if f.command == "MAIL":
        return "rejected"
    cls = status[2:4]
    if cls == "6.":
        return "contenterror"
    if cls == "7.":
        return "securityerror"
    if _is_syntax(f):
        return "syntaxerror"
    if f.action in ("delayed", "expired"):
        return "expired"
    if match_phrase("vacation", text):
        return "vacation"
    return "onhold" if text else "undefined"


def _refine(reason: str, f: Finding, text: str = "") -> str:
    """A "user unknown" answered to DATA, or under a policy status (5.7.x), is a filter."""
    if reason == "userunknown" and text and match_phrase("blocked", text):
        return "blocked"  # "IP address blacklisted by recipient. User unknown"
    if reason == "userunknown" and f.status[2:] != "1.1":
        if f.command == "DATA":
            return "filtered"
        if f.status[1:4] == ".7." and "access denied" not in text:
            return "filtered"
    if f.command == "MAIL" and reason in _NOT_AT_MAIL:
        # refused at MAIL FROM: the sender address was refused, not the recipient
        return "rejected"
    if reason == "hostunknown" and f.status[:1] == "4":
        # a temporary DNS failure proves nothing about the domain
        return "networkerror"
    return reason


def _is_syntax(f: Finding) -> bool:
    """50x replies (RFC 5321: syntax error / command not implemented)."""
    return f.replycode[:2] == "50" and f.replycode not in ("",)

"""Bounce stage, RFC 3464 delivery status notifications (message/delivery-status).

Owns reading the per-message and per-recipient fields of a DSN (Reporting-MTA, Final-Recipient,
Original-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date) into
`Finding`s. Also finds the same fields when an MTA pastes them into a text part.
"""

from __future__ import annotations

import re

from .mailview import MailView, find_address
from .record import Finding
from .smtp import find_command

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$")
_DSN_HINT = re.compile(r"^(?:Final|Original)-Recipient:", re.I | re.M)


def fields_blocks(text: str) -> list[dict[str, str]]:
    """Split DSN text into blocks of fields (lower-case names, unfolded values)."""
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""
    for line in text.replace("\r", "").split("\n"):
        if not line.strip():
            if cur:
                blocks.append(cur)
                cur, last = {}, ""
            continue
        if line[0] in " \t" and last:
            cur[last] += " " + line.strip()
            continue
        m = _FIELD.match(line)
        if m:
            last = m.group(1).lower()
            if last in cur and last in ("final-recipient", "original-recipient"):
                # a second recipient without a blank line in between
                blocks.append(cur)
                cur = {}
            cur[last] = m.group(2).strip()
        elif last:
            cur[last] += " " + line.strip()
    if cur:
        blocks.append(cur)
    return blocks


def _value(v: str) -> str:
    """The part after "type;" in a typed DSN field."""
    return v.split(";", 1)[1].strip() if ";" in v else v.strip()


def _dtype(v: str) -> str:
    return v.split(";", 1)[0].strip().upper() if ";" in v else ""


def parse_fields(text: str) -> list[Finding]:
    """Findings for every recipient block of a DSN text."""
    found: list[Finding] = []
    common: dict[str, str] = {}
    for block in fields_blocks(text):
        rcpt = block.get("final-recipient") or block.get("original-recipient") or ""
        if not rcpt:
            if "x-actual-recipient" in block:
                rcpt = block["x-actual-recipient"]
            else:
                common.update(block)
                continue
        addr = find_address(_value(rcpt)) or _value(rcpt).strip("<>")
        if not addr and block.get("original-recipient"):
            addr = find_address(block["original-recipient"])
        diag = block.get("diagnostic-code", "")
        f = Finding(
            recipient=addr,
            status=_clean_status(block.get("status", "")),
            diagnostic=_value(diag) if diag else "",
            diagnostic_type=_dtype(diag),
            action=block.get("action", "").split()[0].lower() if block.get("action") else "",
            remote_mta=_value(block.get("remote-mta", "")),
            lhost=_value(block.get("reporting-mta", common.get("reporting-mta", ""))),
            date=block.get("last-attempt-date", common.get("arrival-date", "")),
        )
        f.rhost = f.remote_mta
        found.append(f)
    return found


_STATUS_IN = re.compile(r"([245]\.\d{1,3}\.\d{1,3})")


def _clean_status(v: str) -> str:
    m = _STATUS_IN.search(v)
    return m.group(1) if m else ""


def parse(mail: MailView) -> list[Finding]:
    """Findings of a DSN mail: delivery-status parts first, else fields pasted in text."""
    out: list[Finding] = []
    for t in mail.dsn_texts:
        out.extend(parse_fields(t))
    if not out and _DSN_HINT.search(mail.text_all):
        out = parse_fields(mail.text_all)
    return [f for f in out if f.recipient and "@" in f.recipient]


def merge(dsn: list[Finding], text: list[Finding]) -> None:
    """Complete DSN findings with what the human-readable part says about the same recipient:
    the diagnostic when the DSN gave none, and the SMTP command."""
    by_addr = {f.recipient.lower(): f for f in text}
    for f in dsn:
        t = by_addr.get(f.recipient.lower())
        if t is None and len(dsn) == 1 and len(text) == 1:
            t = text[0]
        if t is None:
            continue
        if not f.diagnostic and "preamble" not in t.extra:
            f.diagnostic = t.diagnostic
        if not f.command:
            f.command = t.command or find_command(t.diagnostic)
        if not f.rhost:
            f.rhost = t.rhost

"""Bounce stage, generic reader for plain-text bounces (no message/delivery-status part).

Owns the heuristics shared by the lhost parsers: cut the report before the returned message,
find the lines that name a recipient, and collect the error text that follows each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..mailview import MailView
from ..record import Finding

ADDR = r"[^\s<>\"'(),;:@\[\]]+@[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9-]+"
_RCPT_LINES = (
    re.compile(rf"^\s*<({ADDR})>\.?:?\s*(.*)$"),                 # <a@b>: text   (qmail)
    re.compile(rf"^\s*\"?({ADDR})\"?\.?:?\s*$"),                  # a@b alone     (exim, gmail)
    re.compile(rf"^\s*({ADDR}):\s+(.*)$"),                        # a@b: text
    re.compile(rf"^\s*(?:to|recipients?(?:\(s\))?|rcpt to|failed recipients?(?:\(s\))?|address|"
               rf"original-recipient|recipient address)"
               rf"\s*:?\s*<?(?:rfc822;\s*)?({ADDR})>?\s*(.*)$", re.I),
    re.compile(rf"^\s*({ADDR})\s+\((.*)\)\s*$"),                  # a@b (reason)
    re.compile(rf"^\s*<?({ADDR})>?\s+(?:on|at)\s+\d.*$"),
    re.compile(rf"^\s*<?({ADDR})>?\s*[-:]+\s*(\S.*)$"),
    re.compile(rf"^.*?(?:could not be delivered to|undeliverable to|failed to deliver to|"
               rf"delivery to|unable to deliver (?:message )?to)[:\s]*<({ADDR})>[.:]?\s*(.*)$",
               re.I),
    re.compile(rf"^\s*<?({ADDR})>?\s+(\S.*)$"),
    # "Delivery failed 20 attempts: rcpt@example.org" (label first; the label is the error)
    re.compile(rf"^\s*(?P<rest>[^@<>:]{{8,80}}):\s*<?(?P<addr>{ADDR})>?\s*$"),
)
END_MARKERS = re.compile(
    r"^\s*(?:-+ ?(?:original message|this is a copy of the message|below this line is a copy"
    r"|the header of the original message|original message header|forwarded message"
    r"|unsent message below|unsent message follows|message header follows|undelivered message)"
    r"|--- below this line is a copy of the message|content-type: message/rfc822"
    r"|received: ?from |return-path: <|------ original message|original message follows"
    r"|\*\*\* original message)",
    re.I,
)


def cut(text: str, end: re.Pattern[str] = END_MARKERS) -> list[str]:
    """Lines of the report before the returned original message."""
    out = []
    for line in text.replace("\r", "").split("\n"):
        if end.search(line):
            break
        out.append(line)
    return out


def blocks(lines: Iterable[str], rcpt_res: tuple[re.Pattern[str], ...] = _RCPT_LINES,
           max_lines: int = 12) -> list[Finding]:
    """A finding per recipient line, with the text after it as the diagnostic."""
    found: list[Finding] = []
    cur: Finding | None = None
    taken = 0
    for line in lines:
        m = None
        if "@" in line:  # every recipient line names an address: skip the regexes otherwise
            for rx in rcpt_res:
                m = rx.match(line)
                if m:
                    break
        if m:
            named = m.groupdict()
            addr = named.get("addr") or m.group(1)
            if "rest" in named:
                rest = named["rest"] or ""
            else:
                rest = m.group(2).strip() if m.lastindex and m.lastindex >= 2 else ""
            same = [f for f in found if f.recipient.lower() == addr.lower()]
            if same and (cur is same[-1] or not same[-1].diagnostic):
                cur = same[-1]
                cur.diagnostic = f"{cur.diagnostic} {line.strip()}".strip()
                continue
            cur = Finding(recipient=addr, diagnostic=rest)
            found.append(cur)
            taken = 0
            continue
        if cur is not None and taken < max_lines:
            s = line.strip()
            if s:
                cur.diagnostic = f"{cur.diagnostic} {s}".strip()
                taken += 1
            elif cur.diagnostic:
                taken += 1
    return found


def generic(mail: MailView) -> list[Finding]:
    """Best-effort findings from the readable text of any bounce."""
    lines = cut(mail.text)
    found = blocks(lines)
    if found:
        if not all(f.diagnostic for f in found):
            pre = preamble(lines)
            for f in found:
                if not f.diagnostic:
                    f.diagnostic = pre
                    f.extra["preamble"] = "1"
        return found
    return fallback_recipient(mail, " ".join(s.strip() for s in lines if s.strip()))


def preamble(lines: list[str], limit: int = 8) -> str:
    """The last few text lines before the first recipient line (the error told up front)."""
    head: list[str] = []
    for line in lines:
        if "@" in line and any(rx.match(line) for rx in _RCPT_LINES):
            break
        if line.strip():
            head.append(line.strip())
    return " ".join(head[-limit:])


def fallback_recipient(mail: MailView, diagnostic: str) -> list[Finding]:
    """One finding for the recipient named by headers when the text names none. The text is
    kept as diagnostic only when it says something (a code or a known phrase); a bounce
    that is all boilerplate ("Delivery report unavailable") stays without one: undefined."""
    rcpt = mail.header("X-Failed-Recipients") or mail.original_headers.get("to", "")
    m = re.search(ADDR, rcpt)
    if not m or not diagnostic:
        return []
    if not _says_something(diagnostic):
        diagnostic = ""
    return [Finding(recipient=m.group(0), diagnostic=diagnostic)]


def _says_something(text: str) -> bool:
    from .. import reason
    from ..smtp import find_reply, find_status

    if find_status(text) or find_reply(text):
        return True
    flat = reason.flatten(text)
    return any(reason.match_phrase(r, flat) for r in (*reason.PROBE_ORDER, *reason.PHRASE_ORDER))


def region(text: str, start: re.Pattern[str] | None, end: re.Pattern[str] = END_MARKERS,
           ) -> list[str]:
    """Lines after the first line matching `start` (all when None) up to an end marker."""
    lines = cut(text, end)
    if start is None:
        return lines
    for i, line in enumerate(lines):
        if start.search(line):
            return lines[i + 1:]
    return []


def flat(lines: Iterable[str]) -> str:
    """Non-empty lines joined by single spaces."""
    return " ".join(s.strip() for s in lines if s.strip())


def header_match(mail: MailView, name: str, rx: re.Pattern[str]) -> bool:
    """Whether a header of the bounce matches a regex."""
    return bool(rx.search(mail.header(name)))

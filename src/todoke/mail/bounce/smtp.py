"""Bounce stage, SMTP text helpers: find enhanced status codes and reply codes in free text.

Owns the regexes that pull an RFC 3463 status ("5.1.1") or an RFC 5321 reply code ("550") out
of a diagnostic text, and the permanent/temporary guess for a text without codes.
"""

from __future__ import annotations

import re

_STATUS_RES = (
    re.compile(r"[ ]?\(#([45]\.\d\.\d{1,3})\)?"),               # (#5.5.1)  qmail, Exchange
    re.compile(r"\b\d{3}[ -]['\"]?#?([45]\.\d\.\d{1,3})\b"),  # 550-5.1.1 / 550 5.1.1
    re.compile(r"\b([45]\.\d\.\d{1,3})\b"),                     # 5.1.1
    re.compile(r"\b(2\.[0-7]\.[0-7])\b"),                       # 2.1.5
)
_IPV4 = re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b")
_REPLY = re.compile(r"\b([45][0-5]\d)\b")
_REPLY2 = re.compile(r"\b(25[0-3])\b")
STATUS_FULL = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def find_status(text: str) -> str:
    """First enhanced status code in a text, ignoring pieces of IPv4 addresses."""
    if not text:
        return ""
    masked = _IPV4.sub("***", text) if _IPV4.search(text) else text
    for rx in _STATUS_RES:
        m = rx.search(masked)
        if m:
            return m.group(1)
    return ""


#: Reply codes defined by RFC 5321 and its extensions (RFC 3207, 4954, 7504, 5248 registry);
#: any other 3-digit number in a text is no reply code.
_REPLY_TEXT = (
    "211 214 220 221 235 250 251 252 253 421 422 430 432 450 451 452 453 454 455 458 459 "
    "500 501 502 503 504 521 523 524 525 530 534 535 538 550 551 552 553 554 555 556 557"
)
REPLY_CODES: frozenset[str] = frozenset(_REPLY_TEXT.split(" "))


def find_reply(text: str) -> str:
    """First SMTP reply code (4xx/5xx, else 250-253) in a text; none in X-UNIX texts."""
    if not text or "x-unix;" in text.lower():
        return ""
    masked = _IPV4.sub("***", text) if _IPV4.search(text) else text
    for rx in (_REPLY, _REPLY2):
        for m in rx.finditer(masked):
            if m.group(1) in REPLY_CODES:
                return m.group(1)
    return ""


def is_temporary(text: str) -> bool | None:
    """True/False when the codes or words of a text say temporary/permanent, else None."""
    code = find_status(text) or find_reply(text)
    if code:
        if code[0] == "5":
            return False
        if code[0] == "4":
            return True
        return None
    low = text.lower()
    if "temporar" in low or "persistent" in low:
        return True
    if "permanent" in low:
        return False
    return None


_COMMANDS = (
    # Postfix: "(in reply to RCPT TO command)", "(in reply to end of DATA command)"
    (re.compile(r"in reply to (?:end of )?(DATA|RCPT TO|MAIL FROM|EHLO|HELO|QUIT)\b", re.I), 1),
    # Sendmail transcript: ">>> DATA" / ">>> RCPT To:<...>"
    (re.compile(r">>> ?(DATA|RCPT|MAIL|EHLO|HELO|QUIT)\b", re.I), 1),
    # Exim: "SMTP error from remote mail server after RCPT TO:<...>", "after end of data"
    (re.compile(r"after (?:end of )?(data|RCPT|MAIL|EHLO|HELO|initial connection)\b", re.I), 1),
    # mFILTER and others: "SMTP command DATA"
    (re.compile(r"smtp command:? ?(DATA|RCPT|MAIL|EHLO|HELO)\b", re.I), 1),
    # qmail: "Connected to ... but my name was rejected" (HELO)
    (re.compile(r"but (my name) was rejected", re.I), 1),
)
_CMD_NAME = {"RCPT TO": "RCPT", "MAIL FROM": "MAIL", "SENDER": "MAIL", "MY NAME": "HELO",
             "INITIAL CONNECTION": "CONN"}


def find_command(text: str) -> str:
    """SMTP command a reply answered (RCPT, DATA, MAIL, HELO, ...), "" when unknown."""
    best = ""
    for rx, g in _COMMANDS:
        for m in rx.finditer(text):
            best = m.group(g).upper()
        if best:
            break
    return _CMD_NAME.get(best, best)

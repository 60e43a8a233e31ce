"""Bounce stage, lhost parser for Sendmail (8.x with DSN, and pre-DSN "V5" transcripts).

Sendmail writes "Returned mail: ..." with a "----- Transcript of session follows -----" part:
"While talking to host:", ">>> COMMAND", "<<< remote reply", then "5xx <rcpt>... text" per
recipient (sendmail/deliver.c, usrerr/message). With DSN support the per-recipient facts come
from message/delivery-status and the transcript adds the SMTP command and the remote reply.
"""

from __future__ import annotations

import re

from .. import rfc3464
from ..mailview import MailView
from ..record import Finding
from ..smtp import find_command
from . import _text, parser

_SUBJECT = re.compile(
    r"^(?:(?:fwd?|fw):\s*)?(?:returned mail:|warning: could not send message)", re.I
)
_TRANSCRIPT = re.compile(r"-{3,} ?transcript of session follows", re.I)
_TALKING = re.compile(r"^\s*(?:\.\.\.\s*)?while talking to (\S+?):?\s*$", re.I)
_SENT = re.compile(r"^\s*>>> ?(\S+)")
_GOT = re.compile(r"^\s*<<< ?(.*)$")
_RCPT = re.compile(
    rf"^\s*(\d{{3}})?\s*(?:[245]\.\d{{1,3}}\.\d{{1,3}}\s+)?<?({_text.ADDR})>?\.\.\. ?(.*)$"
)
_CODE = re.compile(r"\d{3}\b")
_END = re.compile(r"^\s*-{3,} ?(?:unsent message follows|original message follows|"
                  r"the original message|message header follows)|^content-type: ", re.I)


def match(mail: MailView) -> bool:
    return bool(_SUBJECT.search(mail.subject)) or (
        "transcript of session" in mail.text.lower()
    )


def transcript(text: str) -> list[Finding]:
    """Findings from a sendmail session transcript."""
    found: list[Finding] = []
    host = command = ""
    replies: list[str] = []
    started = False
    for line in text.replace("\r", "").split("\n"):
        if line.startswith(("> ", ">>>>")):  # a bounce forwarded inline, quoted
            line = line[2:] if line.startswith("> ") else line[1:]
        elif line == ">":
            line = ""
        if not started:
            started = bool(_TRANSCRIPT.search(line)) or bool(_TALKING.match(line))
            if not started:
                m = _RCPT.match(line)
                if not m:
                    continue
                started = True
        if _END.search(line):
            break
        m = _TALKING.match(line)
        if m:
            host, command, replies = m.group(1), "", []
            continue
        m = _SENT.match(line)
        if m:
            command, replies = m.group(1).upper(), []
            continue
        m = _GOT.match(line)
        if m:
            replies.append(m.group(1).strip())
            continue
        m = _RCPT.match(line)
        if m:
            own = m.group(3).strip()
            if m.group(1) and not replies and not _CODE.match(own):
                own = f"{m.group(1)} {own}"  # "550 5.1.2 <rcpt>... Host unknown"
            diag = " ".join([*replies, own]) if replies else own
            f = Finding(recipient=m.group(2), diagnostic=diag, rhost=host,
                        command=command if replies else "")
            prev = [x for x in found if x.recipient.lower() == f.recipient.lower()]
            if prev:
                prev[0].diagnostic = f"{prev[0].diagnostic} {own}".strip()
            else:
                found.append(f)
            replies = []
            continue
        if found and line.strip() and not line.startswith((" ", "\t")) and "..." not in line:
            continue
    return found


@parser("sendmail", match)
def parse(mail: MailView) -> list[Finding] | None:
    talk = transcript(mail.text)
    dsn = rfc3464.parse(mail)
    if not dsn:
        return talk or None
    rfc3464.merge(dsn, talk)
    if len(dsn) == 1 and not dsn[0].command:
        dsn[0].command = find_command(mail.text)
    return dsn


@parser("v5sendmail", lambda m: bool(_SUBJECT.search(m.subject)) and not m.dsn_texts)
def parse_v5(mail: MailView) -> list[Finding] | None:
    return transcript(mail.text) or None

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
from ..smtp import find_command, find_reply
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
_BARE = re.compile(r"^[45]\d\d [45]\.\d{1,3}\.\d{1,3} ")
_DSN_FIELD = re.compile(r"^(?:Reporting-MTA|Final-Recipient|Original-Recipient):", re.I)
_CODE = re.compile(r"\d{3}\b")
_END = re.compile(r"^\s*-{3,} ?(?:unsent message follows|original message follows|"
                  r"the original message|message header follows)|^content-type: ", re.I)


def match(mail: MailView) -> bool:
    return bool(_SUBJECT.search(mail.subject)) or (
        "transcript of session" in mail.text.lower()
    )


def transcript(text: str) -> list[Finding]:
    """Findings from a sendmail session transcript.

    Lines of a local mailer ("mail.local: unknown user: x") and remote replies ("<<< 550 ...")
    before a "5xx <rcpt>... text" line belong to that recipient. A bare "451 4.0.0 text" line
    names no recipient; it is kept as `Finding.extra["reply"]` of a pseudo finding ("").
    """
    found: list[Finding] = []
    host = command = ""
    replies: list[str] = []
    notes: list[str] = []
    bare = orphan = ""
    started = False
    for line in text.replace("\r", "").split("\n"):
        if line.startswith(("> ", ">>>>")):  # a bounce forwarded inline, quoted
            line = line[2:] if line.startswith("> ") else line[1:]
        elif line == ">":
            line = ""
        if not started:
            started = bool(_TRANSCRIPT.search(line)) or bool(_TALKING.match(line))
            if not started:
                if not _RCPT.match(line):
                    continue
                started = True
            else:
                continue
        if _END.search(line) or _DSN_FIELD.match(line):
            break
        m = _TALKING.match(line)
        if m:
            host, command, replies, notes = m.group(1), "", [], []
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
            sender_reply = command == "MAIL" and bool(replies)
            if m.group(1) and (sender_reply or not replies) and not _CODE.match(own):
                own = f"{m.group(1)} {own}"  # "550 5.1.2 <rcpt>... Host unknown"
            if sender_reply:
                # the remote answer was about the sender (MAIL FROM); the recipient line's own
                # code is this recipient's status, the answer only explains it
                diag = " ".join([*notes, own, *replies])
            else:
                diag = " ".join([*notes, *replies, own])
            f = Finding(recipient=m.group(2), diagnostic=diag, rhost=host,
                        command=command if replies else "")
            prev = [x for x in found if x.recipient.lower() == f.recipient.lower()]
            if prev:
                prev[0].diagnostic = f"{prev[0].diagnostic} {own}".strip()
            else:
                found.append(f)
            replies, notes = [], []
            continue
        s = line.strip()
        if not s:
            continue
        if not bare and _BARE.match(s):
            bare = s
            if replies and not orphan:  # replies no recipient line claimed
                orphan = " ".join(replies)
        elif len(notes) < 4 and "(smtp)..." not in s:
            notes.append(s)
    if bare and not found:
        found.append(Finding(recipient="", diagnostic=f"{orphan} {bare}".strip(),
                             command=command if orphan else "",
                             extra={"reply": bare[:3], "orphan": orphan}))
    return found


@parser("sendmail", match)
def parse(mail: MailView) -> list[Finding] | None:
    talk = transcript(mail.text)
    dsn = rfc3464.parse(mail)
    if not dsn:
        return [f for f in talk if f.recipient] or None
    if len(talk) == 1 and not talk[0].recipient:
        # remote replies and a bare "554 5.0.0 Service unavailable" with no recipient line:
        # they concern every recipient of this session
        pseudo = talk[0]
        orphan = pseudo.extra["orphan"]
        for f in dsn:
            if orphan and f.diagnostic[:40] in orphan and len(orphan) > len(f.diagnostic):
                f.diagnostic = orphan  # the DSN kept only the first line of the reply
            f.command = f.command or pseudo.command
            if len(dsn) == 1 and not find_reply(f.diagnostic):
                f.replycode = pseudo.extra["reply"]
        talk = []
    by_addr = {t.recipient.lower(): t for t in talk}
    for f in dsn:
        t = by_addr.get(f.recipient.lower())
        if t and f.diagnostic and len(t.diagnostic) > len(f.diagnostic) and (
                f.diagnostic[:40] in t.diagnostic):
            f.diagnostic = t.diagnostic  # the DSN kept only the first line of the reply
    rfc3464.merge(dsn, talk)
    if len(dsn) == 1 and not dsn[0].command:
        dsn[0].command = find_command(mail.text)
    return dsn


# Pre-DSN sendmail ("V5"): the same transcript, no message/delivery-status part.
parser("v5sendmail", lambda m: bool(_SUBJECT.search(m.subject)) and not m.dsn_texts)(parse)

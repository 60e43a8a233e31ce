"""Bounce stage, the pipeline: bytes -> lazy mail view -> findings -> classified records.

Owns the order of the stages: ARF feedback reports, MTA parsers (lhost/, in their ORDER),
the generic RFC 3464 reader, the generic text reader, RFC 3834 auto-replies; then for each
finding the status/reply-code clean-up, the remote-host rules (rhost/), the reason decision
(reason/), the pseudo status when none was given, and the hard/soft verdict.
"""

from __future__ import annotations

import re

from . import arf, autoreply, rfc3464, rhost
from . import reason as reasons
from .lhost import _text, load_all
from .mailview import MailView
from .record import BounceRecord, Finding
from .smtp import REPLY_CODES, find_command, find_reply, find_status, is_temporary
from .table import error_status, is_hard, pseudo_code

_BOUNCE_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery|maildelivery|daemon@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|failure|failed|notification|report)|returned mail|"
    r"failure notice|mail delivery|could not be delivered|non[- ]?delivery|nondeliverable|"
    r"delivery has failed|mail system error|rejected|warning: could not send|bounce|"
    r"error|failed|problem|not delivered|unzustellbar|不達|エラー|returned",
    re.I,
)
_HOST = re.compile(r"\bhost:?\s+([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,})\b")
_NESTED = re.compile(r"<([45]\d\d) ([45]\.\d{1,3}\.\d{1,3})\b[^<>]*>\s*$")
_SPECIFIC = re.compile(r"^[45]\.[1-9]\.[1-9]$")


def looks_like_bounce(mail: MailView) -> bool:
    """Cheap header test: null sender, MAILER-DAEMON, multipart/report or a bounce subject."""
    if mail.content_type == "multipart/report":
        return True
    if _BOUNCE_FROM.search(mail.sender):
        return True
    rp = (mail.msg.get("Return-Path") or "").strip()
    if rp in ("<>", "<MAILER-DAEMON>"):
        return True
    return bool(_BOUNCE_SUBJECT.search(mail.subject))


def findings(mail: MailView) -> list[Finding]:
    """Raw findings of a mail, [] when it is no bounce."""
    if arf.is_arf(mail):
        return arf.parse(mail)
    for p in load_all():
        if p.match(mail):
            got = p.parse(mail)
            if got:
                for f in got:
                    f.agent = f.agent or p.name
                return got
    got = rfc3464.parse(mail)
    if got:
        rfc3464.merge(got, _text.generic(mail))
        _command_from_text(mail, got)
        for f in got:
            f.agent = f.agent or "RFC3464"
        return got
    if autoreply.is_autoreply(mail):
        return autoreply.parse(mail)
    if looks_like_bounce(mail):
        got = _text.generic(mail)
        for f in got:
            f.agent = f.agent or "text"
        return got
    return []


def _command_from_text(mail: MailView, found: list[Finding]) -> None:
    """The SMTP command of a single-recipient DSN, from anywhere in the human part."""
    if len(found) == 1 and not found[0].command:
        found[0].command = find_command(found[0].diagnostic) or find_command(mail.text)


def _consistent(status: str, diag: str) -> bool:
    """Whether a status found in a text agrees in class with the reply code next to it
    ("550 4.4.7" does not: such a text is no better than the DSN's own Status field)."""
    m = re.search(rf"\b([245])\d\d[ -]{re.escape(status)}", diag)
    return m is None or m.group(1) == status[0]


def _unfold_reply(diag: str, reply: str) -> str:
    """Drop the "550-5.7.1 " prefixes that a multi-line SMTP reply repeats on every line."""
    if not reply or diag.count(reply) < 2:
        return diag
    rx = re.compile(rf"(?<=\s){reply}[- ](?:[245]\.\d{{1,3}}\.\d{{1,3}}\s)?")
    head, sep, tail = diag.partition(reply)
    return head + sep + rx.sub("", tail)


def finish(f: Finding) -> BounceRecord:
    """Decide reason, status, reply code and hardness of one finding."""
    diag = f.diagnostic.strip()
    status = f.status
    reply = f.replycode
    if diag and f.reason not in ("feedback", "vacation"):
        nested = _NESTED.search(diag)
        if nested:
            # "554 4.4.7 Message expired: ... <421 4.4.2 Connection timed out>": the quoted
            # last answer of the remote host is the real cause (Amazon SES, WorkMail)
            status = nested.group(2)
            reply = nested.group(1) if nested.group(1) in REPLY_CODES else ""
        vs = "" if nested else find_status(diag)
        if vs and (not status or status[1:] == ".0.0" or (
                _SPECIFIC.match(vs) and _consistent(vs, diag))):
            status = vs
        if not reply and f.diagnostic_type not in ("X-UNIX",):
            reply = find_reply(diag)
        if not f.command:
            f.command = find_command(diag)
        if not f.rhost:
            m = _HOST.search(diag)
            if m:
                f.rhost = m.group(1)
    f.status, f.replycode = status, reply
    text = reasons.flatten(_unfold_reply(diag, reply))
    reason = ""
    if f.reason in ("feedback", "vacation", "delivered"):
        reason = f.reason
    if not reason and (not f.reason or f.reason in reasons.RETRY):
        reason = rhost.lookup(f, text)
    if not reason:
        reason = reasons.decide(f, text)
    if reason in ("feedback", "vacation"):
        status, reply, hard = "", "", False
    elif reason == "delivered":
        hard = False
    else:
        if not status:
            temp = is_temporary(f"{reply} {diag}".strip()) or f.action == "delayed"
            status = pseudo_code(reason, bool(temp))
        if reply and status and reply[0] != status[0]:
            reply = ""
        hard = is_hard(reason, status, reply)
    return BounceRecord(
        recipient=f.recipient,
        reason=reason,
        status=status,
        replycode=reply,
        hardbounce=hard,
        error_status=error_status(reason, f.feedback_type),
        diagnostic=diag,
        action=f.action or ("delayed" if reason == "expired" else "failed"),
        remote_mta=f.remote_mta,
        lhost=f.lhost,
        rhost=f.rhost,
        date=f.date,
        feedback_type=f.feedback_type,
        command=f.command,
        agent=f.agent,
    )


def classify_bytes(raw: bytes, *, delivered: bool = False) -> list[BounceRecord]:
    """One record per failed recipient of a bounce mail; [] when the mail is no bounce.

    Success notices (DSN "Action: delivered", status 2.x.x) are no failures and are left out
    unless `delivered` is true."""
    mail = MailView(raw)
    out = [finish(f) for f in findings(mail) if f.recipient]
    return out if delivered else [r for r in out if r.reason != "delivered"]

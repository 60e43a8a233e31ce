"""Mail: the bounce mailbox. Bounces arriving over SMTP at ``@TODOKE_BOUNCE_DOMAIN`` are
classified and matched to the delivery they are about.

Stage: outcomes (mail). Matching: first the VERP token of the recipient address
(``bounces+<token>@…``, set as the return path by mail/delivery), else the Message-ID of
the original message quoted in the bounce (RFC 3464 ``message/rfc822`` or
``text/rfc822-headers`` part) together with the failed recipient. A matched failure sets the
delivery ``failed`` with the reason, enhanced status, error status and the bounce's diagnostic
text as ``last_reply``, adds a DeliveryEvent, and a hard bounce suppresses the address. Every
bounce mail, matched or not, is kept in ``bounce_audit``; nothing is lost. ``250`` is answered
only after the commit.
Standards: RFC 3464 (DSN), RFC 3463, VERP. Settings: TODOKE_BOUNCE_DOMAIN.
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke import log
from todoke.config import Settings
from todoke.mail.bounce import BounceRecord, classify_bytes
from todoke.mail.delivery import outcome
from todoke.store.db import Store
from todoke.store.models_mail import BounceAudit, Delivery, DeliveryEvent, MailMessage

_VERP = re.compile(r"^bounces\+([0-9a-z]{8,40})@", re.IGNORECASE)
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]{1,990}>)",
                         re.IGNORECASE | re.MULTILINE)
# reasons that report something other than a failed delivery: logged, status unchanged
_NOT_FAILURES = {"delivered", "vacation", "feedback"}


def verp_tokens(rcpt_tos: list[str]) -> list[str]:
    """The VERP tokens in the envelope recipients, lower case."""
    return [m.group(1).lower() for r in rcpt_tos if (m := _VERP.match(r))]


def quoted_message_ids(raw: bytes) -> list[str]:
    """Message-IDs in the bounce's body (the original message or its headers)."""
    head_end = re.search(rb"\r?\n\r?\n", raw)
    body = raw[head_end.end():] if head_end else b""
    return [m.group(1).decode("ascii", "replace") for m in _MESSAGE_ID.finditer(body)]


def bounce_outcome(record: BounceRecord) -> outcome.Outcome:
    """What a classified bounce record does to its delivery."""
    text = record.diagnostic or f"{record.status} {record.reason}"
    status = "failed" if record.reason not in _NOT_FAILURES else "bounced"
    return outcome.Outcome(status, text, reason=record.reason, enhanced=record.status,
                           reply_code=record.replycode, error_status=record.error_status,
                           hard=record.hardbounce, remote_mta=record.remote_mta or record.rhost,
                           attempted=False)


class BounceMailbox:
    """Records bounces against deliveries (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def accept_bounce(self, raw: bytes, rcpt_tos: list[str]) -> str:
        """Classify, match and commit one bounce mail; the SMTP reply to give."""
        try:
            records = await asyncio.to_thread(classify_bytes, raw)
        except Exception:  # a mail the classifier cannot read is still kept
            log.error("bounce.classify_error", exc_info=True)
            records = []
        try:
            matched = await asyncio.to_thread(self._record, raw, rcpt_tos, records)
        except Exception:
            log.error("bounce.store_error", exc_info=True)
            return "451 4.3.0 Temporary failure, the bounce was not accepted; try again later"
        log.event("bounce.received", rcpt=",".join(rcpt_tos)[:300], records=len(records),
                  matched=matched)
        return "250 2.0.0 OK bounce received"

    def _record(self, raw: bytes, rcpt_tos: list[str], records: list[BounceRecord]) -> int:
        with self.store.session() as session:
            pairs = self._match(session, raw, rcpt_tos, records)
            for delivery, record in pairs:
                result = bounce_outcome(record)
                if result.status == "failed":
                    outcome.apply(session, delivery.id, None, result)
                else:  # a success DSN or an auto-reply: the delivery log only
                    session.add(DeliveryEvent(delivery_id=delivery.id, status=result.status,
                                              detail=f"{record.reason}: {result.text}"[:20000]))
            first = pairs[0] if pairs else None
            session.add(BounceAudit(
                rcpt_to=",".join(rcpt_tos)[:320], matched=bool(pairs),
                delivery_id=first[0].id if first else None,
                reason=(first[1].reason if first else records[0].reason if records else ""),
                raw=raw,
            ))
            return len(pairs)

    def _match(self, session: Session, raw: bytes, rcpt_tos: list[str],
               records: list[BounceRecord]) -> list[tuple[Delivery, BounceRecord]]:
        if not records:
            return []
        tokens = verp_tokens(rcpt_tos)
        if tokens:
            deliveries = session.scalars(
                select(Delivery).where(Delivery.verp_token.in_(tokens))).all()
            pairs = []
            for delivery in deliveries:
                same = [r for r in records if r.recipient.lower() == delivery.rcpt.lower()]
                pairs.append((delivery, (same or records)[0]))
            if pairs:
                return pairs
        message_ids = quoted_message_ids(raw)
        if not message_ids:
            return []
        candidates = session.scalars(
            select(Delivery).join(MailMessage, MailMessage.id == Delivery.message_id)
            .where(MailMessage.message_id.in_(message_ids))).all()
        by_rcpt = {d.rcpt.lower(): d for d in candidates}
        pairs = []
        for record in records:
            delivery = by_rcpt.get(record.recipient.lower())
            if delivery is None and len(candidates) == 1:
                delivery = candidates[0]
            if delivery is not None:
                pairs.append((delivery, record))
        return pairs

"""Mail: intake of transactional mail, from the API or from SMTP submission.

One MailMessage (the mail, kept once) and one Delivery per recipient, queued for the mail
worker; a recipient on the server configuration's block list is recorded as blocked (status
10) and never attempted. Runs in the caller's transaction, so the caller's ``202`` or ``250``
comes only after the commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from todoke.mail.delivery import outcome
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage
from todoke.webhooks.produce import deliveries_changed  # webhooks (issue 6)


@dataclass(frozen=True)
class Submitter:
    """Who submits: the API user's organisation, server configuration and id."""

    organisation_id: int
    server_config_id: int
    api_user_id: int | None


@dataclass(frozen=True)
class Submitted:
    """One mail to queue."""

    submitter: Submitter
    mail_from: str
    recipients: list[str]  # each once
    raw: bytes
    subject: str
    message_id: str
    api_data: str


_MESSAGES = insert(MailMessage.__table__).returning(MailMessage.__table__.c.id,
                                                    sort_by_parameter_order=True)
_DELIVERIES = insert(Delivery.__table__).returning(Delivery.__table__.c.id,
                                                   sort_by_parameter_order=True)
_EVENTS = insert(DeliveryEvent.__table__)


def queue_mails(session: Session, mails: list[Submitted]) -> list[int]:
    """Store many mails at once (bulk inserts); return their MailMessage ids in order.
    Recipients on a block list are recorded as blocked and never attempted."""
    if not mails:
        return []
    now = utcnow()
    blocked: set[tuple[int, str]] = set()
    by_config: dict[int, set[str]] = {}
    for mail in mails:
        by_config.setdefault(mail.submitter.server_config_id, set()).update(mail.recipients)
    for config_id, addresses in by_config.items():
        blocked |= {(config_id, a) for a in outcome.suppressed(session, config_id,
                                                               sorted(addresses))}
    # Core statements on the session's connection: the ORM's bulk path costs more than the
    # database here, and nothing of these rows is wanted as objects
    connection = session.connection()
    ids = list(connection.scalars(
        _MESSAGES,
        [{"organisation_id": m.submitter.organisation_id,
          "server_config_id": m.submitter.server_config_id,
          "api_user_id": m.submitter.api_user_id, "created": now, "mail_from": m.mail_from,
          "subject": m.subject[:998], "message_id": m.message_id[:998],
          "x_api_data": m.api_data[:998], "size": len(m.raw), "raw": m.raw} for m in mails],
    ))
    rows = [{"message_id": mail_id, "rcpt": rcpt, "domain": rcpt.rpartition("@")[2].lower(),
             "status": "queued", "next_attempt_at": now, "verp_token": secrets.token_hex(12),
             "created": now, "updated": now, "attempts": 0, "last_reply": "",
             "reply_code": "", "enhanced_status": "", "reason": "", "hardbounce": False,
             "remote_mta": "", "source_ip": ""}
            for mail, mail_id in zip(mails, ids, strict=True) for rcpt in mail.recipients]
    delivery_ids = list(connection.scalars(_DELIVERIES, rows))
    events = []
    configs = [m.submitter.server_config_id for m in mails for _ in m.recipients]
    for row, delivery_id, config_id in zip(rows, delivery_ids, configs, strict=True):
        if (config_id, str(row["rcpt"]).lower()) in blocked:
            outcome.apply(session, delivery_id, None, outcome.blocked(str(row["rcpt"])))
        else:
            events.append({"delivery_id": delivery_id, "created": now, "status": "queued",
                           "detail": ""})
    if events:
        connection.execute(_EVENTS, events)
        # "queued" webhook events, read only if one of these configurations subscribes
        deliveries_changed(session, [e["delivery_id"] for e in events], by_config)
    return ids


def queue_mail(session: Session, submitter: Submitter, *, mail_from: str,
               recipients: list[str], raw: bytes, subject: str, message_id: str,
               api_data: str) -> tuple[MailMessage, list[Delivery]]:
    """Store one mail and its deliveries; return them (for the API's answer)."""
    [mail_id] = queue_mails(session, [Submitted(submitter, mail_from, recipients, raw, subject,
                                                message_id, api_data)])
    row = session.get_one(MailMessage, mail_id)
    deliveries = list(session.scalars(select(Delivery).where(Delivery.message_id == mail_id)
                                      .order_by(Delivery.id)))
    return row, deliveries

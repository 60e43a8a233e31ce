"""Mail: intake of transactional mail, from the API or from SMTP submission.

One MailMessage (the mail, kept once) and one Delivery per recipient, queued for the mail
worker; a recipient on the server configuration's block list is recorded as blocked (status
10) and never attempted. Runs in the caller's transaction, so the caller's ``202`` or ``250``
comes only after the commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from todoke.mail.delivery import outcome
from todoke.store.models import utcnow
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage


@dataclass(frozen=True)
class Submitter:
    """Who submits: the API user's organisation, server configuration and id."""

    organisation_id: int
    server_config_id: int
    api_user_id: int | None


def queue_mail(session: Session, submitter: Submitter, *, mail_from: str,
               recipients: list[str], raw: bytes, subject: str, message_id: str,
               api_data: str) -> tuple[MailMessage, list[Delivery]]:
    """Store the mail and one delivery per recipient (recipients given once each)."""
    now = utcnow()
    row = MailMessage(
        organisation_id=submitter.organisation_id, server_config_id=submitter.server_config_id,
        api_user_id=submitter.api_user_id, created=now, mail_from=mail_from,
        subject=subject[:998], message_id=message_id[:998], x_api_data=api_data[:998],
        size=len(raw), raw=raw,
    )
    session.add(row)
    session.flush()
    blocked = outcome.suppressed(session, submitter.server_config_id, recipients)
    deliveries: list[Delivery] = []
    for address in recipients:
        delivery = Delivery(
            message_id=row.id, rcpt=address, domain=address.rpartition("@")[2].lower(),
            status="queued", next_attempt_at=now, verp_token=secrets.token_hex(12),
            created=now, updated=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    session.flush()
    for delivery in deliveries:
        if delivery.rcpt.lower() in blocked:
            outcome.apply(session, delivery.id, None, outcome.blocked(delivery.rcpt))
        else:
            session.add(DeliveryEvent(delivery_id=delivery.id, created=now, status="queued",
                                      detail=""))
    return row, deliveries

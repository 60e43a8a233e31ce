"""Webhooks, the producers' side (stage: log): what each event says, queued by one call from
where the change happens, inside its transaction (events.emit).

- ``deliveries`` (mail/submit.py when queued; mail/delivery/outcome.py for every outcome):
  one delivery's status now: ``queued``, ``succeeded`` (the store's ``delivered``),
  ``deferred``, ``failed`` or ``blocked``, with its reply and error status.
- ``bounces`` (errorlog/record.py): the error-log row, under the names of the error-log CSV
  (``created,status,from,to,messageId,returnPath,subject,apiData,reason``: ``reason`` is the
  receiving server's reply or the bounce text, as in the CSV) plus ``reasonCode`` (the Sisimai
  reason) and ``deliveryId``.
- ``blocks`` (outcome.suppress, and the block-list removal): ``action`` ``added`` or
  ``removed``, ``email``, ``reason``, ``time``, ``deliveryId``.

Times are UTC, ISO 8601 with ``Z``. Nothing is read or built when no enabled webhook in the
installation wants the kind (events.anyone, cached for a second), so the hot paths pay only a
dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke.store.models import utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, MailMessage
from todoke.webhooks import events

CHUNK = 1000
STATUS_NAMES = {"delivered": "succeeded"}  # the delivery log's word for it


def iso(value: datetime | None) -> str | None:
    """A naive UTC time as ``2026-11-23T12:34:56Z``."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


_COLUMNS = (Delivery.id, Delivery.status, Delivery.rcpt, Delivery.attempts, Delivery.reason,
            Delivery.error_status, Delivery.reply_code, Delivery.enhanced_status,
            Delivery.hardbounce, Delivery.last_reply, Delivery.remote_mta, Delivery.source_ip,
            Delivery.updated, Delivery.next_attempt_at, MailMessage.server_config_id,
            MailMessage.message_id.label("header_message_id"), MailMessage.mail_from,
            MailMessage.subject, MailMessage.x_api_data)


def _delivery(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "status": STATUS_NAMES.get(row.status, row.status),
        "time": iso(row.updated), "messageId": row.header_message_id, "from": row.mail_from,
        "to": row.rcpt, "subject": row.subject, "apiData": row.x_api_data,
        "attempts": row.attempts, "reason": row.reason, "errorStatus": row.error_status,
        "replyCode": row.reply_code, "enhancedStatus": row.enhanced_status,
        "hardbounce": row.hardbounce, "response": row.last_reply, "remoteMta": row.remote_mta,
        "sourceIp": row.source_ip,
        "nextAttemptAt": iso(row.next_attempt_at) if row.status == "deferred" else None,
    }


def deliveries_changed(session: Session, delivery_ids: list[int],
                       server_config_ids: Iterable[int] | None = None) -> int:
    """Queue a ``deliveries`` event with the current state of each delivery (call after the
    change is written, in its transaction). ``server_config_ids``, when the caller knows
    them, lets it skip the read unless one of them subscribes. Returns rows queued."""
    if not delivery_ids or not events.anyone(session, "deliveries"):
        return 0
    if server_config_ids is not None and not any(
            events.subscribers(session, config_id, "deliveries")
            for config_id in set(server_config_ids)):
        return 0
    found: dict[int, Any] = {}
    for start in range(0, len(delivery_ids), CHUNK):
        chunk = delivery_ids[start:start + CHUNK]
        for row in session.execute(select(*_COLUMNS).join(
                MailMessage, MailMessage.id == Delivery.message_id).where(Delivery.id.in_(chunk))):
            found[row.id] = row
    by_config: dict[int, list[dict[str, Any]]] = {}
    for delivery_id in delivery_ids:  # in the caller's order
        row = found.get(delivery_id)
        if row is not None:
            by_config.setdefault(row.server_config_id, []).append(_delivery(row))
    return sum(events.emit(session, config_id, "deliveries", payloads)
               for config_id, payloads in by_config.items())


def bounce(row: ErrorLog) -> dict[str, Any]:
    """An error-log row as a ``bounces`` event."""
    return {
        "created": iso(row.created), "status": row.status, "from": row.from_addr,
        "to": row.to_addr, "messageId": row.message_id, "returnPath": row.return_path,
        "subject": row.subject, "apiData": row.api_data, "reason": row.response,
        "reasonCode": row.reason, "deliveryId": row.delivery_id,
    }


def bounce_recorded(session: Session, row: ErrorLog) -> int:
    """Queue the ``bounces`` event of a mail error-log row just added."""
    if row.server_config_id is None or not events.anyone(session, "bounces"):
        return 0
    return events.emit(session, row.server_config_id, "bounces", [bounce(row)])


def block_changed(session: Session, server_config_id: int, address: str, action: str,
                  reason: str = "", delivery_id: int | None = None,
                  when: datetime | None = None) -> int:
    """Queue a ``blocks`` event: ``action`` is ``added`` or ``removed``."""
    if action not in ("added", "removed"):
        raise ValueError(f"unknown block action {action!r}")
    if not events.anyone(session, "blocks"):
        return 0
    return events.emit(session, server_config_id, "blocks", [{
        "action": action, "email": address.lower(), "reason": reason,
        "time": iso(when or utcnow()), "deliveryId": delivery_id}])

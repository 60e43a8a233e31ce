"""Error log, recording: one ``error_log`` row when a delivery or a fax job ends in error.

Stage: called inside the transaction that ends the delivery (mail.delivery.outcome.apply,
which both the SMTP worker and the bounce mailbox use) or the fax job (queue.faxjobs.finish),
so a row exists exactly when the failure is committed. Owns the mapping of both kinds onto the
one denormalised row the search, the detail dialog and the CSV read.

Mail: status = the delivery's error status (1-11, 99; SPEC-MAIL "Error statuses"), reason =
the Sisimai reason, return path = the delivery's VERP address ``bounces+<token>@`` the bounce
domain (TODOKE_BOUNCE_DOMAIN), response = the SMTP reply or the bounce's diagnostic text.
Fax: status 99 (no mail error status fits a fax result), reason = the fax result code,
response = "<code> <label> / <label_en>: <meaning>" plus the transport's detail.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sqlalchemy.orm import Session

from todoke.store.models import FaxJob, utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, MailMessage
from todoke.webhooks.produce import bounce_recorded  # webhooks (issue 6)

FAX_STATUS = 99


@lru_cache(maxsize=1)
def _bounce_domain() -> str:
    return os.environ.get("TODOKE_BOUNCE_DOMAIN", "bounce.localhost").strip().lower()


def record_mail_error(session: Session, delivery: Delivery, message: MailMessage,
                      bounce_domain: str | None = None) -> ErrorLog:
    """Add the error-log row of a delivery that ended ``failed`` or ``blocked``."""
    domain = bounce_domain or _bounce_domain()
    row = ErrorLog(
        created=delivery.updated or utcnow(), organisation_id=message.organisation_id,
        server_config_id=message.server_config_id, api_user_id=message.api_user_id,
        kind="mail", status=delivery.error_status or 99, reason=(delivery.reason or "")[:32],
        from_addr=message.mail_from[:320],
        return_path=f"bounces+{delivery.verp_token}@{domain}"[:320],
        to_addr=delivery.rcpt[:320], subject=message.subject[:998],
        message_id=message.message_id[:998], api_data=message.x_api_data[:998],
        response=delivery.last_reply or "", delivery_id=delivery.id,
    )
    session.add(row)
    bounce_recorded(session, row)  # the ``bounces`` webhook event (issue 6)
    return row


def record_fax_error(session: Session, job: FaxJob) -> ErrorLog:
    """Add the error-log row of a fax job that ended ``failed``."""
    from todoke.fax import codes

    entry = codes.lookup(job.result_code)
    mail = job.inbound_mail
    response = f"{job.result_code} {entry.label_ja} / {entry.label_en}: {entry.meaning_ja}"
    if job.detail:
        response += f"\n{job.detail}"
    row = ErrorLog(
        created=job.completed or utcnow(), organisation_id=job.organisation_id,
        server_config_id=None, api_user_id=None, kind="fax", status=FAX_STATUS,
        reason=str(job.result_code)[:32], from_addr=mail.sender[:320],
        return_path=mail.envelope_from[:320], to_addr=job.number[:320],
        subject=mail.subject[:998], message_id=mail.message_id[:998], api_data="",
        response=response, fax_job_id=job.id,
    )
    session.add(row)
    return row

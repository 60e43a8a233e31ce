"""Queue: what happens to a fax job after a call, in one transaction.

Success ends the job (code 0). A retryable code with attempts left waits ``retry_interval``
minutes (status ``retry``, code -3). Anything else, or the last attempt, ends it as failed
with that code. The pages already confirmed are kept, so the next attempt resumes after them.
A final outcome queues the sender's notification in the same transaction (notify mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke import log, metrics
from todoke.config import Settings
from todoke.errorlog.record import record_fax_error  # error log (issue 6)
from todoke.fax import codes
from todoke.fax.transport import FaxResult
from todoke.store.models import FaxAttempt, FaxJob, Organisation, Outbox, utcnow


@dataclass(frozen=True)
class JobView:
    """What a worker needs to place a call, read once at claim time."""

    id: int
    inbound_mail_id: int
    number: str
    e164: str
    attempts: int
    pages_sent: int
    resolution: str


def load_job(session: Session, job_id: int) -> JobView:
    job = session.get_one(FaxJob, job_id)
    org = session.get_one(Organisation, job.organisation_id)
    options = job.inbound_mail.options or {}
    return JobView(job.id, job.inbound_mail_id, job.number, job.e164, job.attempts,
                   job.pages_sent, str(options.get("resolution") or org.fax_resolution))


def record_attempt(
    session: Session, settings: Settings, job_id: int, token: str, started: datetime,
    result: FaxResult, pages_total: int, worker: str, first_page: int,
) -> str | None:
    """Write one call's outcome; return the job's new status (None if the claim was lost)."""
    job = session.scalar(select(FaxJob).where(FaxJob.id == job_id).with_for_update())
    if job is None or job.claim_token != token:
        log.warning("fax.claim_lost", job=job_id, worker=worker)
        return None
    now = utcnow()
    job.attempts += 1
    job.pages_total = pages_total
    job.pages_sent = min(job.pages_sent + result.pages_sent, pages_total)
    job.duration_s = round(job.duration_s + result.duration_s, 1)
    session.add(FaxAttempt(
        job_id=job.id, number=job.attempts, started=started, finished=now,
        result_code=result.code, first_page=first_page, pages_sent=result.pages_sent,
        duration_s=result.duration_s, worker=worker,
    ))
    metrics.ATTEMPTS.labels(result.code).inc()
    metrics.CALL_SECONDS.observe(result.duration_s)
    job.claim_token = None
    job.lease_until = None
    entry = codes.lookup(result.code)
    if codes.is_success(result.code):
        job.pages_sent = pages_total
        finish(session, settings, job, result.code, result.detail)
    elif entry.retry and job.attempts < job.max_attempts:
        job.status = "retry"
        job.result_code = "-3"
        job.detail = f"{result.code} {entry.label_ja} / {entry.label_en}"
        job.next_attempt_at = now + timedelta(seconds=settings.minutes(job.retry_interval))
    else:
        finish(session, settings, job, result.code, result.detail)
    log.event("fax.attempt", job=job.id, attempt=job.attempts, code=result.code,
              pages=result.pages_sent, status=job.status, worker=worker)
    return job.status


def finish(session: Session, settings: Settings, job: FaxJob, code: str, detail: str = "") -> None:
    """End a job with ``code`` and queue its notification as the notify mode asks."""
    success = codes.is_success(code)
    job.status = "done" if success else "failed"
    job.result_code = code
    job.detail = detail
    job.completed = utcnow()
    job.claim_token = None
    job.lease_until = None
    job.next_attempt_at = job.completed
    log.event("fax.done" if success else "fax.failed", job=job.id, code=code,
              attempts=job.attempts, pages=job.pages_sent)
    if not success:  # error log (issue 6)
        record_fax_error(session, job)
    wanted = {"always": True, "never": False, "success": success, "failure": not success}
    if wanted.get(job.notify, True):
        queue_notification(session, settings, job)


def queue_notification(session: Session, settings: Settings, job: FaxJob) -> None:
    from todoke.notify import FaxOutcome, build_fax_notification

    mail = job.inbound_mail
    org = session.get_one(Organisation, job.organisation_id)
    completed = job.completed or utcnow()
    outcome = FaxOutcome(
        transaction_id=str(job.id), number=job.number, result_code=job.result_code,
        pages_sent=job.pages_sent, pages_total=job.pages_total, attempts=job.attempts,
        duration_s=job.duration_s, subject=mail.subject, csid=mail.sender,
        submitted_at=job.created.replace(tzinfo=UTC), completed_at=completed.replace(tzinfo=UTC),
        detail=job.detail,
    )
    message = build_fax_notification(
        outcome, from_addr=f"noreply@{settings.fax_domain}", to_addr=mail.notify_to,
        language=org.language, timezone=org.timezone, html=org.fax_notify_html,
    )
    session.add(Outbox(kind="fax.notification", fax_job_id=job.id, mail_from="",
                       rcpt_to=mail.notify_to, raw=message.as_bytes()))

"""Queue: the credit limit (与信限度額). A fax that would take the account past its limit waits
as -22 (out of credit) and is looked at again every 5 minutes; raising the limit sends it,
and after 24 hours of waiting it fails with 205000.

Usage is counted in the account's calendar month, in its own time zone: the pages confirmed
so far this month times ``page_price`` (set page_price=1 for a limit counted in pages).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from todoke import log
from todoke.config import Settings
from todoke.queue.faxjobs import finish
from todoke.store.models import FaxAttempt, FaxJob, Organisation, utcnow

RECHECK_MINUTES = 5
GIVE_UP_MINUTES = 24 * 60


def month_start(zone_name: str, now: datetime) -> datetime:
    """The start of the account's current month, as naive UTC."""
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone_name))
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(UTC).replace(tzinfo=None)


def used_this_month(session: Session, org: Organisation, now: datetime) -> int:
    """Pages confirmed for the account since the start of its month."""
    return int(session.scalar(
        select(func.coalesce(func.sum(FaxAttempt.pages_sent), 0))
        .join(FaxJob, FaxJob.id == FaxAttempt.job_id)
        .where(FaxJob.organisation_id == org.id,
               FaxAttempt.finished >= month_start(org.timezone, now))
    ) or 0)


def admit(session: Session, settings: Settings, job_id: int, token: str, pages: int) -> bool:
    """True if the call may go; else hold the job (-22) or, after 24 hours, fail it (205000)."""
    job = session.get_one(FaxJob, job_id)
    if job.claim_token != token:
        return False
    org = session.get_one(Organisation, job.organisation_id)
    now = utcnow()
    if org.credit_limit is not None:
        remaining = max(pages - job.pages_sent, 0)
        cost = (used_this_month(session, org, now) + remaining) * float(org.page_price)
        if cost > float(org.credit_limit):
            held_since = job.held_since or now
            if now - held_since >= timedelta(seconds=settings.minutes(GIVE_UP_MINUTES)):
                job.pages_total = pages
                finish(session, settings, job, "205000",
                       f"credit limit {float(org.credit_limit):g} reached / 与信限度額に達しました")
                return False
            job.held_since = held_since
            job.status = "held"
            job.result_code = "-22"
            job.pages_total = pages
            job.claim_token = None
            job.lease_until = None
            job.next_attempt_at = now + timedelta(seconds=settings.minutes(RECHECK_MINUTES))
            log.event("fax.held", job=job.id, cost=cost, limit=float(org.credit_limit))
            return False
    if job.held_since is not None:
        job.held_since = None
    return True

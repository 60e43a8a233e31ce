"""API: the fax send history (送信履歴) and resend, scoped to the key's organisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from todoke.api.auth import KeyScope, current_key, get_store, language
from todoke.fax import codes
from todoke.store.db import Store
from todoke.store.models import FaxJob, utcnow

router = APIRouter(prefix="/v1/fax", tags=["fax"])


class FaxJobOut(BaseModel):
    id: int
    number: str
    status: str
    result_code: str
    result: str
    meaning: str
    remedy: str
    attempts: int
    max_attempts: int
    pages: int
    pages_sent: int
    subject: str
    detail: str
    resend_of: int | None
    created: datetime
    completed: datetime | None
    next_attempt_at: datetime | None


class FaxJobPage(BaseModel):
    total: int
    page: int
    per_page: int
    jobs: list[FaxJobOut]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _out(job: FaxJob, lang: str) -> FaxJobOut:
    entry = codes.lookup(job.result_code)
    return FaxJobOut(
        id=job.id, number=job.number, status=job.status, result_code=job.result_code,
        result=entry.label_ja if lang == "ja" else entry.label_en,
        meaning=entry.meaning_ja if lang == "ja" else entry.meaning_en,
        remedy=entry.remedy_ja if lang == "ja" else entry.remedy_en,
        attempts=job.attempts, max_attempts=job.max_attempts, pages=job.pages_total,
        pages_sent=job.pages_sent, subject=job.inbound_mail.subject, detail=job.detail,
        resend_of=job.resend_of, created=_utc(job.created), completed=_utc(job.completed),
        next_attempt_at=(_utc(job.next_attempt_at)
                         if job.status in ("queued", "retry", "held") else None),
    )


@router.get("/jobs", response_model=FaxJobPage)
def list_jobs(
    page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=500),
    status: str | None = Query(
        None, pattern="^(queued|active|retry|held|done|failed|cancelled)$"),
    number: str | None = Query(None, max_length=40),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
    lang: str = Depends(language),
) -> Any:
    """Send history, newest first."""
    where = [FaxJob.organisation_id == key.organisation_id]
    if status:
        where.append(FaxJob.status == status)
    if number:
        where.append(FaxJob.number.contains("".join(c for c in number if c.isdigit() or c == "+")))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(FaxJob).where(*where)) or 0
        jobs = session.scalars(
            select(FaxJob).where(*where).order_by(FaxJob.id.desc())
            .limit(per_page).offset((page - 1) * per_page)
        ).all()
        return FaxJobPage(total=total, page=page, per_page=per_page,
                          jobs=[_out(j, lang) for j in jobs])


def _own_job(session: Any, key: KeyScope, job_id: int) -> FaxJob:
    job = session.get(FaxJob, job_id)
    if job is None or job.organisation_id != key.organisation_id:
        raise HTTPException(404, "no such fax job")
    return job


@router.get("/jobs/{job_id}")
def get_job(job_id: int, key: KeyScope = Depends(current_key),
            store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """One job with every attempt."""
    with store.session() as session:
        job = _own_job(session, key, job_id)
        data = _out(job, lang).model_dump()
        data["attempt_log"] = [
            {"attempt": a.number, "started": a.started, "finished": a.finished,
             "result_code": a.result_code, "first_page": a.first_page,
             "pages_sent": a.pages_sent, "duration_s": a.duration_s}
            for a in job.attempt_rows
        ]
        return data


@router.post("/jobs/{job_id}/resend", status_code=202, response_model=FaxJobOut)
def resend(job_id: int, key: KeyScope = Depends(current_key),
           store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """Send the same document to the same number again, as a new job."""
    with store.session() as session:
        job = _own_job(session, key, job_id)
        if job.status not in ("done", "failed", "cancelled"):
            raise HTTPException(409, f"job {job_id} is still {job.status}; resend it when it ends")
        now = utcnow()
        copy = FaxJob(
            organisation_id=job.organisation_id, inbound_mail_id=job.inbound_mail_id,
            resend_of=job.id, number=job.number, e164=job.e164, max_attempts=job.max_attempts,
            retry_interval=job.retry_interval, notify=job.notify, created=now,
            next_attempt_at=now,
        )
        session.add(copy)
        session.flush()
        session.refresh(copy)
        return _out(copy, lang)

"""API: named fax lists of an account, and list sends (one history row per mail to a list)
with "resend the failed ones only"."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from todoke.accounts import AccountError, delete_list, set_list
from todoke.api.auth import KeyScope, current_key, get_store
from todoke.store.db import Store
from todoke.store.models import FaxJob, FaxList, ListSend, Organisation, utcnow

router = APIRouter(prefix="/v1/fax", tags=["fax lists"])


class ListIn(BaseModel):
    numbers: list[str] = Field(max_length=20_000)


class ListOut(BaseModel):
    name: str
    numbers: list[str]


@router.get("/lists", response_model=list[ListOut])
def all_lists(key: KeyScope = Depends(current_key), store: Store = Depends(get_store)) -> Any:
    with store.session() as session:
        lists = session.scalars(select(FaxList).where(
            FaxList.organisation_id == key.organisation_id).order_by(FaxList.name)).all()
        return [ListOut(name=f.name, numbers=[n.number for n in f.numbers]) for f in lists]


@router.put("/lists/{name}", response_model=ListOut)
def put_list(name: str, body: ListIn, key: KeyScope = Depends(current_key),
             store: Store = Depends(get_store)) -> Any:
    """Create or replace a list; mail to list-<name>@<fax domain> then faxes every number."""
    try:
        with store.session() as session:
            org = session.get_one(Organisation, key.organisation_id)
            fax_list = set_list(session, org, name, body.numbers)
            return ListOut(name=fax_list.name, numbers=[n.number for n in fax_list.numbers])
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.delete("/lists/{name}", status_code=204)
def remove_list(name: str, key: KeyScope = Depends(current_key),
                store: Store = Depends(get_store)) -> None:
    try:
        with store.session() as session:
            delete_list(session, session.get_one(Organisation, key.organisation_id), name)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from exc


class ListSendOut(BaseModel):
    id: int
    list_name: str
    subject: str
    created: datetime
    total: int
    counts: dict[str, int]  # status → jobs
    status: str  # sending | done | failed | partly failed
    jobs: list[dict[str, Any]]


def _send_out(session: Any, send: ListSend) -> ListSendOut:
    jobs = session.scalars(select(FaxJob).where(FaxJob.list_send_id == send.id)
                           .order_by(FaxJob.id)).all()
    latest: dict[str, FaxJob] = {}
    for job in jobs:  # a resent number counts by its newest job
        latest[job.number] = job
    counts = Counter(job.status for job in latest.values())
    if any(s in counts for s in ("queued", "active", "retry", "held")):
        status = "sending"
    elif counts.get("failed") and counts.get("done"):
        status = "partly failed"
    elif counts.get("failed"):
        status = "failed"
    else:
        status = "done"
    subject = jobs[0].inbound_mail.subject if jobs else ""
    return ListSendOut(
        id=send.id, list_name=send.list_name, subject=subject,
        created=send.created.replace(tzinfo=UTC), total=len(latest), counts=dict(counts),
        status=status,
        jobs=[{"id": j.id, "number": j.number, "status": j.status, "result_code": j.result_code,
               "attempts": j.attempts, "resend_of": j.resend_of} for j in latest.values()],
    )


def _own_send(session: Any, key: KeyScope, send_id: int) -> ListSend:
    send = session.get(ListSend, send_id)
    if send is None or send.organisation_id != key.organisation_id:
        raise HTTPException(404, "no such list send")
    return send


@router.get("/list-sends", response_model=list[ListSendOut])
def list_sends(key: KeyScope = Depends(current_key), store: Store = Depends(get_store)) -> Any:
    """Mails to lists, newest first: one row each, with the result of every number."""
    with store.session() as session:
        sends = session.scalars(select(ListSend).where(
            ListSend.organisation_id == key.organisation_id).order_by(ListSend.id.desc())
            .limit(100)).all()
        return [_send_out(session, send) for send in sends]


@router.get("/list-sends/{send_id}", response_model=ListSendOut)
def list_send(send_id: int, key: KeyScope = Depends(current_key),
              store: Store = Depends(get_store)) -> Any:
    with store.session() as session:
        return _send_out(session, _own_send(session, key, send_id))


@router.post("/list-sends/{send_id}/resend-failed", status_code=202, response_model=ListSendOut)
def resend_failed(send_id: int, key: KeyScope = Depends(current_key),
                  store: Store = Depends(get_store)) -> Any:
    """Send again to the numbers whose newest job failed; the others are left alone."""
    with store.session() as session:
        send = _own_send(session, key, send_id)
        current = _send_out(session, send)
        failed_ids = [j["id"] for j in current.jobs if j["status"] == "failed"]
        if not failed_ids:
            raise HTTPException(409, "no failed numbers in this list send")
        now = utcnow()
        for job in session.scalars(select(FaxJob).where(FaxJob.id.in_(failed_ids))):
            if job.number.startswith("list-"):
                raise HTTPException(409, "the list itself could not be used (207000); "
                                         "unlock the account and mail the list again")
            session.add(FaxJob(
                organisation_id=job.organisation_id, inbound_mail_id=job.inbound_mail_id,
                list_send_id=send.id, resend_of=job.id, number=job.number, e164=job.e164,
                max_attempts=job.max_attempts, retry_interval=job.retry_interval,
                notify=job.notify, created=now, next_attempt_at=now,
            ))
        session.flush()
        return _send_out(session, send)

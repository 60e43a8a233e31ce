"""Web console, the fax half (stage: web): send history (htmx refresh while faxes are on
their way), resend, list sends and "resend failed only", account properties, authorised
senders, lists, and the audit log of silently dropped mail (administrators only).

The history, resend and list-send queries are the API's own functions; the account rules
live in ``todoke.accounts``. Everything is scoped to the organisation in view.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from todoke import accounts
from todoke.api import fax as fax_api
from todoke.api import lists as lists_api
from todoke.store.models import AuditLog, AuthorizedSender, FaxList, ListSend, Organisation
from todoke.web.common import (
    PENDING,
    PREFIX,
    Refused,
    back,
    code_info,
    context,
    field,
    form,
    need_admin,
    need_org,
    render,
    store_of,
)

router = APIRouter(include_in_schema=False)


@router.get(f"{PREFIX}/history")
def history(request: Request, page: int = 1, status: str = "", number: str = "",
            partial: int = 0) -> Response:
    ctx = context(request)
    need_org(ctx)
    status = status if status in (*PENDING, "done", "failed", "cancelled") else ""
    result = fax_api.list_jobs(page=max(page, 1), per_page=50, status=status or None,
                               number=number[:40] or None, key=ctx.key,
                               store=store_of(request), lang=ctx.lang)
    jobs = [{**j.model_dump(), "info": code_info(j.result_code, ctx.lang)}
            for j in result.jobs]
    values = {"jobs": jobs, "total": result.total, "page": result.page,
              "pages": max(1, -(-result.total // result.per_page)), "status": status,
              "number": number, "pending": any(j["status"] in PENDING for j in jobs),
              "statuses": (*PENDING, "done", "failed", "cancelled")}
    if partial:
        return render(ctx, "history_table.html", **values)
    return render(ctx, "history.html", **values)


@router.post(f"{PREFIX}/history/{{job_id}}/resend")
async def resend(request: Request, job_id: int) -> Response:
    ctx = context(request)
    await form(request, ctx)
    need_org(ctx)
    fax_api.resend(job_id, key=ctx.key, store=store_of(request), lang=ctx.lang)
    return back(ctx, f"{PREFIX}/history", "resent")


@router.get(f"{PREFIX}/list-sends")
def list_sends(request: Request) -> Response:
    ctx = context(request)
    need_org(ctx)
    sends = lists_api.list_sends(key=ctx.key, store=store_of(request))
    rows = []
    with store_of(request).read() as session:
        created = {s.id: s.created for s in session.scalars(
            select(ListSend).where(ListSend.id.in_([s.id for s in sends])))}
    for send in sends:
        jobs = [{**j, "info": code_info(j["result_code"], ctx.lang)} for j in send.jobs]
        rows.append({"send": send, "jobs": jobs, "created": created.get(send.id)})
    return render(ctx, "list_sends.html", rows=rows)


@router.post(f"{PREFIX}/list-sends/{{send_id}}/resend-failed")
async def resend_failed(request: Request, send_id: int) -> Response:
    ctx = context(request)
    await form(request, ctx)
    need_org(ctx)
    lists_api.resend_failed(send_id, key=ctx.key, store=store_of(request))
    return back(ctx, f"{PREFIX}/list-sends", "resent_failed")


@router.get(f"{PREFIX}/settings")
def settings_page(request: Request) -> Response:
    ctx = context(request)
    org_id = need_org(ctx)
    with store_of(request).read() as session:
        props = accounts.describe(session.get_one(Organisation, org_id))
    return render(ctx, "settings.html", props=props, errors=[])


@router.post(f"{PREFIX}/settings")
async def settings_save(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    org_id = need_org(ctx)
    need_admin(ctx)
    changes: list[tuple[str, str]] = []
    for key in ("fax.retries", "fax.retry_interval", "fax.notify", "fax.resolution",
                "fax.page_size", "language", "timezone"):
        if field(data, key):
            changes.append((key, field(data, key)))
    if field(data, "fax.notify_html"):
        changes.append(("fax.notify_html", str(field(data, "fax.notify_html") == "html")))
    for key in ("fax.require_password", "fax.require_ticket", "fax.require_smime"):
        changes.append((key, "true" if data.get(key) else "false"))
    for key in ("fax.password", "fax.ticket_key"):
        value = data.get(key)
        if isinstance(value, str) and value:
            changes.append((key, value))
    upload = data.get("fax.smime_certs")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(1_000_001)
        try:
            pem = raw[:1_000_000].decode("ascii")
        except UnicodeDecodeError:
            pem = "?"
        changes.append(("fax.smime_certs", pem if pem.strip() else "?"))
    elif data.get("remove_certs"):
        changes.append(("fax.smime_certs", ""))
    if ctx.is_system:
        for key in ("credit_limit", "page_price"):
            if key in data:
                changes.append((key, field(data, key)))
        changes.append(("download", "true" if data.get("download") else "false"))
        if data.get("unlock"):
            changes.append(("locked", "false"))
    errors: list[str] = []
    store = store_of(request)
    try:
        with store.session() as session:
            org = session.get_one(Organisation, org_id)
            for key, value in changes:
                try:
                    accounts.set_property(session, org, key, value)
                except accounts.AccountError as exc:
                    errors.append(str(exc))
            if errors:
                raise Refused  # roll the whole form back
    except Refused:
        pass
    if errors:
        with store.read() as session:
            props = accounts.describe(session.get_one(Organisation, org_id))
        return render(ctx, "settings.html", http_status=422, props=props, errors=errors)
    return back(ctx, f"{PREFIX}/settings", "saved")


@router.get(f"{PREFIX}/senders")
def senders_page(request: Request) -> Response:
    ctx = context(request)
    org_id = need_org(ctx)
    return render(ctx, "senders.html", senders=_senders(request, org_id), error="")


@router.post(f"{PREFIX}/senders")
async def senders_change(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    org_id = need_org(ctx)
    need_admin(ctx)
    error = ""
    try:
        with store_of(request).session() as session:
            org = session.get_one(Organisation, org_id)
            if field(data, "delete"):
                row = session.scalar(select(AuthorizedSender).where(
                    AuthorizedSender.organisation_id == org_id,
                    AuthorizedSender.address == field(data, "delete")))
                if row is not None:
                    session.delete(row)
            else:
                accounts.add_sender(session, org, field(data, "address"))
    except accounts.AccountError as exc:
        error = str(exc)
    if error:
        return render(ctx, "senders.html", http_status=422, senders=_senders(request, org_id),
                      error=error)
    return back(ctx, f"{PREFIX}/senders", "saved")


@router.get(f"{PREFIX}/lists")
def lists_page(request: Request) -> Response:
    ctx = context(request)
    org_id = need_org(ctx)
    return render(ctx, "lists.html", lists=_lists(request, org_id), error="")


@router.post(f"{PREFIX}/lists")
async def lists_change(request: Request) -> Response:
    ctx = context(request)
    data = await form(request, ctx)
    org_id = need_org(ctx)
    need_admin(ctx)
    error = ""
    try:
        with store_of(request).session() as session:
            org = session.get_one(Organisation, org_id)
            if field(data, "delete"):
                accounts.delete_list(session, org, field(data, "delete"))
            else:
                numbers = [n.strip() for n in field(data, "numbers").splitlines()
                           if n.strip()]
                accounts.set_list(session, org, field(data, "name"), numbers)
    except accounts.AccountError as exc:
        error = str(exc)
    if error:
        return render(ctx, "lists.html", http_status=422, lists=_lists(request, org_id),
                      error=error)
    return back(ctx, f"{PREFIX}/lists", "saved")


@router.get(f"{PREFIX}/audit")
def audit_page(request: Request) -> Response:
    ctx = context(request)
    org_id = need_org(ctx)
    need_admin(ctx)
    with store_of(request).read() as session:
        rows = [{"created": a.created, "kind": a.kind, "actor": a.actor,
                 "detail": ", ".join(f"{k}={v}" for k, v in (a.detail or {}).items())}
                for a in session.scalars(select(AuditLog).where(
                    AuditLog.organisation_id == org_id).order_by(AuditLog.id.desc())
                    .limit(200))]
    return render(ctx, "audit.html", rows=rows)


def _senders(request: Request, org_id: int) -> list[str]:
    with store_of(request).read() as session:
        return list(session.scalars(select(AuthorizedSender.address).where(
            AuthorizedSender.organisation_id == org_id).order_by(AuthorizedSender.address)))


def _lists(request: Request, org_id: int) -> list[dict[str, Any]]:
    with store_of(request).read() as session:
        return [{"name": f.name, "numbers": [n.number for n in f.numbers]}
                for f in session.scalars(select(FaxList).where(
                    FaxList.organisation_id == org_id).order_by(FaxList.name))]

"""API: transactional mail intake (``POST /v1/mail/send``) and its delivery records.

Stage: ingest (HTTP). Builds the MIME message (RFC 5322 / 2045–2049, UTF-8, 7bit transfer
encodings so any relay takes it), gives it a Message-ID at the sender's domain, and commits
the message with one Delivery per recipient before answering ``202``. A recipient on the key's
server configuration's suppression list gets a ``blocked`` delivery (error status 10, reason
``suppressed``) that is never attempted. Invalid addresses are refused with ``422`` naming them,
and so is a From outside the account's ``mail.sender_domains`` (mail/senders.py).
Settings: TODOKE_MAX_MESSAGE_SIZE (413 past it).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from todoke.api.auth import KeyScope, current_key, get_store
from todoke.mail import senders
from todoke.mail.submit import Submitter, queue_mail
from todoke.store.db import Store
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage

router = APIRouter(prefix="/v1/mail", tags=["mail"])

MAX_RECIPIENTS = 1000
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_LOCAL = re.compile(r"^[^\s@<>()\[\]\\,;:\"]{1,64}$")
# headers the message builder owns; the caller may not set them
_RESERVED = {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version",
             "content-type", "content-transfer-encoding", "return-path"}
_POLICY = policy.SMTP.clone(cte_type="7bit")


class Attachment(BaseModel):
    filename: str = Field(max_length=255)
    content_type: str = "application/octet-stream"
    content: str  # base64


class SendRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", max_length=998)
    to: str | list[str]
    cc: str | list[str] = []
    bcc: str | list[str] = []
    subject: str = Field("", max_length=998)
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    headers: dict[str, str] = {}


class DeliveryOut(BaseModel):
    id: int
    rcpt: str
    status: str


class SendResponse(BaseModel):
    message_id: str
    deliveries: list[DeliveryOut]


def _addresses(value: str | list[str], invalid: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of one field; unusable items go to ``invalid``."""
    items = [value] if isinstance(value, str) else value
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not item.strip():
            continue
        parsed = getaddresses([item])
        if not parsed or not all(valid_address(address) for _, address in parsed):
            invalid.append(item.strip())
            continue
        pairs.extend(parsed)
    return pairs


def valid_address(address: str) -> bool:
    """A plain addr-spec ``local@domain`` with a DNS-shaped (or IDN) domain."""
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.match(local) or local.startswith(".") or local.endswith("."):
        return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_domain) <= 253 and bool(_DOMAIN.match(ascii_domain))


def _header_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HTTPException(422, f"header {name}: line breaks are not allowed")
    return value


def build_message(request: SendRequest, sender: tuple[str, str],
                  to: list[tuple[str, str]], cc: list[tuple[str, str]]) -> EmailMessage:
    """The MIME message: text and/or HTML alternatives, then the attachments."""
    message = EmailMessage(policy=_POLICY)
    name, address = sender
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = [Address(display_name=n, addr_spec=a) for n, a in to]
    if cc:
        message["Cc"] = [Address(display_name=n, addr_spec=a) for n, a in cc]
    message["Subject"] = _header_value("Subject", request.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = address.rpartition("@")[2].encode("idna").decode("ascii")
    message["Message-ID"] = make_msgid(secrets.token_hex(8), domain=domain)
    for header, value in request.headers.items():
        if header.lower() in _RESERVED or not re.fullmatch(r"[!-9;-~]{1,76}", header):
            raise HTTPException(422, f"header {header!r} cannot be set")
        message[header] = _header_value(header, value)
    if request.text is not None:
        message.set_content(request.text, charset="utf-8")
        if request.html is not None:
            message.add_alternative(request.html, subtype="html", charset="utf-8")
    elif request.html is not None:
        message.set_content(request.html, subtype="html", charset="utf-8")
    else:
        message.set_content("", charset="utf-8")
    for attachment in request.attachments:
        try:
            content = base64.b64decode(attachment.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(422, f"attachment {attachment.filename!r}: not base64") from exc
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


@router.post("/send", status_code=202, response_model=SendResponse)
def send(request: SendRequest, http: Request, key: KeyScope = Depends(current_key),
         store: Store = Depends(get_store)) -> Any:
    """Queue a transactional mail: one delivery per recipient (To, Cc, Bcc)."""
    invalid: list[str] = []
    senders_of = _addresses(request.from_, invalid)
    if len(senders_of) != 1 and request.from_.strip() not in invalid:
        invalid.append(request.from_)
    to, cc = _addresses(request.to, invalid), _addresses(request.cc, invalid)
    bcc = _addresses(request.bcc, invalid)
    if invalid:
        raise HTTPException(422, {"message": "invalid addresses", "invalid": invalid})
    recipients: list[str] = []
    seen: set[str] = set()
    for _, address in [*to, *cc, *bcc]:
        if address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    if not recipients:
        raise HTTPException(422, {"message": "no recipients", "invalid": []})
    if len(recipients) > MAX_RECIPIENTS:
        raise HTTPException(422, f"at most {MAX_RECIPIENTS} recipients per mail")
    message = build_message(request, senders_of[0], to, cc)
    raw = message.as_bytes()
    if len(raw) > http.app.state.settings.max_message_size:
        raise HTTPException(413, "message too large")
    submitter = Submitter(key.organisation_id, key.server_config_id, key.api_user_id)
    with store.session() as session:
        domains = senders.of_organisation(session, key.organisation_id)
        if not senders.allowed(domains, senders_of[0][1]):
            ja, en = senders.refusal(senders_of[0][1], domains)
            raise HTTPException(422, {"message": en, "message_ja": ja, "field": "from",
                                      "allowed": domains})
        row, deliveries = queue_mail(
            session, submitter, mail_from=senders_of[0][1], recipients=recipients, raw=raw,
            subject=request.subject, message_id=str(message["Message-ID"]),
            api_data=next((v for k, v in request.headers.items()
                           if k.lower() == "x-api-data"), ""),
        )
        return SendResponse(message_id=row.message_id, deliveries=[
            DeliveryOut(id=d.id, rcpt=d.rcpt, status=d.status) for d in deliveries])


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def delivery_dict(delivery: Delivery, message: MailMessage) -> dict[str, Any]:
    return {
        "id": delivery.id, "message_id": message.message_id, "from": message.mail_from,
        "rcpt": delivery.rcpt, "subject": message.subject, "api_data": message.x_api_data,
        "status": delivery.status, "attempts": delivery.attempts, "reason": delivery.reason,
        "error_status": delivery.error_status, "reply_code": delivery.reply_code,
        "enhanced_status": delivery.enhanced_status, "hardbounce": delivery.hardbounce,
        "last_reply": delivery.last_reply, "remote_mta": delivery.remote_mta,
        "source_ip": delivery.source_ip, "created": _utc(delivery.created),
        "completed": _utc(delivery.completed),
        "next_attempt_at": (_utc(delivery.next_attempt_at)
                            if delivery.status in ("queued", "deferred") else None),
    }


@router.get("/deliveries")
def list_deliveries(
    message_id: str | None = Query(None, max_length=998),
    status: str | None = Query(
        None, pattern="^(queued|active|deferred|delivered|failed|blocked)$"),
    page: int = Query(1, ge=1), per_page: int = Query(100, ge=1, le=500),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
) -> Any:
    """Deliveries of the key's server configuration, newest first."""
    query = (select(Delivery, MailMessage)
             .join(MailMessage, MailMessage.id == Delivery.message_id)
             .where(MailMessage.server_config_id == key.server_config_id))
    if message_id:
        query = query.where(MailMessage.message_id == message_id)
    if status:
        query = query.where(Delivery.status == status)
    with store.read() as session:
        rows = session.execute(query.order_by(Delivery.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).all()
        return {"page": page, "per_page": per_page,
                "deliveries": [delivery_dict(d, m) for d, m in rows]}


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: int, key: KeyScope = Depends(current_key),
                 store: Store = Depends(get_store)) -> Any:
    """One delivery with its events (the delivery log's detail)."""
    with store.read() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.message.server_config_id != key.server_config_id:
            raise HTTPException(404, "no such delivery")
        data = delivery_dict(delivery, delivery.message)
        events = session.scalars(select(DeliveryEvent)
                                 .where(DeliveryEvent.delivery_id == delivery_id)
                                 .order_by(DeliveryEvent.id)).all()
        data["events"] = [{"created": _utc(e.created), "status": e.status, "detail": e.detail}
                          for e in events]
        return data

"""API: the reference shape ``/transaction/v2/…`` (issue 6), so that clients of the Japanese
transactional mail service the seed describes can switch to todoke by changing the host.

Routes (POST; parameters as form fields, a JSON object body, or the query string):

- ``bounces/list.json``: the error log's mail entries. ``from``, ``to``, ``api_data`` partial
  match, ``status`` (error status 1-11, 99), ``start_date``, ``end_date`` (required, the
  organisation's days), ``p`` page (1…), ``r`` rows (1-100, default 10). Answers
  ``{"bounces": [{created, status, from, to, messageId, returnPath, subject, apiData, reason,
  statusLabel}]}``: status the number, reason the SMTP reply or the bounce text (as the CSV).
- ``deliveries/list.json``: the delivery log, same parameters (``date`` = one day may replace
  start_date/end_date, ``hour`` 0-23 narrows it to one hour; status queued | succeeded |
  deferred | failed); ``{"deliveries": […, sourceIp, statusLabel]}`` with reason = the last
  reply.
- ``blocks/list.json``: the block list; ``email`` partial match, ``start_date``/``end_date``
  (optional), ``removed`` false | true; ``{"blocks": [{created, email, reason, removed,
  reasonLabel}]}``.
- ``blocks/delete.json``: ``email``; removes the entry softly; ``{"blocks": [the entry]}``.

Every call authenticates with ``api_user`` (the API user's name) + ``api_key``; an optional
``server_composition`` must name the key's server configuration. Scope as ``/v1``: an admin
API user sees its server configuration, any other only its own mail, always inside its
organisation. ``Accept-Language: ja|en`` (ja by default) picks the language of the error
messages and of ``statusLabel`` / ``reasonLabel``. Errors: ``{"errors": [{"code",
"message"}]}`` with 400 (``invalid.<parameter>``, ``body.invalid``,
``server_composition.unknown``), 401 (``auth.missing``, ``auth.failed``) or 404
(``block.not_found``). Times: ISO 8601 with the organisation's offset.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from todoke.accounts import find_api_user
from todoke.api.auth import language
from todoke.errorlog import blocklist, deliverylog
from todoke.errorlog.search import (
    MAX_PER_PAGE,
    Scope,
    SearchError,
    iso,
    parse_criteria,
    parse_hour,
    search,
    zone_of,
)
from todoke.mail.bounce.table import error_status
from todoke.store.db import Store
from todoke.web.i18n import text as words

router = APIRouter(prefix="/transaction/v2", tags=["reference shape (transaction/v2)"])

Params = dict[str, str]


class TransactionError(Exception):
    """A refusal in the reference shape: HTTP status, code, messages in ja and en."""

    def __init__(self, status: int, code: str, ja: str, en: str) -> None:
        super().__init__(code)
        self.status, self.code, self.ja, self.en = status, code, ja, en

    def response(self, lang: str) -> JSONResponse:
        message = self.ja if lang == "ja" else self.en
        return JSONResponse({"errors": [{"code": self.code, "message": message}]},
                            status_code=self.status)


def _invalid(exc: SearchError) -> TransactionError:
    return TransactionError(400, f"invalid.{exc.field}", exc.ja, exc.en)


async def _params(request: Request) -> Params:
    """Query string, then the form fields or the JSON object body (the body wins)."""
    values: Params = dict(request.query_params)
    ctype = request.headers.get("content-type", "").lower()
    if "json" in ctype:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransactionError(400, "body.invalid", "JSON の本文はオブジェクトで送ってください",
                                   "the JSON body must be an object")
        for name, value in body.items():
            if value is not None:
                values[str(name)] = (str(value).lower() if isinstance(value, bool)
                                     else str(value))
    elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        for name, value in form.items():
            if isinstance(value, str):
                values[name] = value
    return values


def _scope(store: Store, params: Params) -> Scope:
    """The API user named ``api_user`` holding ``api_key``, as a search scope."""
    name, key = params.get("api_user", "").strip(), params.get("api_key", "").strip()
    if not name or not key:
        raise TransactionError(401, "auth.missing", "api_user と api_key は必須です",
                               "api_user and api_key are required")
    with store.read() as session:
        user = find_api_user(session, key)
        if user is None or user.name != name:
            raise TransactionError(401, "auth.failed",
                                   "api_user または api_key が正しくありません",
                                   "api_user or api_key is wrong")
        config = user.server_config
        wanted = params.get("server_composition", "").strip()
        if wanted and wanted != config.name:
            raise TransactionError(400, "server_composition.unknown",
                                   f"サーバ構成(server_composition)が見つかりません: "
                                   f"{wanted[:100]!r}",
                                   f"no such server_composition: {wanted[:100]!r}")
        return Scope.for_key(config.organisation_id, config.id, user.id, user.is_admin)


def _paging(params: Params) -> tuple[int, int]:
    def number(field: str, default: int, high: int) -> int:
        raw = params.get(field, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= high:
            raise TransactionError(400, f"invalid.{field}",
                                   f"{field} は 1〜{high} の整数で指定してください",
                                   f"{field} must be an integer from 1 to {high}")
        return int(raw)

    return number("p", 1, 100_000), number("r", 10, MAX_PER_PAGE)


def _dates(params: Params) -> tuple[str | None, str | None]:
    day = params.get("date")
    return params.get("start_date") or day, params.get("end_date") or day


def _retention(request: Request) -> int:
    return int(getattr(request.app.state.settings, "retention_days", 40))


def _bounces(store: Store, params: Params, lang: str, days: int) -> dict[str, Any]:
    scope = _scope(store, params)
    page, rows = _paging(params)
    try:
        criteria = parse_criteria(*_dates(params), params.get("status"), params.get("to"),
                                  params.get("api_data"), days, params.get("from"))
    except SearchError as exc:
        raise _invalid(exc) from exc
    t = words(lang)
    with store.read() as session:
        result = search(session, scope, replace(criteria, kind="mail"), page, rows, days)
        return {"bounces": [{
            "created": iso(row.created, result.zone), "status": row.status,
            "from": row.from_addr, "to": row.to_addr, "messageId": row.message_id,
            "returnPath": row.return_path, "subject": row.subject, "apiData": row.api_data,
            "reason": row.response, "statusLabel": t(f"es.{row.status}"),
        } for row in result.rows]}


def _deliveries(store: Store, params: Params, lang: str, days: int,
                bounce_domain: str | None) -> dict[str, Any]:
    scope = _scope(store, params)
    page, rows = _paging(params)
    try:
        criteria = deliverylog.parse_criteria(*_dates(params), params.get("status"),
                                              params.get("to"), params.get("api_data"), days,
                                              params.get("from"))
    except SearchError as exc:
        raise _invalid(exc) from exc
    try:
        hour = parse_hour(params.get("hour"), criteria.start, criteria.end)
    except SearchError as exc:
        raise _invalid(exc) from exc
    index = 0 if lang == "ja" else 1
    with store.read() as session:
        result = deliverylog.search(session, scope, replace(criteria, hour=hour), page, rows,
                                    days)
        out = []
        for row in result.rows:
            item = deliverylog.summary(row, result.zone, bounce_domain)
            out.append({
                "created": item["created"], "status": item["status"], "from": item["from"],
                "to": item["to"], "messageId": item["messageId"],
                "returnPath": item["returnPath"], "subject": item["subject"],
                "apiData": item["apiData"], "reason": row.last_reply,
                "sourceIp": row.source_ip,
                "statusLabel": deliverylog.LABELS[item["status"]][index]})
        return {"deliveries": out}


def _block(row: Any, tz: Any, lang: str) -> dict[str, Any]:
    return {"created": iso(row.created, tz), "email": row.address, "reason": row.reason,
            "removed": iso(row.removed, tz),
            "reasonLabel": words(lang)(f"es.{error_status(row.reason)}")}


def _blocks(store: Store, params: Params, lang: str) -> dict[str, Any]:
    scope = _scope(store, params)
    page, rows = _paging(params)
    try:
        criteria = blocklist.parse_criteria(params.get("email"), params.get("start_date"),
                                            params.get("end_date"), params.get("removed"))
    except SearchError as exc:
        raise _invalid(exc) from exc
    with store.read() as session:
        result = blocklist.search(session, scope, criteria, page, rows,
                                  max_per_page=MAX_PER_PAGE)
        return {"blocks": [_block(row, result.zone, lang) for row in result.rows]}


def _delete_block(store: Store, params: Params, lang: str) -> dict[str, Any]:
    scope = _scope(store, params)
    email = params.get("email", "").strip()
    if not email:
        raise TransactionError(400, "invalid.email", "email は必須です", "email is required")
    with store.session() as session:
        row = blocklist.remove(session, scope, email)
        if row is None:
            raise TransactionError(404, "block.not_found",
                                   "このアドレスは配信停止リストにありません",
                                   "address is not on the block list")
        return {"blocks": [_block(row, zone_of(session, scope.organisation_id), lang)]}


async def _answer(request: Request, work: Callable[[Params, str], dict[str, Any]]) -> Any:
    lang = language(request)
    try:
        params = await _params(request)
        return await run_in_threadpool(work, params, lang)
    except TransactionError as exc:
        return exc.response(lang)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.post("/bounces/list.json")
async def bounces_list(request: Request) -> Any:
    """Bounces (the error log's mail entries) in the reference shape."""
    return await _answer(request, lambda p, lang: _bounces(_store(request), p, lang,
                                                           _retention(request)))


@router.post("/deliveries/list.json")
async def deliveries_list(request: Request) -> Any:
    """The delivery log in the reference shape."""
    domain = getattr(request.app.state.settings, "bounce_domain", None)
    return await _answer(request, lambda p, lang: _deliveries(_store(request), p, lang,
                                                              _retention(request), domain))


@router.post("/blocks/list.json")
async def blocks_list(request: Request) -> Any:
    """The block list in the reference shape."""
    return await _answer(request, lambda p, lang: _blocks(_store(request), p, lang))


@router.post("/blocks/delete.json")
async def blocks_delete(request: Request) -> Any:
    """Remove one address from the block list (soft)."""
    return await _answer(request, lambda p, lang: _delete_block(_store(request), p, lang))

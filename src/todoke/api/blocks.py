"""API: the block list (配信停止アドレス) of the key's server configuration (issues 5, 6).

``GET /v1/blocks?email=&start_date=&end_date=&removed=&page=&per_page=`` lists entries newest
first (``email`` partial match; the dates, optional, are days in the organisation's zone on
``created``; ``removed=false`` (default) the active entries, ``true`` the removed ones), as
``{total, total_exact, page, per_page, blocks: [{email, reason, created, removed,
delivery_id}]}`` (100 per page by default, at most 500). ``DELETE /v1/blocks/{address}``
removes an active entry softly (kept with ``removed`` set; mail to the address is attempted
again; a ``blocks`` webhook event is queued), 404 when there is none. ``POST
/v1/blocks/download {email?, start_date?, end_date?, removed?, password}``: the entries as CSV
(``created,email,reason,removed``) in an AES-256 ZIP, only with the download grant (403).
An admin key sees its server configuration's list; any other key only the entries its own
mail caused. Addresses are added by hard bounces (mail/delivery/outcome.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel

from todoke.api.auth import KeyScope, current_key, get_store, language
from todoke.api.errors import (
    checked_password,
    key_scope,
    require_download,
    unprocessable,
    zip_response,
)
from todoke.errorlog import blocklist
from todoke.errorlog.search import SearchError
from todoke.store.db import Store

router = APIRouter(prefix="/v1/blocks", tags=["mail"])


def _criteria(lang: str, email: str | None, start_date: str | None, end_date: str | None,
              removed: Any) -> blocklist.BlockCriteria:
    try:
        return blocklist.parse_criteria(email, start_date, end_date, removed)
    except SearchError as exc:
        raise unprocessable(exc, lang) from exc


@router.get("")
def list_blocks(
    email: str | None = Query(None, description="address, partial match"),
    start_date: str | None = Query(None, description="YYYY-MM-DD, on created"),
    end_date: str | None = Query(None, description="YYYY-MM-DD, on created"),
    removed: str | None = Query(None, description="false (active, default) or true"),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(100, ge=1, le=blocklist.MAX_PER_PAGE),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
    lang: str = Depends(language),
) -> Any:
    """Block-list entries of the key's server configuration, newest first."""
    criteria = _criteria(lang, email, start_date, end_date, removed)
    with store.read() as session:
        result = blocklist.search(session, key_scope(key), criteria, page, per_page)
        return {"total": result.total, "total_exact": result.total_exact, "page": result.page,
                "per_page": result.per_page,
                "blocks": [blocklist.summary(row, result.zone) for row in result.rows]}


@router.delete("/{address}", status_code=204)
def remove_block(address: str, key: KeyScope = Depends(current_key),
                 store: Store = Depends(get_store), lang: str = Depends(language)) -> Response:
    """Take ``address`` off the block list (soft: kept as removed)."""
    with store.session() as session:
        row = blocklist.remove(session, key_scope(key), address)
    if row is None:
        raise HTTPException(404, "このアドレスは配信停止リストにありません" if lang == "ja"
                            else "address is not on the block list")
    return Response(status_code=204)


class BlocksDownload(BaseModel):
    email: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    removed: bool | str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password in a log or a traceback
        return f"BlocksDownload({self.start_date}..{self.end_date})"

    __str__ = __repr__


@router.post("/download")
def download(body: BlocksDownload, request: Request, key: KeyScope = Depends(current_key),
             store: Store = Depends(get_store), lang: str = Depends(language)) -> Any:
    """The entries as CSV in a ZIP encrypted (AES-256) with ``password``."""
    require_download(store, key, lang)
    criteria = _criteria(lang, body.email, body.start_date, body.end_date, body.removed)
    password = checked_password(body.password, lang)
    name = blocklist.entry_name(criteria).replace(".csv", ".zip")
    return zip_response(request, name, lambda path: blocklist.write_zip(
        store, key_scope(key), criteria, password, path))

"""Fax: the rendered document of an inbound mail, made once and kept for all its jobs.

Rendering runs in a separate process with time and memory limits (todoke.fax.render), never
in the SMTP reply path. A rendering error is kept too, so every job of the mail ends with the
same 204000 / 204001 and the same reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from todoke import log
from todoke.store.db import Store
from todoke.store.models import FaxDocument, InboundMail, Organisation


@dataclass(frozen=True)
class Document:
    pages: int
    tiff: bytes
    error_code: str | None = None
    error_detail: str = ""


def _load(store: Store, mail_id: int) -> Document | None:
    with store.session() as session:
        row = session.get(FaxDocument, mail_id)
        if row is None:
            return None
        return Document(row.pages, row.tiff or b"", row.error_code, row.error_detail or "")


def _render(store: Store, mail_id: int) -> Document:
    from todoke.fax.render import RenderError, RenderOptions, render_isolated

    with store.session() as session:
        mail = session.get_one(InboundMail, mail_id)
        org = session.get_one(Organisation, mail.organisation_id)
        opts = mail.options or {}
        options = RenderOptions(
            resolution=str(opts.get("resolution") or org.fax_resolution),
            page_size=str(opts.get("page_size") or org.fax_page_size),
            body=str(opts.get("body") or "auto"),
            header=bool(opts.get("header", True)),
            header_text=opts.get("header_text") or None,  # type: ignore[arg-type]
            sender=mail.sender,
            timezone=org.timezone,
        )
        raw = mail.raw
    try:
        rendered = render_isolated(raw, options)
        row = FaxDocument(inbound_mail_id=mail_id, pages=rendered.pages, tiff=rendered.tiff,
                          parts=list(rendered.parts))
    except RenderError as exc:
        detail = f"{exc.part}: {exc.reason}"
        log.warning("fax.render_error", mail=mail_id, code=exc.code, detail=detail)
        row = FaxDocument(inbound_mail_id=mail_id, pages=0, tiff=None, error_code=exc.code,
                          error_detail=detail)
    document = Document(row.pages, row.tiff or b"", row.error_code, row.error_detail or "")
    try:
        with store.session() as session:
            session.add(row)
    except IntegrityError:  # another worker rendered it at the same time
        return _load(store, mail_id) or document
    log.event("fax.rendered", mail=mail_id, pages=row.pages, error=row.error_code)
    return document


class Documents:
    """Loads or renders documents; one render per mail at a time in this process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: dict[int, asyncio.Future[Document]] = {}

    async def get(self, mail_id: int) -> Document:
        found = await asyncio.to_thread(_load, self.store, mail_id)
        if found is not None:
            return found
        if mail_id in self._pending:
            return await asyncio.shield(self._pending[mail_id])
        future: asyncio.Future[Document] = asyncio.get_running_loop().create_future()
        self._pending[mail_id] = future
        try:
            document = await asyncio.to_thread(_render, self.store, mail_id)
            future.set_result(document)
            return document
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._pending[mail_id]

"""API: the suppression list (配信停止アドレス) of the key's server configuration.

``GET /v1/blocks`` lists suppressed addresses (``email``: partial match), newest first;
``DELETE /v1/blocks/{address}`` releases one, so mail to it is attempted again. Addresses
are added by hard bounces (mail/delivery/outcome.py, mail/bounces.py).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy import delete, func, select

from todoke.api.auth import KeyScope, current_key, get_store
from todoke.store.db import Store
from todoke.store.models_mail import Suppression

router = APIRouter(prefix="/v1/blocks", tags=["mail"])


@router.get("")
def list_blocks(
    email: str | None = Query(None, max_length=320),
    page: int = Query(1, ge=1), per_page: int = Query(100, ge=1, le=500),
    key: KeyScope = Depends(current_key), store: Store = Depends(get_store),
) -> Any:
    """Suppressed addresses of the key's server configuration."""
    where = [Suppression.server_config_id == key.server_config_id]
    if email:
        where.append(Suppression.address.contains(email.lower(), autoescape=True))
    with store.read() as session:
        total = session.scalar(select(func.count()).select_from(Suppression).where(*where))
        rows = session.scalars(select(Suppression).where(*where)
                               .order_by(Suppression.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).all()
        return {"total": total or 0, "page": page, "per_page": per_page, "blocks": [
            {"email": r.address, "reason": r.reason, "created": r.created.replace(tzinfo=UTC),
             "delivery_id": r.source_delivery_id} for r in rows]}


@router.delete("/{address}", status_code=204)
def remove_block(address: str, key: KeyScope = Depends(current_key),
                 store: Store = Depends(get_store)) -> Response:
    """Take ``address`` off the suppression list."""
    with store.session() as session:
        removed = session.execute(delete(Suppression).where(
            Suppression.server_config_id == key.server_config_id,
            Suppression.address == address.lower())).rowcount
    if not removed:
        raise HTTPException(404, "address is not on the suppression list")
    return Response(status_code=204)

"""Queue: claiming due rows so that no two workers ever take the same one.

A claim is one statement: ``UPDATE … SET status='active', claim_token=:t, lease_until=…
WHERE id IN (SELECT id … WHERE due ORDER BY next_attempt_at LIMIT n FOR UPDATE SKIP LOCKED)
RETURNING id``. PostgreSQL skips rows another worker holds; SQLite runs it under its single
writer lock (BEGIN IMMEDIATE). The claim token is checked again when the outcome is written,
and a lease that runs out (a worker that died) puts the row back in the queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from todoke.store.models import utcnow

LEASE = timedelta(minutes=10)


def claim(session: Session, model: Any, due_statuses: tuple[str, ...], limit: int,
          token: str, **values: Any) -> list[int]:
    """Claim up to ``limit`` due rows of ``model`` for ``token``; return their ids."""
    now = utcnow()
    due = (
        select(model.id)
        .where(model.status.in_(due_statuses), model.next_attempt_at <= now)
        .order_by(model.next_attempt_at, model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(model)
        .where(model.id.in_(due))
        .values(status="active", claim_token=token, lease_until=now + LEASE, **values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement).all())


def release_expired(session: Session, model: Any, back_to: str) -> int:
    """Put rows whose worker's lease ran out back into the queue."""
    statement = (
        update(model)
        .where(model.status == "active", model.lease_until < utcnow())
        .values(status=back_to, claim_token=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount or 0


def extend(session: Session, model: Any, row_id: int, token: str) -> bool:
    """Renew a lease; False if the row is no longer ours."""
    statement = (
        update(model)
        .where(model.id == row_id, model.claim_token == token)
        .values(lease_until=utcnow() + LEASE)
        .execution_options(synchronize_session=False)
    )
    return (session.execute(statement).rowcount or 0) == 1

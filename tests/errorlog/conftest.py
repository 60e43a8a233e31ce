"""Error log fixtures: two organisations with keys, rows filled straight into the store."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from todoke.accounts import add_api_user, create_account
from todoke.api.app import create_app
from todoke.config import Settings
from todoke.store.db import Store
from todoke.store.models import ServerConfig, utcnow
from todoke.store.models_log import ErrorLog

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass
class Tenant:
    organisation_id: int
    server_config_id: int
    admin_user_id: int
    admin_key: str
    user_id: int
    user_key: str


@dataclass
class World:
    store: Store
    client: TestClient
    a: Tenant
    b: Tenant
    now: datetime

    def fill(self, tenant: Tenant, count: int = 1, *, user: bool = False, **fields: Any) -> None:
        """Insert ``count`` rows; created defaults to one minute apart, newest now-1min."""
        rows = []
        for i in range(count):
            row: dict[str, Any] = {
                "created": self.now - timedelta(minutes=i + 1),
                "organisation_id": tenant.organisation_id,
                "server_config_id": tenant.server_config_id,
                "api_user_id": tenant.user_id if user else tenant.admin_user_id,
                "kind": "mail", "status": 2, "reason": "userunknown",
                "from_addr": "app@example.jp", "return_path": "bounces+t@bounce.localhost",
                "to_addr": f"user{i}@example.com", "subject": f"subject {i}",
                "message_id": f"<m{i}@example.jp>", "api_data": f"order-{i}",
                "response": "550 5.1.1 no such user",
            }
            row.update({k: (v(i) if callable(v) else v) for k, v in fields.items()})
            rows.append(row)
        with self.store.session() as session:
            session.execute(insert(ErrorLog), rows)

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params,
                               headers={"Authorization": f"Bearer {key or self.a.admin_key}"})

    def today(self, days: int = 0, zone: str = "Asia/Tokyo") -> str:
        """A day in the organisations' zone (their default, Asia/Tokyo), ``days`` from now."""
        local = self.now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
        return (local + timedelta(days=days)).strftime("%Y-%m-%d")


def _tenant(store: Store, name: str) -> Tenant:
    with store.session() as session:
        created = create_account(session, name, [])
        config = session.query(ServerConfig).filter_by(
            organisation_id=created.organisation.id).one()
        admin = config.api_users[0]
        user, key = add_api_user(session, config, "user")
        session.flush()
        return Tenant(created.organisation.id, config.id, admin.id, created.api_key, user.id,
                      key)


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    settings = Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path / "data"),
                                  "TODOKE_DATABASE_URL": store.url})
    client = TestClient(create_app(settings, store))
    yield World(store, client, _tenant(store, "acme"), _tenant(store, "other"), utcnow())
    client.close()

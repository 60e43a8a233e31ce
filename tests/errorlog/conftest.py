"""Error log, delivery log and block list fixtures: two organisations with keys (an admin
and a plain API user each), rows filled straight into the store."""

from __future__ import annotations

import secrets
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
from todoke.store.models import Organisation, ServerConfig, utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, DeliveryEvent, MailMessage, Suppression

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


_MESSAGE_FIELDS = {"organisation_id", "server_config_id", "api_user_id", "mail_from", "subject",
                   "message_id", "x_api_data"}


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

    def fill_mail(self, tenant: Tenant, count: int = 1, *, user: bool = False,
                  events: bool = True, **fields: Any) -> list[int]:
        """Insert ``count`` mails of one delivery each (delivered, one minute apart, newest
        now-1min); ``fields`` set message or delivery columns (a callable gets the index).
        Returns the delivery ids."""
        messages, deliveries = [], []
        for i in range(count):
            values = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
            created = values.pop("created", self.now - timedelta(minutes=i + 1))
            message: dict[str, Any] = {
                "organisation_id": tenant.organisation_id,
                "server_config_id": tenant.server_config_id,
                "api_user_id": tenant.user_id if user else tenant.admin_user_id,
                "created": created, "mail_from": "app@example.jp", "subject": f"subject {i}",
                "message_id": f"<d{i}@example.jp>", "x_api_data": f"order-{i}", "size": 1,
                "raw": b"x"}
            delivery: dict[str, Any] = {
                "rcpt": f"user{i}@example.com", "status": "delivered", "attempts": 1,
                "next_attempt_at": created, "verp_token": secrets.token_hex(12),
                "created": created, "updated": created, "last_reply": "250 2.0.0 Ok: queued",
                "reply_code": "250", "enhanced_status": "2.0.0", "reason": "delivered",
                "hardbounce": False, "remote_mta": "mx.example.com", "source_ip": "192.0.2.7"}
            for name, value in values.items():
                (message if name in _MESSAGE_FIELDS else delivery)[name] = value
            delivery["domain"] = str(delivery["rcpt"]).rpartition("@")[2]
            messages.append(message)
            deliveries.append(delivery)
        with self.store.session() as session:
            ids = list(session.scalars(insert(MailMessage).returning(
                MailMessage.id, sort_by_parameter_order=True), messages))
            for delivery, message_id in zip(deliveries, ids, strict=True):
                delivery["message_id"] = message_id
            delivery_ids = list(session.scalars(insert(Delivery).returning(
                Delivery.id, sort_by_parameter_order=True), deliveries))
            if events:
                session.execute(insert(DeliveryEvent), [
                    {"delivery_id": i, "created": d["created"], "status": d["status"],
                     "detail": d["last_reply"]} for i, d in zip(delivery_ids, deliveries,
                                                                 strict=True)])
        return delivery_ids

    def fill_blocks(self, tenant: Tenant, addresses: list[str], *,
                    source: list[int | None] | None = None, **fields: Any) -> None:
        """Insert block-list entries of ``tenant``'s server configuration (created one
        minute apart, newest now-1min)."""
        rows = []
        for i, address in enumerate(addresses):
            row: dict[str, Any] = {
                "server_config_id": tenant.server_config_id, "address": address,
                "reason": "userunknown", "created": self.now - timedelta(minutes=i + 1),
                "removed": None, "source_delivery_id": source[i] if source else None}
            row.update({k: (v(i) if callable(v) else v) for k, v in fields.items()})
            rows.append(row)
        with self.store.session() as session:
            session.execute(insert(Suppression), rows)

    def grant(self, tenant: Tenant) -> None:
        """Allow downloads for ``tenant``'s organisation."""
        with self.store.session() as session:
            session.get_one(Organisation, tenant.organisation_id).download_allowed = True

    def post(self, path: str, key: str | None = None, **body: Any) -> Any:
        return self.client.post(path, json=body,
                                headers={"Authorization": f"Bearer {key or self.a.admin_key}"})

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

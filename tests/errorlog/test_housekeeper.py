"""The housekeeper on both engines: one round purges old error-log rows and old finished mail
(never a delivery still queued or deferred), keeps what refers to a purged delivery, releases
old blocks; batches skip busy mail; a held PostgreSQL advisory lock skips the round; and in a
running gateway with a short TODOKE_PURGE_INTERVAL the purge happens by itself."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from todoke.config import Settings
from todoke.errorlog import retention, schedule
from todoke.store.db import Store
from todoke.store.models import ApiUser, Organisation, ServerConfig, utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import BounceAudit, Delivery, DeliveryEvent, MailMessage, Suppression

from .conftest import World


def _count(store: Store, model: Any, *where: Any) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _settings(w: World, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"TODOKE_DATA_DIR": str(tmp_path / "data"),
                              "TODOKE_DATABASE_URL": w.store.url, **env})


def test_one_round_purges_and_releases(world: World, tmp_path: Path) -> None:
    w = world
    old = w.now - timedelta(days=41)
    w.fill(w.a, 3, created=lambda i: old - timedelta(minutes=i), to_addr="old@example.com")
    w.fill(w.b, 2, to_addr="new@example.com")
    gone = w.fill_mail(w.a, 3, created=lambda i: old - timedelta(minutes=i),
                       status=lambda i: ("delivered", "failed", "blocked")[i])
    stuck = w.fill_mail(w.a, 1, created=old, status="deferred", rcpt="stuck@example.com")
    kept = w.fill_mail(w.b, 2, rcpt="recent@example.com")
    with w.store.session() as session:  # one old message with a delivery still queued
        message = session.get_one(Delivery, gone[0]).message_id
        mixed = MailMessage(organisation_id=w.a.organisation_id,
                            server_config_id=w.a.server_config_id, created=old,
                            mail_from="app@example.jp", raw=b"x")
        session.add(mixed)
        session.flush()
        session.add_all([Delivery(message_id=mixed.id, rcpt=f"m{i}@example.com",
                                  domain="example.com", status=status, verp_token=f"mixed{i}",
                                  created=old) for i, status in enumerate(("delivered",
                                                                            "queued"))])
        session.add(BounceAudit(delivery_id=gone[1], matched=True, raw=b"bounce"))
    w.fill_blocks(w.a, ["recent-block@example.com"], source=[gone[1]],
                  created=w.now - timedelta(days=10))
    w.fill_blocks(w.a, ["old-block@example.com"], created=w.now - timedelta(days=31))
    done = schedule.run_once(_settings(w, tmp_path), w.store, pause=0)
    assert done == schedule.Round(errors=3, deliveries=3, released=1)
    assert _count(w.store, ErrorLog) == 2
    assert _count(w.store, Delivery, Delivery.id.in_(gone)) == 0
    assert _count(w.store, DeliveryEvent, DeliveryEvent.delivery_id.in_(gone)) == 0
    assert _count(w.store, MailMessage, MailMessage.id == message) == 0
    assert _count(w.store, Delivery, Delivery.id.in_(stuck + kept)) == 3
    assert _count(w.store, Delivery, Delivery.message_id == mixed.id) == 2  # kept whole
    with w.store.read() as session:
        block = session.scalars(select(Suppression).where(
            Suppression.address == "recent-block@example.com")).one()
        assert block.source_delivery_id is None and block.removed is None
        assert session.scalars(select(BounceAudit.delivery_id)).all() == [None]
        released = session.scalars(select(Suppression.removed).where(
            Suppression.address == "old-block@example.com")).one()
        assert released is not None
        if not w.store.is_postgres:  # the trigram tables followed the deletes
            for table, rows in (("deliveries_fts", 5), ("mail_messages_fts", 4),
                                ("error_log_fts", 2)):
                assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == rows
    assert schedule.run_once(_settings(w, tmp_path), w.store, pause=0) == schedule.Round()
    never = _settings(w, tmp_path, TODOKE_BLOCK_RELEASE_DAYS="0")
    w.fill_blocks(w.b, ["ancient@example.com"], created=w.now - timedelta(days=400))
    assert schedule.run_once(never, w.store, pause=0) == schedule.Round()


def test_batches_skip_busy_mail(world: World) -> None:
    w = world
    old = w.now - timedelta(days=45)
    w.fill_mail(w.a, 7, created=lambda i: old + timedelta(minutes=i),
                status=lambda i: "deferred" if i % 2 else "failed")
    batches: list[int] = []
    assert retention.purge_deliveries(w.store, days=40, batch=2, progress=batches.append) == 4
    assert batches == [1, 1, 1, 1]
    assert _count(w.store, Delivery) == 3
    assert _count(w.store, Delivery, Delivery.status == "deferred") == 3


def test_advisory_lock_makes_other_workers_skip(world: World, tmp_path: Path) -> None:
    w = world
    w.fill(w.a, 1, created=w.now - timedelta(days=50))
    settings = _settings(w, tmp_path)
    if not w.store.is_postgres:
        assert schedule.run_once(settings, w.store, pause=0) == schedule.Round(errors=1)
        return
    other = Store(w.store.url)  # another worker process holding the round
    try:
        with other.engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": schedule.ADVISORY_KEY})
            assert schedule.run_once(settings, w.store, pause=0) is None
            assert _count(w.store, ErrorLog) == 1
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": schedule.ADVISORY_KEY})
            conn.commit()
    finally:
        other.dispose()
    assert schedule.run_once(settings, w.store, pause=0) == schedule.Round(errors=1)


def test_purge_in_a_running_gateway(database_url: str, make_gateway: Any) -> None:
    gw = make_gateway(database_url, TODOKE_PURGE_INTERVAL="0.3")
    gw.api_key = gw.create_account("acme")
    store = Store(database_url)
    try:
        now = utcnow()
        with store.session() as session:
            org = session.scalars(select(Organisation).where(Organisation.name == "acme")).one()
            config = session.scalars(select(ServerConfig).where(
                ServerConfig.organisation_id == org.id)).one()
            user = session.scalars(select(ApiUser).where(
                ApiUser.server_config_id == config.id)).first()
            assert user is not None
            rows = [{"created": now - timedelta(days=d), "organisation_id": org.id,
                     "server_config_id": config.id, "api_user_id": user.id, "kind": "mail",
                     "status": 2, "reason": "userunknown", "from_addr": "a@example.jp",
                     "return_path": "", "to_addr": f"{d}@example.com", "subject": "",
                     "message_id": "", "api_data": "", "response": ""} for d in (0, 41, 60)]
            session.execute(insert(ErrorLog), rows)
            for d in (1, 45):
                message = MailMessage(organisation_id=org.id, server_config_id=config.id,
                                      created=now - timedelta(days=d),
                                      mail_from="a@example.jp", raw=b"x")
                session.add(message)
                session.flush()
                session.add(Delivery(message_id=message.id, rcpt=f"{d}@example.com",
                                     domain="example.com", status="delivered",
                                     verp_token=f"gw{d}", created=message.created))
        gw.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _count(store, ErrorLog) == 1 and _count(store, Delivery) == 1:
                break
            time.sleep(0.2)
        assert _count(store, ErrorLog) == 1 and _count(store, Delivery) == 1
        with store.read() as session:
            assert session.scalars(select(Delivery.rcpt)).all() == ["1@example.com"]
        assert "housekeeper.round" in gw.log_path.read_text()
    finally:
        store.dispose()

"""A fax that fails (queue.faxjobs.finish) and a mail delivery that fails or is blocked
(mail.delivery.outcome.apply, the path of both the SMTP worker and the bounce mailbox) each
leave one error-log row, visible through the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from todoke.config import Settings
from todoke.mail.delivery import outcome
from todoke.queue.faxjobs import finish
from todoke.store.models import FaxJob, InboundMail, utcnow
from todoke.store.models_log import ErrorLog
from todoke.store.models_mail import Delivery, MailMessage

from .conftest import World


def test_failed_fax_and_failed_mail_are_logged(world: World) -> None:
    w = world
    settings = Settings.from_env({})
    with w.store.session() as session:
        mail = InboundMail(organisation_id=w.a.organisation_id, envelope_from="env@example.jp",
                           sender="sender@example.jp", notify_to="sender@example.jp",
                           subject="FAX 見積", message_id="<fax1@example.jp>", raw=b"x")
        session.add(mail)
        session.flush()
        ok = FaxJob(organisation_id=w.a.organisation_id, inbound_mail_id=mail.id,
                    number="0311112222", notify="never")
        bad = FaxJob(organisation_id=w.a.organisation_id, inbound_mail_id=mail.id,
                     number="0333334444", notify="never")
        session.add_all([ok, bad])
        session.flush()
        finish(session, settings, ok, "0")
        finish(session, settings, bad, "3912", "number not in service")
        message = MailMessage(organisation_id=w.a.organisation_id,
                              server_config_id=w.a.server_config_id,
                              api_user_id=w.a.admin_user_id, mail_from="app@example.jp",
                              subject="注文確認", message_id="<m1@example.jp>",
                              x_api_data="order-77", raw=b"x")
        session.add(message)
        session.flush()
        for i, rcpt in enumerate(("gone@example.com", "fine@example.com", "blk@example.com")):
            session.add(Delivery(message_id=message.id, rcpt=rcpt, domain="example.com",
                                 verp_token=f"tok{i}abcdefgh"))
        session.flush()
        ids = {d.rcpt: d.id for d in message.deliveries}
    with w.store.session() as session:
        outcome.apply(session, ids["gone@example.com"], None, outcome.Outcome(
            "failed", "550 5.1.1 <gone@example.com>: user unknown", reason="userunknown",
            enhanced="5.1.1", reply_code="550", error_status=2, hard=True))
        outcome.apply(session, ids["fine@example.com"], None, outcome.Outcome(
            "deferred", "451 try later", reason="systemerror", error_status=7,
            next_attempt_at=utcnow() + timedelta(minutes=5)))
        outcome.apply(session, ids["blk@example.com"], None, outcome.blocked("blk@example.com"))
    with w.store.read() as session:
        rows = session.scalars(select(ErrorLog).order_by(ErrorLog.id)).all()
        assert [(r.kind, r.to_addr, r.status, r.reason) for r in rows] == [
            ("fax", "0333334444", 99, "3912"),
            ("mail", "gone@example.com", 2, "userunknown"),
            ("mail", "blk@example.com", 10, "suppressed"),
        ]
        fax, mail_row = rows[0], rows[1]
        assert fax.fax_job_id and fax.server_config_id is None
        assert "3912" in fax.response and "number not in service" in fax.response
        assert fax.subject == "FAX 見積" and fax.from_addr == "sender@example.jp"
        assert mail_row.api_data == "order-77" and mail_row.message_id == "<m1@example.jp>"
        assert mail_row.return_path.startswith("bounces+tok0abcdefgh@")
        assert mail_row.response.startswith("550 5.1.1")
        assert mail_row.server_config_id == w.a.server_config_id
    body = w.get("/v1/errors", start_date=w.today(-1), end_date=w.today()).json()
    assert body["total"] == 3
    assert w.get("/v1/errors", key=w.b.admin_key, start_date=w.today(-1),
                 end_date=w.today()).json()["total"] == 0

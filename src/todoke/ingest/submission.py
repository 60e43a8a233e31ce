"""Ingest: SMTP submission of transactional mail (RFC 6409 style) on the ingest port.

An application authenticates with AUTH PLAIN or LOGIN, only after STARTTLS: the user name is
its API user's name (or the key's first 12 characters), the password its API key. Once
authenticated it may send to any domain; each recipient becomes one delivery of the mail
worker, committed before ``250``. A Message-ID and a Date are added when the mail lacks them,
as a submission server may (RFC 6409, 8.2 and 8.3).
"""

from __future__ import annotations

import hmac
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formatdate, make_msgid
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from todoke import log
from todoke.accounts import find_api_user
from todoke.ingest.faxmail import decode_text
from todoke.ingest.writer import GroupCommitter
from todoke.mail.submit import Submitted, Submitter, queue_mails
from todoke.store.db import Store


class Submission:
    """AUTH for API users, and the intake of what they submit (through group commit)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committer: GroupCommitter[Submitted, int] = GroupCommitter(
            store, queue_mails, "submission-writer")

    def close(self) -> None:
        self.committer.close()


    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        key = auth_data.password.decode("utf-8", "replace")
        with self.store.read() as db:
            user = find_api_user(db, key)
            if user is None or not (hmac.compare_digest(login, user.name)
                                    or hmac.compare_digest(login, user.key_prefix)):
                log.warning("submission.auth_failed", login=login[:64])
                return AuthResult(success=False, handled=False)
            submitter = Submitter(user.server_config.organisation_id, user.server_config_id,
                                  user.id)
        return AuthResult(success=True, auth_data=submitter)

    async def accept(self, submitter: Submitter, mail_from: str, rcpt_tos: list[str],
                     raw: bytes) -> str:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        added = b""
        message_id = decode_text(headers.get("Message-ID"))
        if not message_id:
            message_id = make_msgid(domain=mail_from.rpartition("@")[2] or None)
            added += f"Message-ID: {message_id}\r\n".encode()
        if not headers.get("Date"):
            added += f"Date: {formatdate(localtime=True)}\r\n".encode()
        recipients = list(dict.fromkeys(rcpt_tos))
        mail_id = await self.committer.submit(Submitted(
            submitter, mail_from, recipients, added + raw, decode_text(headers.get("Subject")),
            message_id, decode_text(headers.get("X-Api-Data"))))
        log.event("submission.accepted", mail=mail_id, rcpts=len(recipients))
        return f"250 2.0.0 OK queued as S{mail_id} ({len(recipients)} deliveries)"

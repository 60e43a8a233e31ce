"""Ingest: SMTP submission of transactional mail (RFC 6409 style) on the ingest port.

An application authenticates with AUTH PLAIN or LOGIN, only after STARTTLS: the user name is
its API user's name (or the key's first 12 characters), the password its API key. Once
authenticated it may send to any domain; each recipient becomes one delivery of the mail
worker, committed before ``250``. Applications that cannot authenticate (an ERP, a
multifunction printer) may instead be let in by their address: a client whose IP lies in an
API user's ``networks`` (``todoke accounts networks``) submits as that user without AUTH, as
Postfix's mynetworks; the most specific network wins, and the table is re-read every
NETWORKS_SECONDS (every MISS_SECONDS while an address is not found). A Message-ID and a
Date are added when the mail lacks them, as a submission server may (RFC 6409, 8.2, 8.3). An
account with ``mail.sender_domains`` gets ``550 5.7.1`` for an envelope sender or From outside
them (mail/senders.py).
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from todoke import log
from todoke.accounts import find_api_user
from todoke.ingest.faxmail import decode_text
from todoke.ingest.writer import GroupCommitter
from todoke.mail import senders
from todoke.mail.submit import Submitted, Submitter, queue_mails
from todoke.store.db import Store
from todoke.store.models import ApiUser, ServerConfig

NETWORKS_SECONDS = 5.0  # the table is re-read this often
MISS_SECONDS = 1.0  # and at most this often when an address is not in it
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``"10.0.0.0/8, 192.0.2.7"`` → networks; ValueError naming the bad entry."""
    networks = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"not a network address: {part!r} (e.g. 192.0.2.0/24)") from exc
    return networks


class Submission:
    """AUTH for API users, and the intake of what they submit (through group commit)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committer: GroupCommitter[Submitted, int] = GroupCommitter(
            store, queue_mails, "submission-writer")

        self.sender_domains = senders.SenderDomains()
        self._networks: list[tuple[Network, Submitter]] = []
        self._networks_read = -NETWORKS_SECONDS
        self._lock = threading.Lock()

    def close(self) -> None:
        self.committer.close()

    def trusted(self, peer: str) -> Submitter | None:
        """The API user a client at ``peer`` submits as without AUTH, if any."""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        self._refresh(NETWORKS_SECONDS)
        found = self._match(address)
        if found is None and self._refresh(MISS_SECONDS):  # a network added a moment ago
            found = self._match(address)
        return found

    def _match(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Submitter | None:
        for network, submitter in self._networks:  # most specific first
            if address.version == network.version and address in network:
                return submitter
        return None

    def _refresh(self, older_than: float) -> bool:
        now = time.monotonic()
        if now - self._networks_read < older_than:
            return False
        with self._lock:
            if now - self._networks_read >= older_than:
                self._networks = self._read_networks()
                self._networks_read = now
        return True

    def _read_networks(self) -> list[tuple[Network, Submitter]]:
        with self.store.read() as db:
            rows = db.execute(
                select(ApiUser.id, ApiUser.networks, ApiUser.server_config_id,
                       ServerConfig.organisation_id)
                .join(ServerConfig, ServerConfig.id == ApiUser.server_config_id)
                .where(ApiUser.networks != "", ApiUser.disabled.is_(False))).all()
        table = []
        for row in rows:
            try:
                networks = parse_networks(row.networks)
            except ValueError:
                log.warning("submission.bad_networks", api_user=row.id)
                continue
            submitter = Submitter(row.organisation_id, row.server_config_id, row.id)
            table.extend((network, submitter) for network in networks)
        table.sort(key=lambda entry: -entry[0].prefixlen)
        return table


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
        domains = self.sender_domains.of(self.store, submitter.organisation_id)
        if domains:
            from_header = next((a for _, a in getaddresses(headers.get_all("From", []))), "")
            refused = senders.first_refused(domains, mail_from, from_header)
            if refused is not None or not (mail_from or from_header):
                _, en = senders.refusal(refused or "", domains)
                log.warning("submission.sender_refused", organisation=submitter.organisation_id,
                            sender=(refused or "")[:320])
                return f"550 5.7.1 {en[0].upper()}{en[1:]}"
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

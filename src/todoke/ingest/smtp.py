"""Ingest: the SMTP server (aiosmtpd) that turns fax mail into committed jobs.

SUMMARY   mail to ``<number>@TODOKE_FAX_DOMAIN`` (To, Cc or Bcc; at most 500) becomes one fax
          job per number; ``250`` is answered only after the mail and its jobs are committed.
SECURITY  mail for any other domain is refused (no relaying); a sender who is not authorised
          gets ``250`` and nothing happens (no backscatter), only the audit log records it.
          STARTTLS is offered (ingest/tls.py); AUTH (API users, ingest/submission.py) only
          after it, and an authenticated session may submit mail for any domain; so may a
          client inside an API user's trusted networks, without AUTH.
LIMITS    SIZE (TODOKE_MAX_MESSAGE_SIZE, 552 past it), 500 recipients (452 4.5.3),
          lines of 1,000 octets (RFC 5321 4.5.3.1.6), 5 minutes of silence ends a session.
STANDARDS RFC 5321 (replies 250 / 452 4.5.3 / 550 5.7.1), RFC 3207 (STARTTLS),
          RFC 1870 (SIZE), RFC 3463 (enhanced codes).
SETTINGS  TODOKE_SMTP_LISTEN, TODOKE_FAX_DOMAIN, TODOKE_MAX_MESSAGE_SIZE, TODOKE_HOSTNAME,
          TODOKE_TLS_CERT, TODOKE_TLS_KEY.
"""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from todoke import log
from todoke.config import Settings
from todoke.ingest.faxmail import FaxMailIntake
from todoke.ingest.submission import Submission
from todoke.ingest.tls import server_context
from todoke.mail.bounces import BounceMailbox  # bounce mailbox (issue 5)
from todoke.store.db import Store

MAX_RECIPIENTS = 500


class FaxIngestHandler:
    """aiosmtpd hooks: address policy at RCPT, content checks and commit at DATA."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.intake = FaxMailIntake(settings, store)
        self.bounces = BounceMailbox(settings, store)  # bounce mailbox (issue 5)
        self.submission = Submission(store)

    def close(self) -> None:
        """Finish the writes under way (group committers)."""
        self.intake.close()
        self.submission.close()

    def _submitter(self, session: Session) -> Any:
        """Who submits in this session: the AUTH user, else a trusted network's user."""
        if session.authenticated:
            return session.auth_data
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        return self.submission.trusted(peer)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        local_domains = (self.settings.fax_domain, self.settings.bounce_domain)
        submitter = self._submitter(session)
        if submitter is not None and domain not in local_domains:
            # submission: an authenticated API user may send anywhere, but not mixed with faxes
            if any(a.rpartition("@")[2].lower() in local_domains for a in envelope.rcpt_tos):
                return "452 4.5.3 Send fax mail and other mail in separate transactions"
            if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
                return f"452 4.5.3 Too many recipients (at most {MAX_RECIPIENTS} per mail)"
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if submitter is not None and envelope.rcpt_tos and not any(
                a.rpartition("@")[2].lower() in local_domains for a in envelope.rcpt_tos):
            return "452 4.5.3 Send fax mail and other mail in separate transactions"
        # bounce mailbox (issue 5): bounces to the VERP return paths, never mixed with faxes
        bounce = self.settings.bounce_domain
        if envelope.rcpt_tos and ((domain == bounce)
                                  != _all_at(envelope.rcpt_tos, bounce)):
            return "452 4.5.3 Send bounces and fax mail in separate transactions"
        if domain == bounce:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if domain != self.settings.fax_domain:
            return (f"550 5.7.1 Relaying denied: only <number>@{self.settings.fax_domain}"
                    " is accepted without AUTH")
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients (at most {MAX_RECIPIENTS} per mail)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        if _all_at(envelope.rcpt_tos, self.settings.bounce_domain):  # bounce mailbox (issue 5)
            return await self.bounces.accept_bounce(raw, list(envelope.rcpt_tos))
        fax = self.settings.fax_domain
        submitter = self._submitter(session)
        if submitter is not None and not any(
                a.rpartition("@")[2].lower() == fax for a in envelope.rcpt_tos):
            try:
                return await self.submission.accept(submitter, envelope.mail_from or "",
                                                    list(envelope.rcpt_tos), raw)
            except Exception:
                log.error("submission.error", exc_info=True, peer=peer)
                return "451 4.3.0 Temporary failure, the mail was not accepted; try again later"
        try:
            return await self.intake.accept(envelope.mail_from or "", list(envelope.rcpt_tos),
                                            raw, peer)
        except Exception:
            log.error("ingest.error", exc_info=True, peer=peer)
            return "451 4.3.0 Temporary failure, the mail was not accepted; try again later"


def _all_at(addresses: list[str], domain: str) -> bool:
    """True when every address is at ``domain`` (bounce mailbox, issue 5)."""
    return bool(addresses) and all(a.rpartition("@")[2].lower() == domain for a in addresses)


def make_smtp_factory(settings: Settings, store: Store) -> tuple[Any, FaxIngestHandler]:
    """A protocol factory for ``loop.create_server``, and its handler (close it at the end)."""
    handler = FaxIngestHandler(settings, store)
    tls = server_context(settings)

    def factory() -> SMTP:
        return SMTP(
            handler,
            hostname=settings.hostname,
            ident="todoke ESMTP",
            data_size_limit=settings.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            timeout=300,
            tls_context=tls,
            authenticator=handler.submission.authenticate,
            auth_required=False,
            auth_require_tls=True,
        )

    return factory, handler

"""Mail intake: the sender domains an account may use (``mail.sender_domains``).

Stage: a check made by ``POST /v1/mail/send`` and by SMTP submission before anything is
queued. An empty list (the default) lets any sender through. Otherwise the From header's
address and the envelope sender (when there is one) must be at a listed domain or below one
(``shop.example.jp`` under ``example.jp``), as Postal refuses a From it has not authenticated
and hosted services an unverified sender: a mail from anywhere else would fail the
recipients' SPF/DKIM/DMARC checks and spend the account's reputation. A refusal names the
domain and what is allowed: ``422`` from the API, ``550 5.7.1`` from SMTP (RFC 3463,
"delivery not authorized").
"""

from __future__ import annotations

import re
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke.store.db import Store
from todoke.store.models import Organisation

READ_SECONDS = 5.0  # SMTP submission re-reads the accounts' lists this often
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")


def parse_domains(text: str) -> str:
    """``"Example.jp, shop.example.com"`` → ``"example.jp,shop.example.com"``; ValueError
    naming an entry that is not a domain. Empty text clears the list."""
    domains: list[str] = []
    for part in text.replace(" ", ",").split(","):
        domain = part.strip().lower().rstrip(".").removeprefix("@")
        if not domain:
            continue
        if not _DOMAIN.match(domain):
            raise ValueError(f"not a domain: {part.strip()!r} (e.g. example.jp)")
        if domain not in domains:
            domains.append(domain)
    return ",".join(domains)


def domains_of(text: str) -> list[str]:
    return [d for d in text.split(",") if d]


def allowed(domains: list[str], address: str) -> bool:
    """Whether ``address`` may send for an account whose list is ``domains``."""
    if not domains:
        return True
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def refusal(address: str, domains: list[str]) -> tuple[str, str]:
    """(Japanese, English) reason for refusing ``address``."""
    domain = address.rpartition("@")[2] or address or "(none)"
    listed = ", ".join(domains)
    return (f"送信元ドメイン {domain} はこのアカウントでは使えません(使えるドメイン: {listed})",
            f"sender domain {domain} is not allowed for this account (allowed: {listed})")


def first_refused(domains: list[str], *addresses: str) -> str | None:
    """The first of ``addresses`` (empty ones skipped) the list does not allow, if any."""
    for address in addresses:
        if address and not allowed(domains, address):
            return address
    return None


def of_organisation(session: Session, organisation_id: int) -> list[str]:
    return domains_of(session.scalar(select(Organisation.mail_sender_domains).where(
        Organisation.id == organisation_id)) or "")


class SenderDomains:
    """Every account's list, read at most every READ_SECONDS (SMTP submission asks per mail)."""

    def __init__(self) -> None:
        self._lists: dict[int, list[str]] = {}
        self._read = -READ_SECONDS
        self._lock = threading.Lock()

    def of(self, store: Store, organisation_id: int) -> list[str]:
        now = time.monotonic()
        if now - self._read >= READ_SECONDS:
            with self._lock:
                if now - self._read >= READ_SECONDS:
                    with store.read() as session:
                        rows = session.execute(select(
                            Organisation.id, Organisation.mail_sender_domains).where(
                            Organisation.mail_sender_domains != "")).all()
                    self._lists = {row.id: domains_of(row.mail_sender_domains) for row in rows}
                    self._read = now
        return self._lists.get(organisation_id, [])

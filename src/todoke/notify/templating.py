"""Notify stage: the Jinja2 environment and the header helpers shared by notify's builders.

Owns how notification templates are loaded (``templates/`` next to this file, autoescape for
``*.html.j2`` only, undefined variables are errors) and the standard headers every mail of
this stage carries (Date, Message-ID at the sender's domain, Auto-Submitted).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _oneline(value: object) -> str:
    """Fold CR/LF and tabs into spaces so a value cannot break the one-field-per-line layout."""
    return " ".join(str(value).split())


_env.filters["oneline"] = _oneline


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` from ``templates/``."""
    return _env.get_template(name).render(**context)


def domain_of(address: str) -> str:
    """Return the domain of ``address`` (``MAILER-DAEMON@fax.example`` → ``fax.example``)."""
    _, at, domain = address.rpartition("@")
    domain = domain.strip().rstrip(">").strip()
    if not at or not domain:
        raise ValueError(f"address without a domain: {address!r}")
    return domain


def set_standard_headers(
    msg: EmailMessage,
    *,
    from_addr: str,
    to_addr: str,
    subject: str,
    auto_submitted: str,
    now: datetime | None,
    message_id: str | None,
) -> None:
    """Set From, To, Subject, Date, Message-ID and Auto-Submitted (RFC 3834) on ``msg``."""
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id or make_msgid(domain=domain_of(from_addr))
    msg["Auto-Submitted"] = auto_submitted
    # Ask Exchange/Outlook not to answer with out-of-office or read receipts.
    msg["X-Auto-Response-Suppress"] = "All"

"""Ingest: the SMTP server (aiosmtpd) and fax-mail parsing; nothing is acknowledged before commit.

Standards: RFC 5321 (SMTP), RFC 5322 (message format). Settings: TODOKE_SMTP_LISTEN,
TODOKE_FAX_DOMAIN, TODOKE_MAX_MESSAGE_SIZE, TODOKE_REJECT_MODE."""

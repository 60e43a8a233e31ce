"""Notify: notification mails and DSNs, rendered per language (Japanese first, English).

Owns every mail todoke writes to a sender about their own mail:

- the fax result notification (``build_fax_notification``): subject
  ``FAX送信が成功しました -> <number>`` / ``FAX送信が失敗しました -> <number>`` (English:
  ``Fax sent successfully -> <number>`` / ``Fax transmission failed -> <number>``), a body
  with one ``label: value`` line per field and the line ``送信結果: <code>`` followed by the
  code's meaning and remedy from ``todoke.fax.codes``; text, or text + HTML;
- the refusal DSN (``build_refusal_dsn``) for a mail the gateway accepted but cannot fax,
  whose human-readable part ends with the exact message (``*** No recipients found ***``).

Bodies come from Jinja2 templates in ``templates/`` (HTML autoescaped). This stage builds
``EmailMessage`` objects only; choosing whether to notify (always / success / failure /
never), the envelope sender (empty for DSNs) and sending belong to the caller.

Standards: RFC 5322 (Date, Message-ID), RFC 2045–2047 (UTF-8 bodies in base64, encoded
words in Subject), RFC 3834 (Auto-Submitted), RFC 3462/6522 (multipart/report),
RFC 3464 (message/delivery-status), RFC 3463 (enhanced status codes).

Settings read: none; from/to addresses, language and time zone are passed in by the caller.
"""

from todoke.notify.dsn import REFUSAL_STATUS, build_refusal_dsn
from todoke.notify.fax_result import FaxOutcome, build_fax_notification

__all__ = ["REFUSAL_STATUS", "FaxOutcome", "build_fax_notification", "build_refusal_dsn"]

"""Notify: notification mails and DSNs, rendered per language (Japanese first, English)."""

"""Webhooks (issue 6): per server configuration, ``deliveries``, ``bounces`` and ``blocks``
events posted in signed batches and retried with backoff.

Stage: log / notify. The producers queue events in their own transaction (``produce`` →
``events.emit``, rows in ``webhook_events``); the dispatcher in every worker process claims a
webhook at a time (``outbox``, FOR UPDATE SKIP LOCKED with a claim token and lease) and posts
its batches with httpx (``dispatch``), signed with HMAC-SHA256 (``sign``); ``manage`` creates,
lists, changes and deletes webhooks for the API and the console.

Standards: HTTP/1.1 POST of UTF-8 JSON (RFC 8259); HMAC (RFC 2104) with SHA-256.
Settings read: TODOKE_MINUTE_SECONDS (scales the retry backoff and the 24-hour give-up).
"""

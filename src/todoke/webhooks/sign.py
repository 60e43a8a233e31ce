"""Webhooks, signatures (stage: log / notify): how a post is signed, and how a receiver checks it.

Every post carries two headers:

    X-Todoke-Timestamp: 1795430400
    X-Todoke-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

The key is the webhook's secret (``whsec_…``, shown once when the webhook is created) as UTF-8
bytes. The timestamp (Unix seconds) is part of the signed string, so a captured post cannot be
replayed later with a fresh timestamp; a receiver rejects timestamps further than a few minutes
from its own clock. Compute the HMAC over the body exactly as received, before parsing JSON.

A receiver in Python::

    from todoke.webhooks.sign import verify
    ok = verify(secret, request.headers["X-Todoke-Timestamp"], raw_body,
                request.headers["X-Todoke-Signature"])

and in any other language: ``hmac_sha256(secret, timestamp + "." + body)`` in hex, compared
in constant time with what follows ``sha256=``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Todoke-Signature"
TIMESTAMP_HEADER = "X-Todoke-Timestamp"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str | int, body: bytes) -> str:
    """The header value for ``body`` posted at ``timestamp``: ``sha256=<hex>``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two signature headers of a post made now."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str | None, body: bytes, header: str | None,
           tolerance: float = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """True if ``header`` signs ``body`` at ``timestamp`` with ``secret``, and the timestamp is
    within ``tolerance`` seconds of ``now`` (replay protection; 0 or less turns it off)."""
    if not timestamp or not header or not timestamp.strip().isdigit():
        return False
    if tolerance > 0:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance:
            return False
    expected = signature(secret, timestamp.strip(), body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))

"""Webhook signatures: the header a receiver checks, with replay protection."""

from __future__ import annotations

import hashlib
import hmac

from todoke.webhooks.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, headers, signature, verify

SECRET = "whsec_test-secret"
BODY = '{"event":"bounces","events":[{"to":"太郎@example.jp"}]}'.encode()
NOW = 1_795_430_400


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, NOW, BODY) == f"sha256={expected}"
    made = headers(SECRET, BODY, now=NOW)
    assert made == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"sha256={expected}"}


def test_verify_accepts_the_right_secret_only():
    made = headers(SECRET, BODY, now=NOW)
    ts, sig = made[TIMESTAMP_HEADER], made[SIGNATURE_HEADER]
    assert verify(SECRET, ts, BODY, sig, now=NOW)
    assert not verify("whsec_other", ts, BODY, sig, now=NOW)
    assert not verify(SECRET, ts, BODY + b" ", sig, now=NOW)  # body changed
    assert not verify(SECRET, str(NOW + 1), BODY, sig, now=NOW)  # timestamp changed
    assert not verify(SECRET, ts, BODY, sig.replace("sha256=", "sha1="), now=NOW)
    assert not verify(SECRET, None, BODY, sig, now=NOW)
    assert not verify(SECRET, ts, BODY, None, now=NOW)
    assert not verify(SECRET, "soon", BODY, sig, now=NOW)


def test_verify_refuses_old_timestamps_unless_told_not_to():
    made = headers(SECRET, BODY, now=NOW)
    ts, sig = made[TIMESTAMP_HEADER], made[SIGNATURE_HEADER]
    assert verify(SECRET, ts, BODY, sig, now=NOW + 299)
    assert not verify(SECRET, ts, BODY, sig, now=NOW + 301)  # a replay ten minutes later
    assert not verify(SECRET, ts, BODY, sig, now=NOW - 301)
    assert verify(SECRET, ts, BODY, sig, now=NOW + 86400, tolerance=0)

"""Retry policy, destinations (MX, Null MX, NXDOMAIN) and the judgement of single replies."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import dns.resolver
import pytest

from todoke.config import Settings
from todoke.mail.delivery import mx, outcome, policy
from todoke.mail.delivery.client import Reply

SETTINGS = Settings.from_env({"TODOKE_MINUTE_SECONDS": "60"})
T0 = datetime(2026, 11, 23, 12, 0, 0)


@pytest.mark.parametrize(("text", "minutes"), [
    ("451 4.7.1 Greylisted, please try again in 5 minutes", 5.0),
    ("421 4.7.0 Too many connections, try again after 90 seconds", 1.5),
    ("450 4.2.0 Mailbox busy: retry in 2 hours", 120.0),
    ("451 4.3.0 Temporary failure", None),
    ("452 4.2.2 try again later", None),
])
def test_hinted_minutes(text: str, minutes: float | None) -> None:
    assert policy.hinted_minutes(text) == minutes


def test_retry_schedule_is_postal_shaped_and_capped() -> None:
    waits = [policy.retry_minutes(n) for n in range(1, 30)]
    assert waits[0] == 5.0 and waits[1] == pytest.approx(6.5) and waits[2] == pytest.approx(8.45)
    assert waits == sorted(waits) and max(waits) == policy.CAP_MINUTES
    assert policy.retry_minutes(3, "try again in 10 seconds") == 1.0  # never under a minute
    assert policy.retry_minutes(1, "try again in 30 minutes") == 30.0


def test_waits_scale_with_minute_seconds() -> None:
    fast = Settings.from_env({"TODOKE_MINUTE_SECONDS": "0.5"})
    assert policy.next_attempt(fast, T0, 1) == T0 + timedelta(seconds=2.5)
    assert not policy.expired(fast, T0, T0 + timedelta(seconds=3599))
    assert policy.expired(fast, T0, T0 + timedelta(seconds=3600))  # 5 days × 0.5 s a minute


@pytest.mark.parametrize(("code", "text", "command", "status", "reason", "error_status", "hard"), [
    (250, "2.0.0 Ok: queued as 1234", "DATA", "delivered", "delivered", None, False),
    (550, "5.1.1 <a@example.net>: User unknown", "RCPT", "failed", "userunknown", 2, True),
    (552, "5.3.4 Message size exceeds fixed maximum", "DATA", "failed", "mesgtoobig", 8, False),
    (452, "4.2.2 Mailbox full", "RCPT", "deferred", "mailboxfull", 5, False),
    (554, "5.7.1 Service unavailable; client host blocked", "RCPT", "failed", "blocked", 4,
     False),
    (0, "connect to mx.example.net[25]: Connection refused", "CONN", "deferred", None, None,
     False),
])
def test_judge_replies(code: int, text: str, command: str, status: str, reason: str | None,
                       error_status: int | None, hard: bool) -> None:
    reply = Reply(code, text, command, "mx.example.net", "192.0.2.1")
    result = outcome.from_reply(SETTINGS, reply, 1, T0, now=T0)
    assert result.status == status and result.hard is hard
    if reason is not None:
        assert (result.reason, result.error_status) == (reason, error_status)
    assert result.text.startswith(str(code) if code else "connect")
    assert (result.remote_mta, result.source_ip) == ("mx.example.net", "192.0.2.1")
    if status == "deferred":
        assert result.next_attempt_at == T0 + timedelta(minutes=5)


def test_temporary_failures_expire_after_five_days() -> None:
    reply = Reply(451, "4.3.0 try again later", "RCPT", "mx.example.net")
    late = T0 + timedelta(days=5)
    result = outcome.from_reply(SETTINGS, reply, 40, T0, now=late)
    assert (result.status, result.reason, result.error_status) == ("failed", "expired", 3)
    still = outcome.from_reply(SETTINGS, reply, 40, T0, now=late - timedelta(minutes=1))
    assert still.status == "deferred"


class FakeResolver:
    """dns.asyncresolver.resolve answering from a table: name → rdtype → answer or error."""

    def __init__(self, table: dict[tuple[str, str], Any]) -> None:
        self.table = table

    async def __call__(self, name: str, rdtype: str) -> Any:
        answer = self.table.get((name, rdtype), dns.resolver.NoAnswer())
        if isinstance(answer, Exception):
            raise answer
        return answer


def _mx(*pairs: tuple[int, str]) -> list[Any]:
    return [SimpleNamespace(preference=p, exchange=e) for p, e in pairs]


def _resolve(monkeypatch: pytest.MonkeyPatch, table: dict[tuple[str, str], Any],
             domain: str) -> list[tuple[str, int]]:
    monkeypatch.setattr(mx.dns.asyncresolver, "resolve", FakeResolver(table))
    return asyncio.run(mx.mail_exchangers(domain))


def test_mx_by_preference(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {("example.net", "MX"): _mx((20, "mx2.example.net."), (10, "mx1.example.net."))}
    assert _resolve(monkeypatch, table, "example.net") == [
        ("mx1.example.net", 25), ("mx2.example.net", 25)]


def test_no_mx_falls_back_to_address(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {("example.net", "AAAA"): ["2001:db8::1"]}
    assert _resolve(monkeypatch, table, "example.net") == [("example.net", 25)]


@pytest.mark.parametrize(("table", "reason", "status", "error_status", "final"), [
    ({("example.net", "MX"): _mx((0, "."))}, "notaccept", "5.1.10", 7, True),
    ({("example.net", "MX"): dns.resolver.NXDOMAIN()}, "hostunknown", "5.1.2", 1, True),
    ({}, "hostunknown", "5.1.2", 1, True),  # neither MX nor A/AAAA
    ({("example.net", "MX"): dns.resolver.LifetimeTimeout()}, "networkerror", "4.4.3", 3,
     False),
])
def test_domains_without_destination(monkeypatch: pytest.MonkeyPatch, table: dict[Any, Any],
                                     reason: str, status: str, error_status: int,
                                     final: bool) -> None:
    with pytest.raises(mx.DestinationError) as caught:
        _resolve(monkeypatch, table, "example.net")
    error = caught.value
    assert (error.reason, error.status, error.error_status, error.final) == (
        reason, status, error_status, final)
    result = outcome.from_destination(SETTINGS, error, 1, T0, now=T0)
    assert result.status == ("failed" if final else "deferred")
    assert result.hard is final

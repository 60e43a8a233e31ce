"""The sender-domain rule (mail/senders.py) on its own."""

from __future__ import annotations

import pytest

from todoke.mail import senders


def test_parse_domains() -> None:
    assert senders.parse_domains(" Example.JP, @shop.example.com. example.jp") == (
        "example.jp,shop.example.com")
    assert senders.parse_domains("") == ""
    for bad in ("localhost", "exa mple.jp,-x.jp", "a_b.example"):
        with pytest.raises(ValueError):
            senders.parse_domains(bad)


def test_allowed_is_the_domain_or_below() -> None:
    domains = ["example.jp"]
    assert senders.allowed(domains, "a@example.jp")
    assert senders.allowed(domains, "a@Mail.Example.JP")
    assert not senders.allowed(domains, "a@notexample.jp")  # not a mere suffix
    assert not senders.allowed(domains, "a@example.jp.evil.example")
    assert senders.allowed([], "anyone@anywhere.example")  # no list: any sender
    assert senders.first_refused(domains, "", "b@example.jp", "c@x.example") == "c@x.example"

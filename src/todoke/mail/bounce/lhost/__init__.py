"""Bounce stage, local-host parsers: one module per MTA or service that writes bounce mails.

Each module registers a parser with `@parser(name, match)`: `match(mail)` is a cheap test on
the headers (Subject, From, X-Mailer, ...), `parse(mail)` returns the findings or None.
`ORDER` (data, not code) is the order parsers are tried; a test checks it names every module.
The generic RFC 3464 reader and the generic text reader run after all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..mailview import MailView
from ..record import Finding

Parse = Callable[[MailView], list[Finding] | None]
Match = Callable[[MailView], bool]


class Parser:
    """A registered MTA parser: its name, the cheap header test, and the parse function."""

    __slots__ = ("match", "name", "parse")

    def __init__(self, name: str, match: Match, parse: Parse) -> None:
        self.name, self.match, self.parse = name, match, parse


REGISTRY: dict[str, Parser] = {}

#: Order in which MTA parsers are tried: services with their own layout first, then the
#: classic MTAs. Bounces of other writers (Courier, Domino, Office 365, Yahoo, ...) are
#: standard DSNs or plain texts that the generic RFC 3464 and text readers handle.
ORDER: tuple[str, ...] = (
    "googlegroups", "amazonses", "gmail", "exchange2007", "exchange2003", "mcafee", "mxlogic",
    "activehunter", "mailfoundry", "fml", "verizon", "ezweb", "opensmtpd", "dragonfly", "qmail",
    "exim", "v5sendmail", "sendmail", "postfix",
)


def parser(name: str, match: Match) -> Callable[[Parse], Parse]:
    """Register `parse` under `name`, tried when `match(mail)` is true."""

    def deco(fn: Parse) -> Parse:
        REGISTRY[name] = Parser(name, match, fn)
        return fn

    return deco


_loaded = False


def load_all() -> list[Parser]:
    """Import the parser modules and return them in ORDER."""
    global _loaded
    if not _loaded:
        for name in ORDER:
            try:
                importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
        _loaded = True
    return [REGISTRY[n] for n in ORDER if n in REGISTRY]

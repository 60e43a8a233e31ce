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

#: Order in which MTA parsers are tried: specific layouts first, the wide DSN writers last.
ORDER: tuple[str, ...] = (
    "arfmail", "googlegroups", "amazonses", "amazonworkmail", "receivingses", "sendgrid",
    "gmail", "yahoo", "aol", "outlook", "exchange2003", "exchange2007", "office365", "domino",
    "notes", "mailru", "yandex", "gmx", "einsundeins", "zoho", "mcafee", "mxlogic",
    "messagelabs", "surfcontrol", "activehunter", "imailserver", "mailfoundry", "mfilter",
    "biglobe", "ezweb", "kddi", "fml", "courier", "messagingserver", "opensmtpd", "dragonfly",
    "qmail", "exim", "v5sendmail", "sendmail", "postfix", "x1", "x2", "x3", "verizon",
    "powermta", "amavis",
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

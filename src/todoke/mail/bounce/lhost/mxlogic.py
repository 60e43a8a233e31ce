"""Bounce stage, lhost parser for McAfee MXLogic (hosted filter; Exim-style bounce texts from
MAILER-DAEMON@...mxlogic.net). A filtering gateway: see `_gateway.py`."""

from __future__ import annotations

from ..mailview import MailView
from . import parser
from ._gateway import parse_as_gateway


def match(mail: MailView) -> bool:
    return "mxlogic.net" in mail.sender.lower()


parser("mxlogic", match)(parse_as_gateway)

"""Bounce stage, lhost parser for TransWARE Active!hunter (a filtering gateway marked by the
X-AHMAILID header; sendmail-like "FAILURE NOTICE" texts). See `_gateway.py`."""

from __future__ import annotations

from ..mailview import MailView
from . import parser
from ._gateway import parse_as_gateway


def match(mail: MailView) -> bool:
    return mail.msg.get("X-AHMAILID") is not None


parser("activehunter", match)(parse_as_gateway)

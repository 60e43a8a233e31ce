"""Bounce stage, lhost parser for MailFoundry (a filtering gateway: "Message delivery has
failed", "Delivery failed for the following reason: Server ... failed with: ..."). See
`_gateway.py`."""

from __future__ import annotations

import re

from ..mailview import MailView
from . import parser
from ._gateway import parse_as_gateway

_TEXT = re.compile(r"delivery failed for the following reason:\s+server \S+ failed with:", re.I)


def match(mail: MailView) -> bool:
    return mail.subject.lower() == "message delivery has failed" and bool(_TEXT.search(mail.text))


parser("mailfoundry", match)(parse_as_gateway)

"""Ingest: fax numbers as written in addresses, normalised with ``phonenumbers``.

Every character but digits (and a leading ``+``) is ignored, so ``03-4477-2288`` is
``0344772288``. Domestic numbers are read in the default region (JP); ``00`` + country and
``+`` + country are international. Test numbers ``009999999<code>`` pass as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

TEST_PREFIX = "009999999"
_NOT_DIGIT = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class FaxNumber:
    dialled: str  # digits as the sender wrote them (with "+" if given): shown in history
    e164: str  # "+81344772288"; the test number itself for test numbers

    @property
    def is_test(self) -> bool:
        return self.dialled.startswith(TEST_PREFIX)

    @property
    def test_code(self) -> str | None:
        return self.dialled[len(TEST_PREFIX) :] if self.is_test else None


def parse_fax_number(text: str, region: str = "JP") -> FaxNumber | None:
    """The fax number in an address's local part, or None if it is not a usable number."""
    text = text.strip()
    plus = text.startswith("+")
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return None
    if not plus and digits.startswith(TEST_PREFIX) and len(digits) > len(TEST_PREFIX):
        return FaxNumber(digits, digits)
    if plus:
        candidate = "+" + digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    else:
        candidate = digits
    try:
        parsed = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > 16:  # E.164: at most 15 digits
        return None
    return FaxNumber(("+" if plus else "") + digits, e164)

"""Fax numbers as written in addresses."""

import pytest

from todoke.ingest.numbers import parse_fax_number


@pytest.mark.parametrize(
    ("written", "dialled", "e164"),
    [
        ("0344772288", "0344772288", "+81344772288"),
        ("03-4477-2288", "0344772288", "+81344772288"),
        ("(03)4477.2288", "0344772288", "+81344772288"),
        ("+81344772288", "+81344772288", "+81344772288"),
        ("0081344772288", "0081344772288", "+81344772288"),
        ("0012139999999", "0012139999999", "+12139999999"),
        ("+12139999999", "+12139999999", "+12139999999"),
        ("0120-123-456", "0120123456", "+81120123456"),
        ("0099999996017", "0099999996017", "0099999996017"),
        ("00999-9999-8021", "0099999998021", "0099999998021"),
    ],
)
def test_numbers_are_normalised(written, dialled, e164):
    number = parse_fax_number(written)
    assert number is not None
    assert (number.dialled, number.e164) == (dialled, e164)


def test_test_numbers_carry_their_code():
    number = parse_fax_number("0099999996017")
    assert number is not None and number.is_test and number.test_code == "6017"
    assert not parse_fax_number("0344772288").is_test  # type: ignore[union-attr]


@pytest.mark.parametrize("written", ["", "fax", "12", "+", "0000", "03-4477-2288-9999-9999"])
def test_impossible_numbers_are_refused(written):
    assert parse_fax_number(written) is None

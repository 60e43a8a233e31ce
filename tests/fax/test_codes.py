"""Tests for the fax result-code catalogue: every SPEC-FAX code, its retry flag and state."""

from __future__ import annotations

import pytest

from todoke.fax import codes
from todoke.fax.codes import CATALOGUE, is_pending, is_retryable, is_success, lookup

# (code, label_ja, retried, state) — the main table of SPEC-FAX.md, column by column.
MAIN_TABLE = [
    ("0", "送信完了", False, "success"),
    ("3912", "FAX番号が使用不可です", False, "failure"),
    ("3224", "通信エラー", True, "failure"),
    ("3938", "FAX番号が使用不可です", False, "failure"),
    ("6001", "FAX番号が使用不可です", False, "failure"),
    ("6017", "話中", True, "failure"),
    ("6031", "その他のエラー", True, "failure"),
    ("8010", "その他のエラー", True, "failure"),
    ("8021", "無応答", True, "failure"),
    ("204000", "解析エラー", False, "failure"),
    ("204001", "解析エラー", False, "failure"),
    ("205000", "与信限度額を超えました", False, "failure"),
    ("207000", "その他のエラー", False, "failure"),
]

# (code, label_en, retried, state) — the "more codes" list and the in-progress states.
MORE_CODES = [
    *[(c, "Busy", True, "failure") for c in ("263", "3931", "3933", "3937", "8025")],
    *[(c, "No answer", True, "failure") for c in ("3935", "6018")],
    ("3936", "Number not usable", False, "failure"),
    *[(c, "Number not usable", False, "failure") for c in ("3932", "6027", "6028")],
    ("6002", "Number not usable", False, "failure"),
    *[(c, "Call rejected", False, "failure") for c in ("6021", "6029")],
    ("6022", "Number changed", False, "failure"),
    *[(c, "Communication error", True, "failure") for c in ("3223", "3230", "3268")],
    ("7200", "Other error", True, "failure"),
    ("256", "Internal error", True, "failure"),
    ("403", "Cancelled", False, "failure"),
    *[(c, "Internal error", False, "failure") for c in ("205001", "206001")],
    *[(c, "In progress", False, "pending") for c in ("-1", "-2", "-3")],
    ("-22", "Awaiting credit", False, "pending"),
]

OWN_ENTRIES_IN_RANGES = {"3223", "3224", "3230", "3268"}


@pytest.mark.parametrize(("code", "label_ja", "retry", "state"), MAIN_TABLE)
def test_main_table(code: str, label_ja: str, retry: bool, state: str) -> None:
    entry = CATALOGUE[code]
    assert (entry.code, entry.label_ja, entry.retry, entry.state) == (code, label_ja, retry, state)
    assert is_retryable(code) is retry
    assert is_success(code) is (state == "success")


@pytest.mark.parametrize(("code", "label_en", "retry", "state"), MORE_CODES)
def test_more_codes(code: str, label_en: str, retry: bool, state: str) -> None:
    entry = CATALOGUE[code]
    assert (entry.code, entry.label_en, entry.retry, entry.state) == (code, label_en, retry, state)
    assert is_pending(code) is (state == "pending")


@pytest.mark.parametrize(("low", "high"), codes.INCOMPATIBLE_RANGES)
def test_incompatible_ranges_are_complete(low: int, high: int) -> None:
    for number in range(low, high + 1):
        entry = lookup(number)
        assert entry.code == str(number)
        assert entry.state == "failure"
        assert entry.retry is True
        if entry.code in OWN_ENTRIES_IN_RANGES:
            assert entry.label_en != "Incompatible machine"
        else:
            assert entry.label_en == "Incompatible machine"
            assert entry.label_ja == "非対応のFAX機"


def test_ranges_do_not_leak() -> None:
    for number in (3210, 3270, 6087, 6101):
        assert str(number) not in CATALOGUE


def test_catalogue_size() -> None:
    listed = {row[0] for row in MAIN_TABLE} | {row[0] for row in MORE_CODES}
    ranged = {str(n) for low, high in codes.INCOMPATIBLE_RANGES for n in range(low, high + 1)}
    assert set(CATALOGUE) == listed | ranged


@pytest.mark.parametrize("entry", list(CATALOGUE.values()), ids=lambda e: e.code)
def test_every_entry_is_complete(entry: codes.ResultCode) -> None:
    texts = [entry.label_ja, entry.label_en, entry.meaning_ja, entry.meaning_en,
             entry.remedy_ja, entry.remedy_en]
    assert all(text.strip() for text in texts)
    assert entry.state in {"success", "failure", "pending"}
    assert not (entry.retry and entry.state != "failure")
    assert lookup(entry.code) is entry


@pytest.mark.parametrize("code", ["99999", "1", "xyz", "", "-99"])
def test_unknown_code_is_generic_and_not_retried(code: str) -> None:
    entry = lookup(code)
    assert entry.code == code
    assert entry.label_ja == "その他のエラー"
    assert entry.label_en == "Other error"
    assert entry.retry is False
    assert entry.state == "failure"
    assert not is_retryable(code) and not is_success(code) and not is_pending(code)


@pytest.mark.parametrize(("given", "key"), [(6017, "6017"), (" 6017 ", "6017"), ("06017", "6017"),
                                           (-22, "-22"), (0, "0"), ("0", "0")])
def test_lookup_normalises(given: str | int, key: str) -> None:
    assert lookup(given) is CATALOGUE[key]

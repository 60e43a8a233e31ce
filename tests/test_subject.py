"""Subject-line modifiers."""

from datetime import datetime

from todoke.ingest.subject import parse_subject


def test_plain_subject_is_kept_up_to_60_characters():
    subject, mods = parse_subject("請求書" * 30)
    assert subject == ("請求書" * 30)[:60]
    assert mods.as_options() == {}


def test_modifiers_are_parsed_and_stripped():
    subject, mods = parse_subject("Order 42 /rs /bn /retries 2 /interval 5 /notify failure /ps b4")
    assert subject == "Order 42"
    assert mods.as_options() == {
        "body": "exclude", "resolution": "standard", "retries": 2, "interval": 5.0,
        "notify": "failure", "page_size": "b4",
    }
    assert mods.notes == []


def test_header_text_runs_to_the_next_modifier():
    subject, mods = parse_subject("見積 /h ACME 営業部 03-1234 /rf")
    assert subject == "見積"
    assert (mods.header, mods.header_text, mods.resolution) == (True, "ACME 営業部 03-1234", "fine")
    assert parse_subject("x /hn")[1].header is False


def test_out_of_range_values_are_clamped_with_a_note():
    _, mods = parse_subject("x /retries 9 /interval 0")
    assert (mods.retries, mods.interval) == (5, 1.0)
    assert len(mods.notes) == 2 and "0–5" in mods.notes[0]


def test_bad_values_are_ignored_with_a_note():
    _, mods = parse_subject("x /retries many /notify sometimes /ps a3 /interval")
    assert mods.retries is None and mods.notify is None and mods.page_size is None
    assert len(mods.notes) == 4


def test_words_with_slashes_stay_in_the_subject():
    subject, mods = parse_subject("A/B test /2026 /b")
    assert subject == "A/B test /2026"
    assert mods.body == "include"


def test_send_later():
    now = datetime(2026, 11, 23, 10, 0)
    _, mods = parse_subject("x /d 2026-11-24 09:30", now=now)
    assert mods.send_at == datetime(2026, 11, 24, 9, 30)
    _, far = parse_subject("x /d 2027-02-01 09:30", now=now)
    assert far.send_at is None and "30" in far.notes[0]
    _, bad = parse_subject("x /d tomorrow", now=now)
    assert bad.send_at is None and bad.notes

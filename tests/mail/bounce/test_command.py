"""Tests of the `todoke classify` contract (command.classify_main)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from todoke.mail.bounce.command import classify_main

BOUNCE = (
    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
    "To: sender@example.com\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
    "--B\nContent-Type: text/plain\n\nsorry\n\n--B\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: "
    "User unknown\n\n--B--\n"
)
PLAIN = "From: a@example.org\nTo: b@example.org\nSubject: hi\n\nhello\n"


@pytest.fixture
def mails(tmp_path: Path) -> tuple[Path, Path]:
    bounce = tmp_path / "b.eml"
    bounce.write_text(BOUNCE)
    plain = tmp_path / "p.eml"
    plain.write_text(PLAIN)
    return bounce, plain


def test_json_lines(mails: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bounce, plain = mails
    assert classify_main([bounce, plain], as_json=True, jobs=1) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # the plain mail prints nothing
    assert json.loads(lines[0]) == {
        "file": str(bounce), "recipient": "gone@example.org", "reason": "userunknown",
        "status": "5.1.1", "replycode": "550", "hardbounce": True, "error_status": 2,
    }


def test_table_and_pool(mails: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bounce, plain = mails
    files = [bounce, plain] * 40
    assert classify_main(files, as_json=False, jobs=2) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 40
    assert all("gone@example.org" in ln and "userunknown" in ln and "hard" in ln for ln in lines)


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert classify_main([tmp_path / "nope.eml"], as_json=True, jobs=1) == 2
    assert "nope.eml" in capsys.readouterr().err

"""Table-driven test of the bounce classifier over the shared sample bounces.

Every record of shared/bounces/expected.json (file, index, reason, status, replycode,
hardbounce) is one row. Single rows may differ (the table is Sisimai's view, and a few of its
answers are quirks of that tool); the test fails when fewer than 95 % of all rows match, and
prints every mismatch so a regression is visible.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from todoke.mail.bounce import classify_bytes, classify_file
from todoke.mail.bounce.table import REASONS, error_status

SHARED = (Path(__file__).resolve().parents[3] / "../shared/bounces").resolve()
THRESHOLD = 0.95


def _expected() -> list[dict[str, object]]:
    path = SHARED / "expected.json"
    if not path.is_file():
        pytest.skip(f"sample bounces not present at {SHARED}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_sample_accuracy() -> None:
    rows = _expected()
    by_file: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_file[str(row["file"])].append(row)
    ok = 0
    misses: list[str] = []
    for name, expected in sorted(by_file.items()):
        got = classify_file(SHARED / "train" / name)
        for row in expected:
            idx = int(row["index"]) - 1  # type: ignore[call-overload]
            want = (row["reason"], row["status"], row["replycode"], row["hardbounce"])
            if idx < len(got):
                g = got[idx]
                have: object = (g.reason, g.status, g.replycode, g.hardbounce)
                assert g.reason in REASONS
                assert g.error_status == error_status(g.reason, g.feedback_type)
            else:
                have = f"no record ({len(got)} found)"
            if have == want:
                ok += 1
            else:
                misses.append(f"{name}#{row['index']}: want {want} got {have}")
    accuracy = ok / len(rows)
    print(f"\nbounce samples: {ok}/{len(rows)} records match, accuracy {accuracy:.1%}")
    assert accuracy >= THRESHOLD, (
        f"accuracy {accuracy:.1%} < {THRESHOLD:.0%}; mismatches:\n" + "\n".join(misses)
    )


def test_every_sample_is_a_bounce() -> None:
    """Each sample file yields at least as many records as the table lists for it."""
    rows = _expected()
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[str(row["file"])] += 1
    short = [
        name for name, n in counts.items() if len(classify_file(SHARED / "train" / name)) < n
    ]
    assert len(short) <= len(counts) * 0.02, f"too few records for: {short}"


def test_damaged_samples_never_raise() -> None:
    """Truncated or byte-garbled bounces give records or nothing, never an exception."""
    _expected()
    rng = random.Random(7)
    for path in sorted((SHARED / "train").glob("*.eml"))[::3]:
        raw = path.read_bytes()
        for _ in range(3):
            cut = raw[: rng.randrange(len(raw) + 1)]
            noisy = bytes(rng.randrange(256) if rng.random() < 0.02 else c for c in cut)
            for data in (cut, noisy):
                assert isinstance(classify_bytes(data), list)

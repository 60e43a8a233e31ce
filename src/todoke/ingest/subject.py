"""Ingest: subject-line modifiers (``/b``, ``/rf``, ``/retries 2`` …) parsed off the subject.

The text before the first modifier is the sender's reference, kept up to 60 characters.
A word that merely starts with ``/`` but is no modifier stays in the subject. A modifier with
a value out of range is clamped to the range, and a note says so (the fax still goes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

KEEP_SUBJECT = 60
FLAGS = {
    "/b": ("body", "include"),
    "/bn": ("body", "exclude"),
    "/bb": ("body", "only"),
    "/hn": ("header", False),
    "/rs": ("resolution", "standard"),
    "/rf": ("resolution", "fine"),
}
WITH_VALUE = {"/retries", "/interval", "/notify", "/ps", "/d", "/h"}


@dataclass
class Modifiers:
    body: str | None = None
    header: bool | None = None
    header_text: str | None = None
    resolution: str | None = None
    page_size: str | None = None
    retries: int | None = None
    interval: float | None = None
    notify: str | None = None
    send_at: datetime | None = None  # naive, in the account's time zone
    notes: list[str] = field(default_factory=list)

    def as_options(self) -> dict[str, object]:
        """The set modifiers as a JSON-able dict (kept with the mail)."""
        data: dict[str, object] = {}
        for name in ("body", "header", "header_text", "resolution", "page_size", "retries",
                     "interval", "notify"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.send_at is not None:
            data["send_at"] = self.send_at.isoformat(timespec="minutes")
        return data


def _is_modifier(word: str) -> bool:
    return word.lower() in FLAGS or word.lower() in WITH_VALUE


def _clamp(name: str, raw: str, low: int, high: int, mods: Modifiers) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        mods.notes.append(f"{name} {raw!r}: not a number, ignored / 数値でないため無視しました")
        return None
    if value < low or value > high:
        clamped = min(max(value, low), high)
        mods.notes.append(f"{name} {value}: out of range {low}–{high}, used {clamped} / "
                          f"範囲外のため {clamped} を使用しました")
        return clamped
    return value


def parse_subject(subject: str, now: datetime | None = None) -> tuple[str, Modifiers]:
    """Split ``subject`` into the kept reference text and the modifiers."""
    words = subject.split()
    mods = Modifiers()
    start = next((i for i, w in enumerate(words) if _is_modifier(w)), len(words))
    kept = " ".join(words[:start])[:KEEP_SUBJECT]
    i = start
    while i < len(words):
        word = words[i].lower()
        i += 1
        if word in FLAGS:
            name, value = FLAGS[word]
            setattr(mods, name, value)
            continue
        args: list[str] = []
        while i < len(words) and not _is_modifier(words[i]):
            args.append(words[i])
            i += 1
        if word == "/h":
            mods.header, mods.header_text = True, " ".join(args)[:80] or None
        elif not args:
            mods.notes.append(f"{word}: value missing, ignored / 値がないため無視しました")
        elif word == "/retries":
            mods.retries = _clamp("/retries", args[0], 0, 5, mods)
        elif word == "/interval":
            value = _clamp("/interval", args[0], 1, 30, mods)
            mods.interval = None if value is None else float(value)
        elif word == "/notify":
            choice = args[0].lower()
            if choice in {"always", "success", "failure", "never"}:
                mods.notify = choice
            else:
                mods.notes.append(f"/notify {args[0]!r}: expected always|success|failure|never")
        elif word == "/ps":
            size = args[0].lower()
            if size in {"a4", "letter", "b4"}:
                mods.page_size = size
            else:
                mods.notes.append(f"/ps {args[0]!r}: expected a4|letter|b4")
        elif word == "/d":
            _parse_send_at(" ".join(args[:2]), mods, now)
    return kept, mods


def _parse_send_at(text: str, mods: Modifiers, now: datetime | None) -> None:
    try:
        when = datetime.strptime(text, "%Y-%m-%d %H:%M")
    except ValueError:
        mods.notes.append(f"/d {text!r}: expected yyyy-mm-dd hh:mm, sent now / 即時送信します")
        return
    if now is not None and when > now + timedelta(days=30):
        mods.notes.append("/d: more than 30 days ahead, sent now / 30日を超えるため即時送信します")
        return
    mods.send_at = when

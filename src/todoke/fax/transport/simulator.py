"""Fax transport: the simulator, which answers like a fax network without placing calls.

Result per attempt from the TODOKE_FAX_SIMULATOR file::

    {"numbers": {"0312345678": ["6017", "6017", "0"], "0311112222": ["8010@2", "0"]},
     "default": "0"}

the last entry repeating; ``"8010@2"`` fails after 2 pages of this attempt were confirmed.
Test numbers ``009999999<code>`` always give ``<code>``. The file is read again when it
changes, so a test (or an operator) can change the plan while the gateway runs. Calls take
realistic times (dialling, ringing, 9,600 bit/s page transfer), scaled by
TODOKE_MINUTE_SECONDS / 60.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from todoke.fax.transport import FaxRequest, FaxResult
from todoke.ingest.numbers import TEST_PREFIX

# Real-time seconds of the parts of a call, before scaling.
DIAL_S = 6.0  # dialling and the first ring
BUSY_S = 4.0  # a busy tone is heard soon
NO_ANSWER_S = 55.0  # ringing until the T1 time-out
NEGOTIATE_S = 12.0  # phase B (DIS/DCS, training)
PAGE_S = {"fine": 18.0, "standard": 10.0}
BUSY_CODES = {"6017", "263", "3931", "3933", "3937", "8025"}
NO_ANSWER_CODES = {"8021", "3935", "6018", "3912"}


def _read_plan(path: str) -> tuple[dict[str, list[str]], str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"TODOKE_FAX_SIMULATOR={path}: {exc}") from exc
    numbers = {
        str(k): [str(v)] if isinstance(v, str | int) else [str(x) for x in v]
        for k, v in data.get("numbers", {}).items()
    }
    return numbers, str(data.get("default", "0"))


@dataclass
class Simulator:
    numbers: dict[str, list[str]] = field(default_factory=dict)
    default: str = "0"
    minute_seconds: float = 60.0
    path: str = ""
    mtime: float = 0.0

    @classmethod
    def from_file(cls, path: str, minute_seconds: float) -> Simulator:
        if not path:
            return cls(minute_seconds=minute_seconds)
        numbers, default = _read_plan(path)
        return cls(numbers, default, minute_seconds, path, Path(path).stat().st_mtime)

    def _reload(self) -> None:
        if not self.path:
            return
        try:
            mtime = Path(self.path).stat().st_mtime
            if mtime != self.mtime:
                self.numbers, self.default = _read_plan(self.path)
                self.mtime = mtime
        except (OSError, ValueError):
            pass  # keep the last good plan

    def script(self, request: FaxRequest) -> tuple[str, int | None]:
        """The code this attempt gives, and after how many pages it breaks (None = all)."""
        self._reload()
        if request.number.startswith(TEST_PREFIX):
            entry = request.number[len(TEST_PREFIX) :]
        else:
            plan = self.numbers.get(request.number) or self.numbers.get(request.e164)
            entry = plan[min(request.attempt, len(plan)) - 1] if plan else self.default
        code, _, after = entry.partition("@")
        return code, int(after) if after.isdigit() else None

    async def deliver(self, request: FaxRequest) -> FaxResult:
        code, break_after = self.script(request)
        remaining = max(request.pages_total - request.first_page, 0)
        page_s = PAGE_S.get(request.resolution, PAGE_S["fine"])
        if code == "0":
            pages, seconds = remaining, DIAL_S + NEGOTIATE_S + remaining * page_s
        elif code in BUSY_CODES:
            pages, seconds = 0, BUSY_S
        elif code in NO_ANSWER_CODES:
            pages, seconds = 0, NO_ANSWER_S
        else:
            pages = min(break_after or 0, remaining)
            seconds = DIAL_S + NEGOTIATE_S + pages * page_s + 2.0
        scaled = seconds * self.minute_seconds / 60.0
        await asyncio.sleep(scaled)
        return FaxResult(code=code, pages_sent=pages, duration_s=round(seconds, 1))

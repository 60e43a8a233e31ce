"""Fax transports: where pages leave todoke. One method, ``deliver(request) -> FaxResult``.

``simulator`` (default) answers from TODOKE_FAX_SIMULATOR and test numbers without a call;
other transports (HylaFAX) implement the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FaxRequest:
    job_id: int
    attempt: int  # 1-based number of this attempt
    number: str  # digits as dialled
    e164: str
    tiff: bytes  # the whole document (multi-page TIFF-F)
    pages_total: int
    first_page: int  # 0-based page to start from (resume after the pages already sent)
    resolution: str = "fine"


@dataclass(frozen=True)
class FaxResult:
    code: str  # result code from todoke.fax.codes ("0" = OK)
    pages_sent: int  # pages confirmed by the far end in this attempt
    duration_s: float  # real seconds the call took
    detail: str = ""


class FaxTransport(Protocol):
    async def deliver(self, request: FaxRequest) -> FaxResult: ...


def make_transport(url: str, simulator_file: str, minute_seconds: float) -> FaxTransport:
    """The transport named by TODOKE_FAX_TRANSPORT."""
    if url == "simulator":
        from todoke.fax.transport.simulator import Simulator

        return Simulator.from_file(simulator_file, minute_seconds)
    raise ValueError(f"fax transport {url!r} is not available in this build")

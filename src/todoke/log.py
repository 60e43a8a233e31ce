"""Structured logging: one JSON line per event on stderr, with the ids that matter.

``event("fax.attempt", job=12, code="6017")`` writes
``{"ts": "...", "level": "info", "event": "fax.attempt", "job": 12, "code": "6017"}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_logger = logging.getLogger("todoke")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(level: str = "info") -> None:
    """Send todoke's events to stderr as JSON lines (idempotent)."""
    if any(getattr(h, "_todoke", False) for h in _logger.handlers):
        _logger.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    handler._todoke = True  # type: ignore[attr-defined]
    _logger.addHandler(handler)
    _logger.setLevel(level.upper())
    _logger.propagate = False


def event(name: str, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """Log one event with its fields."""
    _logger.log(level, name, extra={"fields": fields}, exc_info=exc_info)


def warning(name: str, **fields: Any) -> None:
    event(name, logging.WARNING, **fields)


def error(name: str, exc_info: bool = False, **fields: Any) -> None:
    event(name, logging.ERROR, exc_info=exc_info, **fields)

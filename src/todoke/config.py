"""Settings: every ``TODOKE_*`` variable as one row of a name / default / check table.

Read once at start (``Settings.from_env``) and validated there, the way Postfix checks its
parameters: a bad value stops the program with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A TODOKE_* variable has a value todoke cannot use."""


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected host:port")
    return host.strip("[]"), int(port)


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _choice(*options: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return check


def _optional_host_port(value: str) -> tuple[str, int] | None:
    return _host_port(value) if value else None


def _transport(value: str) -> str:
    if value != "simulator" and not value.startswith("hylafax://"):
        raise ValueError("must be 'simulator' or hylafax://user:pass@host:4559")
    return value


# name, default, parser, meaning
TABLE: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("TODOKE_DATA_DIR", "./todoke-data", str, "database, spool, keys"),
    ("TODOKE_DATABASE_URL", "", str, "SQLAlchemy URL; empty = SQLite in the data dir"),
    ("TODOKE_SMTP_LISTEN", "127.0.0.1:2525", _host_port, "SMTP ingest address"),
    ("TODOKE_HTTP_LISTEN", "127.0.0.1:8025", _host_port, "API and console address"),
    ("TODOKE_FAX_DOMAIN", "fax.localhost", str.lower, "mail to <number>@<this> is a fax"),
    ("TODOKE_BOUNCE_DOMAIN", "bounce.localhost", str.lower, "VERP return paths and bounces"),
    ("TODOKE_HOSTNAME", "todoke.localhost", str, "our name in SMTP greetings and DSNs"),
    ("TODOKE_RELAY", "", _optional_host_port, "host:port for all outgoing mail; empty = MX"),
    ("TODOKE_FAX_TRANSPORT", "simulator", _transport, "simulator or hylafax://…"),
    ("TODOKE_FAX_SIMULATOR", "", str, "JSON file of simulated result codes"),
    ("TODOKE_MINUTE_SECONDS", "60", _positive_float, "length of one minute in schedules"),
    ("TODOKE_REJECT_MODE", "smtp", _choice("smtp", "bounce"), "refuse by 5xx or by DSN"),
    ("TODOKE_FAX_LINES", "16", _positive_int, "concurrent fax calls per worker process"),
    ("TODOKE_SMTP_PROCESSES", str(min(os.cpu_count() or 1, 4)), _positive_int,
     "processes accepting SMTP on the one port"),
    ("TODOKE_WORKER_PROCESS", "yes" if (os.cpu_count() or 1) > 1 else "no",
     _choice("yes", "no"), "serve runs its workers in a process of their own (issue 5)"),
    ("TODOKE_MAX_MESSAGE_SIZE", str(30 * 1024 * 1024), _positive_int, "SMTP SIZE limit"),
    ("TODOKE_BOUNCE_RULES", "", str, "TOML/JSON reply-text rules, tried before the built-in"),
    ("TODOKE_TLS_CERT", "", str, "PEM certificate for STARTTLS; empty = self-signed"),
    ("TODOKE_TLS_KEY", "", str, "PEM key of TODOKE_TLS_CERT"),
    ("TODOKE_LOG_LEVEL", "info", _choice("debug", "info", "warning", "error"), "log level"),
    ("TODOKE_RETENTION_DAYS", "40", _positive_int, "days the error log is kept (issue 6)"),
    ("TODOKE_PURGE_INTERVAL", "3600", _positive_float,
     "seconds between the housekeeper's retention purges (issue 6)"),
    ("TODOKE_BLOCK_RELEASE_DAYS", "30", _non_negative_int,
     "days until a block-list entry is released; 0 = never (issue 6)"),
]


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with :meth:`from_env`."""

    data_dir: Path
    database_url: str
    smtp_listen: tuple[str, int]
    http_listen: tuple[str, int]
    fax_domain: str
    bounce_domain: str
    hostname: str
    relay: tuple[str, int] | None
    fax_transport: str
    fax_simulator: str
    minute_seconds: float
    reject_mode: str
    fax_lines: int
    smtp_processes: int
    max_message_size: int
    bounce_rules: str
    tls_cert: str
    tls_key: str
    log_level: str
    worker_process: str = "no"  # serve forks its workers (issue 5)
    retention_days: int = 40  # error log (issue 6)
    purge_interval: float = 3600.0  # housekeeper (issue 6)
    block_release_days: int = 30  # block list (issue 6)
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, default, parse, _meaning in TABLE:
            raw = env.get(name, default)
            try:
                values[name.removeprefix("TODOKE_").lower()] = parse(raw.strip())
            except ValueError as exc:
                raise SettingsError(f"{name}={raw!r}: {exc}") from exc
        values["data_dir"] = Path(values["data_dir"]).resolve()
        if bool(values["tls_cert"]) != bool(values["tls_key"]):
            raise SettingsError("TODOKE_TLS_CERT and TODOKE_TLS_KEY go together")
        if not values["database_url"]:
            values["database_url"] = f"sqlite:///{values['data_dir'] / 'todoke.db'}"
        return cls(**values)

    def minutes(self, count: float) -> float:
        """Seconds in ``count`` schedule minutes (TODOKE_MINUTE_SECONDS scales every wait)."""
        return count * self.minute_seconds

"""Shared helpers for the notify tests: golden-file comparison and decoding a built mail."""

from __future__ import annotations

import os
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def reparse(msg: EmailMessage) -> EmailMessage:
    """Serialise ``msg`` as it goes on the wire (CRLF) and parse it back."""
    parsed = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def decoded_view(msg: EmailMessage, headers: tuple[str, ...]) -> str:
    """The decoded headers named in ``headers``, then every decoded part in order."""
    parsed = reparse(msg)
    lines = [f"{name}: {parsed[name]}" for name in headers]
    _describe(parsed, lines)
    return "\n".join(lines).rstrip("\n") + "\n"


def _describe(part: EmailMessage, lines: list[str]) -> None:
    kind = part.get_content_type()
    if kind == "message/delivery-status":
        lines.append(f"--- {kind}")
        for block in part.get_payload():
            lines.extend(f"{name}: {value}" for name, value in block.items())
            lines.append("")
    elif part.is_multipart():
        params = "".join(f"; {k}={v}" for k, v in part.get_params()[1:] if k != "boundary")
        lines.append(f"=== {kind}{params}")
        for sub in part.iter_parts():
            _describe(sub, lines)  # type: ignore[arg-type]
    else:
        lines.append(f"--- {kind}")
        # 7bit parts keep the wire's CRLF; compare text with plain newlines.
        lines.append(part.get_content().replace("\r\n", "\n").rstrip("\n"))
        lines.append("")


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare text with ``golden/<name>``; ``TODOKE_UPDATE_GOLDEN=1`` rewrites the file."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("TODOKE_UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8", newline="")
            return
        assert path.exists(), f"missing {path}; run with TODOKE_UPDATE_GOLDEN=1 to create it"
        assert text == path.read_bytes().decode("utf-8"), f"differs from {path}"

    return check


@pytest.fixture(name="reparse")
def reparse_fixture() -> Callable[[EmailMessage], EmailMessage]:
    """The ``reparse`` helper, for tests (conftest is not importable in importlib mode)."""
    return reparse


@pytest.fixture(name="decoded_view")
def decoded_view_fixture() -> Callable[[EmailMessage, tuple[str, ...]], str]:
    """The ``decoded_view`` helper, for tests."""
    return decoded_view

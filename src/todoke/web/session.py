"""Web console: signed session cookies and CSRF tokens (stage: web; owns the cookie format).

The session lives in the cookie, signed with HMAC-SHA256 under a key kept in
``<data_dir>/console.key`` (generated on first use, mode 0600). Every visitor gets a session
with a random CSRF token, also before logging in (so the login form is protected as well);
logging in replaces it with a new session and a new token. A session names the console user,
a fingerprint of that user's password hash (so changing the password ends other sessions),
the organisation a system administrator is looking at, and when it was issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COOKIE = "todoke_session"
LANG_COOKIE = "todoke_lang"
MAX_AGE = 12 * 3600  # seconds a login lasts


def load_key(data_dir: Path) -> bytes:
    """The console's signing key; created with mode 0600 if it does not exist yet."""
    path = data_dir / "console.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass
class SessionData:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user_id: int | None = None
    fingerprint: str = ""
    organisation_id: int | None = None  # the organisation a system administrator chose
    issued: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"c": self.csrf, "u": self.user_id, "p": self.fingerprint,
                "o": self.organisation_id, "t": self.issued}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: bytes, data: SessionData) -> str:
    body = _b64(json.dumps(data.to_dict(), separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def decode(key: bytes, cookie: str | None) -> SessionData | None:
    """The session in ``cookie`` if its signature is right and it has not expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, mac = cookie.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        raw = json.loads(_unb64(body))
        data = SessionData(csrf=str(raw["c"]), user_id=raw["u"], fingerprint=str(raw["p"]),
                           organisation_id=raw["o"], issued=float(raw["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= time.time() - data.issued <= MAX_AGE:
        return None
    return data


def csrf_ok(data: SessionData | None, token: str | None) -> bool:
    return bool(data and token) and hmac.compare_digest(data.csrf, str(token))

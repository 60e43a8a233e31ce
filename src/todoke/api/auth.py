"""API: bearer API keys. Every route that reads tenant data depends on ``current_key``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from todoke.accounts import find_api_user
from todoke.store.db import Store

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class KeyScope:
    """Whose data a key may see: its organisation, server configuration and API user."""

    organisation_id: int
    server_config_id: int
    api_user_id: int
    is_admin: bool


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def current_key(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    store: Store = Depends(get_store),
) -> KeyScope:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "API key required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    with store.session() as session:
        user = find_api_user(session, credentials.credentials)
        if user is None:
            raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
        return KeyScope(user.server_config.organisation_id, user.server_config_id, user.id,
                        user.is_admin)


def language(request: Request) -> str:
    """ja unless Accept-Language prefers English."""
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "ja"

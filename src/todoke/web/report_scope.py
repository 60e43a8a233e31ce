"""Web console, delivery reports: whose logs a console user may read (stage: web).

The left column of the reports (配信レポート) lists the server configurations the user may
see: those of the user's organisation, or, for a system administrator, every organisation's.
Each expands ("+") to its API users. A choice is two query parameters, ``sc`` (server
configuration) and ``au`` (API user, optional); ``choose`` turns them into a ``Selection``
whose ``scope`` is what the log modules filter by. A server configuration or API user outside
the list is "not found" (404), so guessing ids shows nothing of another organisation.

The download grant (organisation property ``download``) lets the organisation's group
administrators and administrators download; a system administrator always may.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from todoke.errorlog.search import Scope
from todoke.store.models import ApiUser, Organisation, ServerConfig
from todoke.web.common import Ctx
from todoke.web.i18n import text


@dataclass
class ApiUserRef:
    id: int
    name: str
    is_admin: bool
    disabled: bool


@dataclass
class ConfigRef:
    id: int
    name: str
    organisation_id: int
    api_users: list[ApiUserRef] = field(default_factory=list)


@dataclass
class OrgRef:
    id: int
    name: str
    timezone: str
    download_allowed: bool
    configs: list[ConfigRef] = field(default_factory=list)


@dataclass
class Selection:
    """The chosen server configuration (and API user) with its organisation."""

    org: OrgRef
    config: ConfigRef
    api_user: ApiUserRef | None = None

    @property
    def scope(self) -> Scope:
        if self.api_user is not None:
            return Scope(self.org.id, api_user_id=self.api_user.id)
        return Scope(self.org.id, server_config_id=self.config.id)

    @property
    def params(self) -> dict[str, Any]:
        """The query parameters that name this choice."""
        values: dict[str, Any] = {"sc": self.config.id}
        if self.api_user is not None:
            values["au"] = self.api_user.id
        return values


def visible_tree(session: Session, ctx: Ctx) -> list[OrgRef]:
    """The organisations, server configurations and API users ``ctx`` may read logs of."""
    org_query = select(Organisation).order_by(Organisation.name)
    if not ctx.is_system:
        if ctx.own_org is None:
            return []
        org_query = org_query.where(Organisation.id == ctx.own_org)
    orgs = {o.id: OrgRef(o.id, o.name, o.timezone, bool(o.download_allowed))
            for o in session.scalars(org_query)}
    if not orgs:
        return []
    configs: dict[int, ConfigRef] = {}
    for c in session.scalars(select(ServerConfig).where(
            ServerConfig.organisation_id.in_(list(orgs))).order_by(ServerConfig.id)):
        configs[c.id] = ConfigRef(c.id, c.name, c.organisation_id)
        orgs[c.organisation_id].configs.append(configs[c.id])
    if configs:
        for u in session.scalars(select(ApiUser).where(
                ApiUser.server_config_id.in_(list(configs))).order_by(ApiUser.id)):
            configs[u.server_config_id].api_users.append(
                ApiUserRef(u.id, u.name, u.is_admin, u.disabled))
    return list(orgs.values())


def _number(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


def choose(tree: list[OrgRef], ctx: Ctx, sc: str | None, au: str | None) -> Selection | None:
    """The selection named by ``sc``/``au``; by default the first server configuration of
    the organisation in view. 404 for anything outside ``tree``; None when it is empty."""
    not_found = HTTPException(404, text(ctx.lang)("not_found"))
    sc_id, au_id = _number(sc), _number(au)
    if (sc and sc_id is None) or (au and au_id is None) or (au_id is not None and sc_id is None):
        raise not_found
    if sc_id is None:
        ordered = sorted(tree, key=lambda o: o.id != ctx.org_id)
        for org in ordered:
            if org.configs:
                return Selection(org, org.configs[0])
        return None
    for org in tree:
        for config in org.configs:
            if config.id == sc_id:
                if au_id is None:
                    return Selection(org, config)
                for user in config.api_users:
                    if user.id == au_id:
                        return Selection(org, config, user)
                raise not_found
    raise not_found


def may_download(ctx: Ctx, org: OrgRef) -> bool:
    """The download grant: a system administrator, or an organisation's (group) administrator
    when the organisation has ``download=true``."""
    if ctx.is_system:
        return True
    return org.download_allowed and ctx.is_admin and ctx.own_org == org.id

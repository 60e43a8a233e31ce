"""Tenancy: organisations (fax accounts), console users, server configurations, API keys.

Passwords are hashed with scrypt (a memory-hard KDF from the standard library); API keys are
random 256-bit tokens stored only as SHA-256 (they are high-entropy, so a fast hash is enough
and lets a key be looked up by its hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from todoke.mail.senders import domains_of, parse_domains
from todoke.store.models import (
    ApiUser,
    AuthorizedSender,
    ConsoleUser,
    FaxList,
    FaxListNumber,
    Organisation,
    ServerConfig,
    utcnow,
)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=8, p=1
    )
    return hmac.compare_digest(candidate.hex(), digest)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "tdk_" + secrets.token_urlsafe(32)


def find_api_user(session: Session, key: str) -> ApiUser | None:
    """The enabled API user that owns ``key``, if any."""
    user = session.scalar(select(ApiUser).where(ApiUser.key_hash == hash_api_key(key)))
    if user is None or user.disabled:
        return None
    return user


def add_api_user(
    session: Session, config: ServerConfig, name: str, is_admin: bool = False
) -> tuple[ApiUser, str]:
    key = new_api_key()
    user = ApiUser(
        server_config=config, name=name, key_hash=hash_api_key(key), key_prefix=key[:12],
        is_admin=is_admin,
    )
    session.add(user)
    return user, key


@dataclass
class CreatedAccount:
    organisation: Organisation
    api_key: str


def create_account(session: Session, name: str, senders: list[str]) -> CreatedAccount:
    """A new organisation with a default server configuration and an administrator API key."""
    name = name.strip()
    if not name:
        raise AccountError("account name is empty / アカウント名が空です")
    if session.scalar(select(Organisation).where(Organisation.name == name)):
        raise AccountError(f"account {name!r} exists already / {name!r} は既に存在します")
    org = Organisation(name=name)
    session.add(org)
    for address in senders:
        add_sender(session, org, address)
    config = ServerConfig(organisation=org, name="default")
    session.add(config)
    _user, key = add_api_user(session, config, "admin", is_admin=True)
    session.flush()
    return CreatedAccount(org, key)


def add_sender(session: Session, org: Organisation, address: str) -> None:
    address = address.strip().lower()
    if "@" not in address:
        raise AccountError(f"not a mail address: {address!r} / メールアドレスではありません")
    owner = session.scalar(select(AuthorizedSender).where(AuthorizedSender.address == address))
    if owner is not None:
        if owner.organisation_id == org.id:
            return
        raise AccountError(
            f"{address} is an authorised sender of another account / "
            "他のアカウントの送信者として登録済みです"
        )
    session.add(AuthorizedSender(organisation=org, address=address))


def get_account(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise AccountError(f"no account {name!r} / アカウント {name!r} はありません")
    return org


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


N = TypeVar("N", int, float)


def _in_range(kind: type[N], low: N, high: N) -> Callable[[str], N]:
    def parse(value: str) -> N:
        number = kind(value)
        if not low <= number <= high:
            raise ValueError(f"expected {low:g}–{high:g}")
        return number

    return parse


def _one_of(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError("expected one of " + ", ".join(options))
        return value

    return parse


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone") from exc
    return value


def _credit(value: str) -> float | None:
    if value.strip().lower() in {"", "none", "unlimited"}:
        return None
    number = float(value)
    if number < 0:
        raise ValueError("expected a positive amount or 'none'")
    return number


def _pem(value: str) -> str:
    """PEM certificates, given as text or as @path to a file."""
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {value[1:]}: {exc}") from exc
    if text.strip() and "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError("expected PEM certificates (-----BEGIN CERTIFICATE-----)")
    return text


def _price(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("expected an amount of 0 or more")
    return number


# property name → (attribute, parser); `accounts set NAME key=value`
PROPERTIES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "fax.retries": ("fax_retries", _in_range(int, 0, 5)),
    "fax.retry_interval": ("fax_retry_interval", _in_range(float, 1.0, 30.0)),
    "fax.notify": ("fax_notify", _one_of("always", "success", "failure", "never")),
    "fax.notify_html": ("fax_notify_html", _bool),
    "fax.resolution": ("fax_resolution", _one_of("standard", "fine")),
    "fax.page_size": ("fax_page_size", _one_of("a4", "letter", "b4")),
    "fax.require_password": ("fax_require_password", _bool),
    "fax.password": ("fax_password_hash", hash_password),
    "fax.require_ticket": ("fax_require_ticket", _bool),
    "fax.ticket_key": ("fax_ticket_key", str),
    "fax.require_smime": ("fax_require_smime", _bool),
    "language": ("language", _one_of("ja", "en")),
    "fax.language": ("language", _one_of("ja", "en")),
    "timezone": ("timezone", _timezone),
    "credit_limit": ("credit_limit", _credit),
    "page_price": ("page_price", _price),
    "fax.smime_certs": ("fax_smime_certs", _pem),
    "download": ("download_allowed", _bool),
    "mail.sender_domains": ("mail_sender_domains", parse_domains),
}


def set_property(session: Session, org: Organisation, key: str, value: str) -> None:
    """Change one account property; raises AccountError naming the key and the reason."""
    if key in {"fax.senders", "senders"}:
        org.senders.clear()
        session.flush()
        for address in filter(None, (a.strip() for a in value.split(","))):
            add_sender(session, org, address)
        return
    if key in {"fax.sender+", "sender+"}:
        add_sender(session, org, value)
        return
    if key == "locked":
        if _bool(value):
            raise AccountError("locked=true is not settable; accounts lock themselves")
        org.failed_logins = 0
        org.locked_until = None
        return
    if key not in PROPERTIES:
        raise AccountError(
            f"unknown property {key!r}; known: {', '.join(sorted(PROPERTIES))}, "
            "fax.senders, locked=false"
        )
    attribute, parse = PROPERTIES[key]
    try:
        setattr(org, attribute, parse(value))
    except ValueError as exc:
        raise AccountError(f"{key}={value!r}: {exc}") from exc


def describe(org: Organisation) -> dict[str, Any]:
    """The account's properties, as `accounts show` prints them."""
    return {
        "account": org.name,
        "id": org.id,
        "senders": sorted(s.address for s in org.senders),
        "fax.retries": org.fax_retries,
        "fax.retry_interval": org.fax_retry_interval,
        "fax.notify": org.fax_notify,
        "fax.notify_html": org.fax_notify_html,
        "fax.resolution": org.fax_resolution,
        "fax.page_size": org.fax_page_size,
        "fax.require_password": org.fax_require_password,
        "fax.require_ticket": org.fax_require_ticket,
        "fax.require_smime": org.fax_require_smime,
        "language": org.language,
        "timezone": org.timezone,
        "credit_limit": None if org.credit_limit is None else float(org.credit_limit),
        "page_price": float(org.page_price),
        "fax.smime_certs": (org.fax_smime_certs or "").count("BEGIN CERTIFICATE"),
        "download": org.download_allowed,
        "mail.sender_domains": domains_of(org.mail_sender_domains or ""),
        "locked_until": org.locked_until.isoformat() if org.locked_until else None,
    }


def ensure_first_admin(session: Session) -> str | None:
    """On an empty store, create console user 'admin'; return its one-time password."""
    if session.scalar(select(func.count()).select_from(ConsoleUser)):
        return None
    password = secrets.token_urlsafe(12)
    session.add(
        ConsoleUser(
            username="admin", password_hash=hash_password(password), role="admin",
            must_change_password=True,
        )
    )
    return password


LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_LIST = 20_000


def set_list(session: Session, org: Organisation, name: str, numbers: list[str]) -> FaxList:
    """Create or replace a named list of fax numbers (refuses it whole if any is invalid)."""
    from todoke.ingest.numbers import parse_fax_number

    name = name.strip().lower()
    if not LIST_NAME.match(name):
        raise AccountError(f"list name {name!r}: use a–z, 0–9, '.', '_' or '-', at most 64 "
                           "/ リスト名は英小文字・数字・. _ - で64文字まで")
    if len(numbers) > MAX_LIST:
        raise AccountError(f"a list holds at most {MAX_LIST} numbers / 最大{MAX_LIST}件です")
    parsed = [(text, parse_fax_number(text)) for text in numbers]
    bad = [text for text, number in parsed if number is None]
    if bad:
        raise AccountError("not fax numbers / FAX番号ではありません: " + ", ".join(bad[:20]))
    fax_list = session.scalar(select(FaxList).where(FaxList.organisation_id == org.id,
                                                    FaxList.name == name))
    if fax_list is None:
        fax_list = FaxList(organisation_id=org.id, name=name)
        session.add(fax_list)
    fax_list.numbers.clear()
    session.flush()
    seen: set[str] = set()
    for _text, number in parsed:
        assert number is not None
        if number.e164 not in seen:
            seen.add(number.e164)
            fax_list.numbers.append(FaxListNumber(number=number.dialled, e164=number.e164))
    session.flush()
    return fax_list


def delete_list(session: Session, org: Organisation, name: str) -> None:
    fax_list = session.scalar(select(FaxList).where(FaxList.organisation_id == org.id,
                                                    FaxList.name == name.strip().lower()))
    if fax_list is None:
        raise AccountError(f"no list {name!r} / リスト {name!r} はありません")
    session.delete(fax_list)


LOCK_AFTER = 3  # wrong passwords in a row, console or body password alike
LOCK_SECONDS = 3600.0
WRONG_LOGIN = "ユーザー名またはパスワードが違います / wrong user name or password"


@dataclass
class LoginResult:
    user: ConsoleUser | None
    reason: str = ""  # why not, in Japanese and English; never says whether the name exists


def console_login(session: Session, username: str, password: str,
                  lock_seconds: float = LOCK_SECONDS) -> LoginResult:
    """Check a console login. Three wrong passwords lock the account (the organisation, or the
    user itself for a system administrator) for an hour; a locked login fails even with the
    right password. The failure count is written in the caller's transaction."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        return LoginResult(None, WRONG_LOGIN)
    holder: Organisation | ConsoleUser = user
    if user.organisation_id is not None:
        holder = session.get_one(Organisation, user.organisation_id)
    now = utcnow()
    if holder.locked_until is not None and holder.locked_until > now:
        until = holder.locked_until.isoformat(timespec="minutes")
        return LoginResult(None, f"アカウントはロックされています({until} UTC まで) / "
                                 f"the account is locked until {until} UTC")
    if not verify_password(password, user.password_hash):
        holder.failed_logins += 1
        if holder.failed_logins >= LOCK_AFTER:
            holder.locked_until = now + timedelta(seconds=lock_seconds)
        return LoginResult(None, WRONG_LOGIN)
    holder.failed_logins = 0
    holder.locked_until = None
    return LoginResult(user)


# -- server configurations and API users (the console's administration pages) ----------------

NAME_MAX = 100
API_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


def _config_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        raise AccountError(f"サーバ構成名は1〜{NAME_MAX}文字で指定してください / "
                           f"a server configuration name has 1 to {NAME_MAX} characters")
    return name


def _config_name_free(session: Session, organisation_id: int, name: str,
                      own_id: int | None = None) -> None:
    other = session.scalar(select(ServerConfig.id).where(
        ServerConfig.organisation_id == organisation_id, ServerConfig.name == name))
    if other is not None and other != own_id:
        raise AccountError(f"サーバ構成 {name!r} は既に存在します / "
                           f"server configuration {name!r} exists already")


def create_server_config(session: Session, org: Organisation, name: str) -> ServerConfig:
    """A new, empty server configuration of ``org`` (names are unique in an organisation)."""
    name = _config_name(name)
    _config_name_free(session, org.id, name)
    config = ServerConfig(organisation=org, name=name)
    session.add(config)
    session.flush()
    return config


def rename_server_config(session: Session, config: ServerConfig, name: str) -> None:
    name = _config_name(name)
    _config_name_free(session, config.organisation_id, name, config.id)
    config.name = name


def create_api_user(session: Session, config: ServerConfig, name: str,
                    is_admin: bool = False) -> tuple[ApiUser, str]:
    """A new API user with a new key (returned once; only its hash is kept). The name is the
    SMTP AUTH user name: letters, digits and . _ @ + -, unique in the server configuration."""
    name = name.strip()
    if not API_USER_NAME.match(name):
        raise AccountError("APIユーザー名は英数字と . _ @ + - で100文字までです / "
                           "an API user name has up to 100 letters, digits or . _ @ + -")
    if session.scalar(select(ApiUser.id).where(ApiUser.server_config_id == config.id,
                                               ApiUser.name == name)) is not None:
        raise AccountError(f"APIユーザー {name!r} は既に存在します / "
                           f"API user {name!r} exists already")
    user, key = add_api_user(session, config, name, is_admin)
    session.flush()
    return user, key


def regenerate_api_key(session: Session, user: ApiUser) -> str:
    """A new key for ``user`` (the old one stops working at once); a revoked user is enabled
    again with it. Returned once, only its hash is kept."""
    key = new_api_key()
    user.key_hash, user.key_prefix, user.disabled = hash_api_key(key), key[:12], False
    session.flush()
    return key


def revoke_api_user(session: Session, user: ApiUser) -> None:
    """Disable ``user``: its key is refused from now on (kept for the logs' sake)."""
    user.disabled = True


def set_networks(session: Session, org: Organisation, networks: list[str],
                 api_user: str | None = None) -> ApiUser:
    """Let clients in ``networks`` submit mail over SMTP without AUTH as ``api_user`` (the
    organisation's administrator API user by default); an empty list withdraws it."""
    from todoke.ingest.submission import parse_networks

    try:
        parsed = parse_networks(",".join(networks))
    except ValueError as exc:
        raise AccountError(f"{exc} / ネットワークアドレスが正しくありません") from exc
    users = [u for config in org.server_configs for u in config.api_users
             if (u.name == api_user if api_user else u.is_admin)]
    if not users:
        raise AccountError(f"no API user {api_user or '(administrator)'!r} in {org.name!r} / "
                           "APIユーザーが見つかりません")
    user = users[0]
    user.networks = ",".join(str(n) for n in parsed)
    return user

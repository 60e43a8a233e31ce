"""Accounts, API keys and properties, on both engines."""

import pytest
from sqlalchemy import select

from todoke.accounts import (
    AccountError,
    console_login,
    create_account,
    describe,
    ensure_first_admin,
    find_api_user,
    get_account,
    hash_password,
    set_property,
    verify_password,
)
from todoke.store.models import ApiUser, ConsoleUser


def test_create_account_with_admin_key(store):
    with store.session() as session:
        created = create_account(session, "acme", ["Alice@Example.JP", "bob@example.jp"])
        key = created.api_key
    with store.session() as session:
        user = find_api_user(session, key)
        assert user is not None and user.is_admin
        assert user.server_config.organisation.name == "acme"
        assert describe(get_account(session, "acme"))["senders"] == [
            "alice@example.jp", "bob@example.jp"]
        stored = session.scalars(select(ApiUser.key_hash)).all()
        assert key not in stored  # only the hash is kept
        assert find_api_user(session, key + "x") is None


def test_names_and_senders_are_unique(store):
    with store.session() as session:
        create_account(session, "acme", ["a@example.jp"])
    with pytest.raises(AccountError, match="exists"), store.session() as session:
        create_account(session, "acme", [])
    with pytest.raises(AccountError, match="another account"), store.session() as session:
        create_account(session, "other", ["A@example.jp"])


def test_properties(store):
    with store.session() as session:
        org = create_account(session, "acme", []).organisation
        set_property(session, org, "fax.retries", "5")
        set_property(session, org, "fax.retry_interval", "10")
        set_property(session, org, "fax.notify", "failure")
        set_property(session, org, "language", "en")
        set_property(session, org, "download", "true")
        set_property(session, org, "credit_limit", "5000")
        set_property(session, org, "fax.senders", "x@example.jp, y@example.jp")
        set_property(session, org, "fax.password", "s3cret")
    with store.session() as session:
        org = get_account(session, "acme")
        data = describe(org)
        assert (data["fax.retries"], data["fax.retry_interval"], data["fax.notify"]) == (
            5, 10.0, "failure")
        assert (data["language"], data["download"], data["credit_limit"]) == ("en", True, 5000.0)
        assert data["senders"] == ["x@example.jp", "y@example.jp"]
        assert verify_password("s3cret", org.fax_password_hash)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fax.retries", "6", "0–5"),
        ("fax.retry_interval", "0.5", "1–30"),
        ("fax.notify", "sometimes", "always"),
        ("download", "maybe", "true or false"),
        ("timezone", "Mars/Olympus", "time zone"),
        ("fax.colour", "red", "unknown property"),
    ],
)
def test_bad_properties_are_refused_with_the_reason(store, key, value, message):
    with store.session() as session:
        org = create_account(session, "acme", []).organisation
        with pytest.raises(AccountError, match=message):
            set_property(session, org, key, value)


def test_first_admin_only_once(store):
    with store.session() as session:
        password = ensure_first_admin(session)
    assert password
    with store.session() as session:
        assert ensure_first_admin(session) is None
        admin = session.scalars(select(ConsoleUser)).one()
        assert admin.role == "admin" and admin.must_change_password
        assert verify_password(password, admin.password_hash)
        assert not verify_password(password + "x", admin.password_hash)


def test_password_hash_is_salted():
    assert hash_password("x") != hash_password("x")
    assert not verify_password("x", "md5$abc")


def test_console_login_locks_after_three_wrong_passwords(store):
    with store.session() as session:
        org = create_account(session, "acme", []).organisation
        session.add(ConsoleUser(username="hanako", organisation_id=org.id, role="group_admin",
                                password_hash=hash_password("right-one")))
    with store.session() as session:
        assert console_login(session, "hanako", "right-one").user is not None
        unknown = console_login(session, "nobody", "x")
    for _ in range(3):
        with store.session() as session:
            result = console_login(session, "hanako", "wrong")
            assert result.user is None and result.reason == unknown.reason  # no enumeration
    with store.session() as session:
        locked = console_login(session, "hanako", "right-one")
        assert locked.user is None and "locked" in locked.reason and "ロック" in locked.reason
        assert get_account(session, "acme").locked_until is not None
        set_property(session, get_account(session, "acme"), "locked", "false")
    with store.session() as session:
        assert console_login(session, "hanako", "right-one").user is not None


def test_console_lock_ends_by_itself(store):
    with store.session() as session:
        session.add(ConsoleUser(username="root", role="admin",
                                password_hash=hash_password("pw")))
    for _ in range(3):
        with store.session() as session:
            console_login(session, "root", "bad", lock_seconds=0.3)
    with store.session() as session:
        assert console_login(session, "root", "pw", lock_seconds=0.3).user is None
    import time

    time.sleep(0.4)
    with store.session() as session:
        assert console_login(session, "root", "pw").user is not None

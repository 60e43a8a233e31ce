"""The command line: account commands, and clear exits when a port or the store fails."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import free_port, gateway_env


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "todoke.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_accounts_create_set_show(tmp_path):
    env = gateway_env(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}")
    created = run(env, "accounts", "create", "acme", "--sender", "a@example.jp", "--json")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["account"] == "acme" and data["api_key"].startswith("tdk_")
    assert run(env, "accounts", "set", "acme", "fax.retries=1", "fax.notify=never").returncode == 0
    shown = json.loads(run(env, "accounts", "show", "acme").stdout)
    assert (shown["fax.retries"], shown["fax.notify"]) == (1, "never")
    bad = run(env, "accounts", "set", "acme", "fax.retries=9")
    assert bad.returncode == 2 and "fax.retries" in bad.stderr and "0–5" in bad.stderr
    again = run(env, "accounts", "create", "acme", "--json")
    assert again.returncode == 1 and "exists" in again.stderr


def test_port_in_use_exits_3(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = gateway_env(tmp_path, f"sqlite:///{tmp_path / 'p.db'}",
                          TODOKE_SMTP_LISTEN=f"127.0.0.1:{port}",
                          TODOKE_HTTP_LISTEN=f"127.0.0.1:{free_port()}")
        result = run(env, "serve")
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    assert "使用中" in result.stderr


def test_unreachable_store_exits_4(tmp_path):
    env = gateway_env(tmp_path, f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    result = run(env, "accounts", "list")
    assert result.returncode == 4
    assert "cannot reach the store" in result.stderr and "接続できません" in result.stderr


@pytest.mark.parametrize("value", ["nonsense", "99999"])
def test_bad_setting_exits_2(tmp_path, value):
    env = gateway_env(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", TODOKE_SMTP_LISTEN=value)
    result = run(env, "accounts", "list")
    assert result.returncode == 2 and "TODOKE_SMTP_LISTEN" in result.stderr


def test_classify_contract_through_the_installed_command(tmp_path):
    dsn = (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.jp\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n"
        b"\r\nFinal-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: User unknown\r\n--b--\r\n"
    )
    (tmp_path / "bounce.eml").write_bytes(dsn)
    (tmp_path / "plain.eml").write_bytes(b"From: a@example.jp\r\nSubject: hi\r\n\r\nhello\r\n")
    todoke = Path(sys.executable).with_name("todoke")
    result = subprocess.run([str(todoke), "classify", "--json", str(tmp_path / "bounce.eml"),
                             str(tmp_path / "plain.eml")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()  # the plain mail is no bounce: nothing printed
    record = json.loads(line)
    assert set(record) >= {"file", "recipient", "reason", "status", "replycode", "hardbounce",
                           "error_status"}
    assert (record["recipient"], record["reason"], record["status"], record["replycode"],
            record["hardbounce"], record["error_status"]) == (
        "gone@example.net", "userunknown", "5.1.1", "550", True, 2)
    assert record["file"] == str(tmp_path / "bounce.eml")

    # a deployment's own rule, tried before the built-in ones
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npattern = "User unknown"\nreason = "filtered"\n')
    env = {**os.environ, "TODOKE_BOUNCE_RULES": str(rules)}
    ruled = subprocess.run([str(todoke), "classify", "--json", str(tmp_path / "bounce.eml")],
                           capture_output=True, text=True, timeout=60, env=env)
    assert json.loads(ruled.stdout)["reason"] == "filtered", ruled.stderr
    rules.write_text('[[rule]]\npattern = "x"\nreason = "nonsense"\n')
    broken = subprocess.run([str(todoke), "classify", str(tmp_path / "bounce.eml")],
                            capture_output=True, text=True, timeout=60, env=env)
    assert broken.returncode == 2 and "nonsense" in broken.stderr


def test_users_create(tmp_path):
    env = gateway_env(tmp_path, f"sqlite:///{tmp_path / 'u.db'}")
    assert run(env, "accounts", "create", "acme", "--json").returncode == 0
    made = run(env, "users", "create", "hanako", "--account", "acme", "--role", "group_admin")
    assert made.returncode == 0, made.stderr
    password = made.stdout.rsplit(": ", 1)[1].strip()
    from todoke.accounts import console_login
    from todoke.store.db import Store

    store = Store(f"sqlite:///{tmp_path / 'u.db'}")
    with store.session() as session:
        user = console_login(session, "hanako", password).user
        assert user is not None and user.role == "group_admin" and user.must_change_password
    store.dispose()
    assert run(env, "users", "create", "hanako", "--account", "acme").returncode == 1
    assert run(env, "users", "create", "root", "--account", "acme", "--role", "admin"
               ).returncode == 2

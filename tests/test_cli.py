"""The command line: account commands, and clear exits when a port or the store fails."""

import json
import socket
import subprocess
import sys

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

"""Debian's Postfix as the peer: todoke delivers through a private Postfix instance
(TODOKE_RELAY), which answers with its own replies (``User unknown in virtual mailbox
table``, ``Message size exceeds fixed limit``) and, for a recipient its next hop refuses,
writes a real RFC 3464 DSN to the VERP return path, delivered back to todoke's bounce domain.

Needs root and /usr/sbin/postfix; skipped otherwise. The instance lives in a temp directory
with its own queue and is stopped at the end.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

pytestmark = [
    pytest.mark.slow,
    # CI installs postfix (scripts/system-deps) and runs as root: there it must run, not skip
    pytest.mark.skipif((not shutil.which("postfix") or os.geteuid() != 0)
                       and not os.environ.get("CI"), reason="needs /usr/sbin/postfix and root"),
]

SENDER = "shop@example.jp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NextHop:
    """The server behind Postfix for relay.test: refuses user-550, accepts the rest."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.startswith("user-550@"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok"


def _main_cf(root: Path) -> str:
    return f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = virtual.test
virtual_mailbox_maps = texthash:{root}/etc/vmailbox
virtual_mailbox_base = {root}/mail
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
relay_domains = relay.test
transport_maps = texthash:{root}/etc/transport
message_size_limit = 20000
maillog_file = /dev/stdout
smtpd_banner = $myhostname ESMTP
smtp_tls_security_level = may
biff = no
# under load a first try may fail: retry within seconds, not Postfix's default 5 minutes
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


@pytest.fixture
def postfix_peer(make_gateway: Any) -> Iterator[tuple[int, int, Path]]:
    """(Postfix port, next hop port, instance dir); the bounce domain goes to port 0 until
    the test writes the gateway's port with :func:`route_bounces`."""
    root = Path(tempfile.mkdtemp(prefix="todoke-postfix-"))
    os.chmod(root, 0o755)
    for sub in ("etc", "queue", "data", "mail"):
        (root / sub).mkdir()
    shutil.chown(root / "data", "postfix")
    shutil.chown(root / "mail", 65534)
    port, hop_port = free_port(), free_port()
    (root / "etc" / "main.cf").write_text(_main_cf(root))
    (root / "etc" / "vmailbox").write_text("alice@virtual.test alice/\n")
    master = Path("/etc/postfix/master.cf").read_text().splitlines()
    master = [f"127.0.0.1:{port} inet n - n - - smtpd" if line.startswith("smtp ") and
              " inet " in line else line for line in master]
    (root / "etc" / "master.cf").write_text("\n".join(master) + "\n")
    hop = Controller(NextHop(), hostname="127.0.0.1", port=hop_port)
    hop.start()
    try:
        yield port, hop_port, root
    finally:
        subprocess.run(["postfix", "-c", str(root / "etc"), "stop"], capture_output=True)
        hop.stop()
        shutil.rmtree(root, ignore_errors=True)


def start_postfix(root: Path, port: int, hop_port: int, gateway_port: int) -> None:
    (root / "etc" / "transport").write_text(
        f"relay.test smtp:[127.0.0.1]:{hop_port}\n"
        f"bounce.localhost smtp:[127.0.0.1]:{gateway_port}\n")
    log = (root / "maillog").open("ab")
    process = subprocess.Popen(["postfix", "-c", str(root / "etc"), "start-fg"],
                               stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("postfix did not start: " + (root / "maillog").read_text()[-2000:])


def _rows(gw: Any, message_id: str) -> dict[str, dict[str, Any]]:
    response = gw.api("GET", "/v1/mail/deliveries", params={"message_id": message_id})
    assert response.status_code == 200, response.text
    return {d["rcpt"]: d for d in response.json()["deliveries"]}


def _wait(gw: Any, message_id: str, done: Any, timeout: float = 150) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = _rows(gw, message_id)
        if done(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"not final in time: {rows}")


def test_postfix_replies_and_dsn(database_url: str, make_gateway: Any,
                                 postfix_peer: Any) -> None:
    port, hop_port, root = postfix_peer
    gw = make_gateway(database_url, TODOKE_RELAY=f"127.0.0.1:{port}")
    gw.api_key = gw.create_account("acme", SENDER)
    gw.start()
    start_postfix(root, port, hop_port, gw.smtp_port)
    sent = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "subject": "peer test", "text": "hello\n",
        "to": ["alice@virtual.test", "bob@virtual.test", "carol@relay.test",
               "user-550@relay.test"]})
    assert sent.status_code == 202, sent.text
    big = gw.api("POST", "/v1/mail/send", json={
        "from": SENDER, "to": "alice@virtual.test", "subject": "big", "text": "x",
        "attachments": [{"filename": "big.bin", "content": base64.b64encode(
            os.urandom(30000)).decode()}]})
    assert big.status_code == 202, big.text

    rows = _wait(gw, sent.json()["message_id"], lambda r: all(
        d["status"] in ("delivered", "failed") for d in r.values())
        and r["user-550@relay.test"]["status"] == "failed")
    alice, bob = rows["alice@virtual.test"], rows["bob@virtual.test"]
    assert alice["status"] == "delivered" and "queued as" in alice["last_reply"]
    assert (bob["status"], bob["reason"], bob["error_status"], bob["hardbounce"]) == (
        "failed", "userunknown", 2, True)
    assert "User unknown in virtual mailbox table" in bob["last_reply"]
    assert rows["carol@relay.test"]["status"] == "delivered"
    # accepted by Postfix, refused by its next hop: Postfix's DSN, matched by VERP
    bounced = rows["user-550@relay.test"]
    assert (bounced["reason"], bounced["error_status"], bounced["hardbounce"]) == (
        "userunknown", 2, True)
    assert bounced["attempts"] == 1 and "User unknown" in bounced["last_reply"]
    events = gw.api("GET", f"/v1/mail/deliveries/{bounced['id']}").json()["events"]
    assert [e["status"] for e in events] == ["queued", "delivered", "failed"]

    [toobig] = _wait(gw, big.json()["message_id"], lambda r: all(
        d["status"] == "failed" for d in r.values())).values()
    assert (toobig["reason"], toobig["error_status"], toobig["reply_code"]) == (
        "mesgtoobig", 8, "552")
    assert "Message size exceeds fixed limit" in toobig["last_reply"]
    blocks = sorted(b["email"] for b in gw.api("GET", "/v1/blocks").json()["blocks"])
    assert blocks == ["bob@virtual.test", "user-550@relay.test"]

"""Download: permission, AES-256 ZIP (wrong password fails; method 99 / extra 0x9901), CSV
shape (UTF-8, LF, columns, every hit), formula neutralisation; the CLI export and search."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import threading
from datetime import UTC, date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pyzipper
from tests.conftest import gateway_env

from todoke.errorlog.export import COLUMNS
from todoke.errorlog.search import Criteria
from todoke.store.models import Organisation

from .conftest import World

PASSWORD = "s3cret-pass"


def _grant(w: World) -> None:
    with w.store.session() as session:
        session.get_one(Organisation, w.a.organisation_id).download_allowed = True


def _download(w: World, key: str | None = None, **body: object) -> object:
    payload = {"start_date": w.today(-2), "end_date": w.today(), "password": PASSWORD, **body}
    return w.client.post("/v1/errors/download", json=payload,
                         headers={"Authorization": f"Bearer {key or w.a.admin_key}"})


def _central_directory(data: bytes) -> tuple[int, bytes]:
    """Compression method and extra field of the first central directory entry."""
    at = data.index(b"PK\x01\x02")
    method = struct.unpack_from("<H", data, at + 10)[0]
    name_len, extra_len = struct.unpack_from("<HH", data, at + 28)
    extra = data[at + 46 + name_len: at + 46 + name_len + extra_len]
    return method, extra


def test_download_needs_the_grant(world: World) -> None:
    world.fill(world.a, 3)
    response = _download(world)
    assert response.status_code == 403
    _grant(world)
    assert _download(world).status_code == 200
    assert _download(world, key=world.b.admin_key).status_code == 403


def test_zip_is_aes256_and_csv_has_every_hit(world: World, tmp_path: Path) -> None:
    w = world
    _grant(w)
    w.fill(w.a, 150, subject=lambda i: f"件名 {i}")
    w.fill(w.a, 1, subject="=HYPERLINK(\"http://evil\")", api_data="+cmd", from_addr="@x",
           to_addr="-1@example.com", response="\tsneaky")
    response = _download(w)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    data = response.content
    method, extra = _central_directory(data)
    assert method == 99  # WinZip AES
    assert extra[:2] == b"\x01\x99"
    assert extra[8] == 3  # AES strength 3 = 256 bits
    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        zf.setpassword(b"wrong password")
        with pytest.raises(RuntimeError):
            zf.read(zf.namelist()[0])
    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        zf.setpassword(PASSWORD.encode())
        raw = zf.read(zf.namelist()[0])
    assert b"\r\n" not in raw and raw.endswith(b"\n")
    text = raw.decode("utf-8")
    lines = text.split("\n")[:-1]
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 152  # every hit, not capped at 100
    assert "件名 0" in text
    evil = next(line for line in lines if "HYPERLINK" in line)
    assert "'=HYPERLINK" in evil and "'+cmd" in evil and "'@x" in evil
    assert "'-1@example.com" in evil and "'\tsneaky" in evil
    if shutil.which("zipinfo"):
        (tmp_path / "e.zip").write_bytes(data)
        listing = subprocess.run(["zipinfo", "-v", str(tmp_path / "e.zip")],
                                 capture_output=True, text=True).stdout
        assert "AES" in listing or "encrypted" in listing


@pytest.mark.parametrize("password", [None, "", "short"])
def test_password_of_eight_characters_or_more(world: World, password: str | None) -> None:
    _grant(world)
    response = _download(world, password=password)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "password"


def test_cli_search_export_and_purge(world: World, tmp_path: Path) -> None:
    w = world
    w.fill(w.a, 12, to_addr=lambda i: f"cli{i}@example.com")
    w.fill(w.b, 2)
    env = gateway_env(tmp_path, w.store.url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "todoke.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    found = cli("errors", "search", "--account", "acme", "--start", w.today(-2), "--end",
                w.today(), "--to", "cli1", "--json")
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert body["total"] == 3  # cli1, cli10, cli11
    bad = cli("errors", "search", "--account", "acme", "--start", "2026-13-01", "--end",
              w.today())
    assert bad.returncode == 2 and "start_date" in bad.stderr
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    out = tmp_path / "errors.zip"
    done = cli("errors", "export", "--account", "acme", "--start", w.today(-2), "--end",
               w.today(), "--password-file", str(tmp_path / "pw"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    with pyzipper.AESZipFile(out) as zf:
        zf.setpassword(PASSWORD.encode())
        assert len(zf.read(zf.namelist()[0]).decode().splitlines()) == 13
    purged = cli("purge", "--days", "40")
    assert purged.returncode == 0, purged.stderr


def test_csv_cells_exact_on_both_engines(world: World, tmp_path: Path) -> None:
    """The database writes the CSV (COPY on PostgreSQL, printf on SQLite): the same bytes
    on both, text always quoted, quotes doubled, line breaks kept inside the quotes, empty
    texts as "", a formula neutralised only at the start of a cell."""
    from todoke.errorlog.export import write_zip
    from todoke.errorlog.search import Scope

    w = world
    w.fill(w.a, 1, subject='say "hi", then\nbye\r', api_data="", to_addr="a=b@example.com",
           response="-", message_id="<m@x>")
    out = tmp_path / "e.zip"
    assert write_zip(w.store, Scope(w.a.organisation_id), _days(w), PASSWORD, out) == 1
    with pyzipper.AESZipFile(out) as zf:
        zf.setpassword(PASSWORD.encode())
        raw = zf.read(zf.namelist()[0]).decode("utf-8")
    created = (w.now - timedelta(minutes=1)).replace(tzinfo=UTC).astimezone(
        ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    assert raw.split("\n", 1)[1] == (
        f'{created},2,"app@example.jp","a=b@example.com","<m@x>","bounces+t@bounce.localhost",'
        '"say ""hi"", then\nbye\r","","\'-"\n')
    row = next(csv.reader(io.StringIO(raw.split("\n", 1)[1], newline="")))
    assert row[6] == 'say "hi", then\nbye\r' and row[7] == "" and row[8] == "'-"


def _days(w: World) -> Criteria:
    return Criteria(date.fromisoformat(w.today(-3)), date.fromisoformat(w.today()))


class _Broken(io.BytesIO):
    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() > 20_000:
            raise OSError("disk full")
        return super().write(data)


def test_failed_write_stops_the_reader(world: World) -> None:
    """When the ZIP cannot be written, the error reaches the caller and the thread that
    reads ahead stops (nothing left running, nothing hanging)."""
    from todoke.errorlog.export import write_zip
    from todoke.errorlog.search import Scope

    w = world
    w.fill(w.a, 3000, subject=lambda i: f"件名 {i} " + hashlib.sha256(b"%d" % i).hexdigest())
    with pytest.raises(OSError, match="disk full"):
        write_zip(w.store, Scope(w.a.organisation_id), _days(w), PASSWORD, _Broken(),
                  block=4096)
    gc.collect()  # a half-written archive left open would complain here
    assert not [t for t in threading.enumerate() if t.name == "todoke-export"]

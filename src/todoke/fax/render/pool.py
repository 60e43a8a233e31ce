"""Renderer stage, isolation: renders mails in separate processes with time and memory limits.

Owns ``render_isolated`` and its pool of render processes (``python -m
todoke.fax.render.child``, each in its own session), so a hostile document cannot stall or
crash the queue's process. A child serves one job at a time, up to ``JOBS_PER_CHILD`` jobs,
and is thrown away after a timeout, a crash or running out of memory; one spare is kept
started and warm (imports and fonts loaded) so a job does not wait for Python to start.
Before each job the child sets its address-space limit (RLIMIT_AS: ``memory_mb`` for the
document on top of what the warm process already maps) and a CPU-time backstop;
a job that runs past the timeout is killed with the child's whole process group (LibreOffice
and the page-drawing helper included). A timeout, a crash or running out of memory is a
204000 with a reason that says which.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any

from .model import RenderedDocument, RenderError, RenderOptions, cannot_convert

JOBS_PER_CHILD = 25
MAX_IDLE = max(2, os.cpu_count() or 1)  # warm children kept between jobs

_lock = threading.Lock()
_idle: list[_Child] = []


class _Child:
    """One render process and its pipes."""

    def __init__(self) -> None:
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - the child's life
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "todoke.fax.render.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,
            close_fds=True,
        )
        self.jobs = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def last_error_line(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 2000))
            lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1][:200] if lines else ""
        return ""


def _take() -> _Child:
    """An idle warm child (or a new one), leaving a warm spare behind."""
    with _lock:
        child = None
        while _idle and child is None:
            candidate = _idle.pop()
            if candidate.alive():
                child = candidate
            else:
                candidate.kill()
        if not _idle:
            _idle.append(_Child())
    return child if child is not None else _Child()


def _give_back(child: _Child) -> None:
    if child.jobs >= JOBS_PER_CHILD or not child.alive():
        child.kill()
        return
    with _lock:
        if len(_idle) < MAX_IDLE:
            _idle.append(child)
            return
    child.kill()


def shutdown() -> None:
    """Stop the idle children (for a clean exit of the worker)."""
    with _lock:
        children = list(_idle)
        _idle.clear()
    for child in children:
        child.kill()


def _read_exact(fd: int, size: int, deadline: float) -> bytes | None:
    """``size`` bytes from ``fd``; None on EOF; TimeoutError past the deadline."""
    chunks: list[bytes] = []
    poller = select.poll()  # not select(): a busy server's descriptors pass FD_SETSIZE
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while size > 0:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(max(1, int(left * 1000))):
            raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def render_isolated(raw: bytes, options: RenderOptions, timeout: float = 60.0,
                    memory_mb: int = 1024) -> RenderedDocument:
    """Render ``raw`` in a separate process; raises RenderError (timeouts and crashes too)."""
    request = pickle.dumps((raw, options, memory_mb, timeout), protocol=pickle.HIGHEST_PROTOCOL)
    child = _take()
    deadline = time.monotonic() + timeout
    message: tuple[str, Any] | None = None
    reusable = False
    code: int | None = None
    last = ""
    try:
        assert child.proc.stdin is not None and child.proc.stdout is not None
        try:
            child.proc.stdin.write(struct.pack("<Q", len(request)) + request)
            child.proc.stdin.flush()
            fd = child.proc.stdout.fileno()
            head = _read_exact(fd, 8, deadline)
            body = _read_exact(fd, struct.unpack("<Q", head)[0], deadline) if head else None
            if body is not None:
                message = pickle.loads(body)
        except TimeoutError:
            raise cannot_convert(
                "mail",
                f"rendering took longer than {timeout:g} s and was stopped",
                f"FAX 画像への変換が制限時間 {timeout:g} 秒を超えたため中止しました",
            ) from None
        except (OSError, EOFError, pickle.UnpicklingError, struct.error):
            message = None
        child.jobs += 1
        reusable = message is not None and message[0] in ("ok", "error")
    finally:
        if reusable:
            _give_back(child)
        else:
            if message is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(0.5)  # let a dying child finish, for its exit status
            code = child.proc.poll()
            last = child.last_error_line()
            child.kill()
    if message is None:
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        if last:
            how += f": {last}"
        raise cannot_convert(
            "mail",
            f"the renderer process died while converting the mail ({how}); "
            f"the document may be damaged, too complex, or need more than {memory_mb} MB",
            "FAX 画像への変換中に変換プロセスが異常終了しました"
            "（文書の破損、複雑すぎる、またはメモリ上限超過の可能性）",
        )
    kind, value = message
    if kind == "ok":
        doc: RenderedDocument = value
        return doc
    if kind == "error":
        err: RenderError = value
        raise err
    if kind == "oom":
        raise cannot_convert(
            "mail",
            f"rendering needed more than the {memory_mb} MB memory limit",
            f"FAX 画像への変換に必要なメモリが上限 {memory_mb} MB を超えました",
        )
    raise cannot_convert(
        "mail", f"the renderer failed: {value}", f"FAX 画像への変換に失敗しました: {value}",
    )

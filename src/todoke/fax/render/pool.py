"""Renderer stage, isolation: renders a mail in a separate process with time and memory limits.

Owns ``render_isolated``. Each document is rendered by a fresh child process
(``python -m todoke.fax.render.child``) in its own session, so a hostile PDF cannot stall or
crash the queue's process. One child is kept started and warm (its imports done) so a job
does not wait for Python to start. The child puts itself under an address-space limit
(RLIMIT_AS) and a CPU-time limit (a backstop should this process die) before rendering; a
document that runs past the timeout is killed with its whole process group (LibreOffice
and the page-drawing helper included). A timeout, a crash or running out of memory is a
204000 with a reason that says which.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from typing import Any

from .model import RenderedDocument, RenderError, RenderOptions, cannot_convert

_lock = threading.Lock()
_spare: subprocess.Popen[bytes] | None = None


def _start() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "todoke.fax.render.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )


def _take() -> subprocess.Popen[bytes]:
    """A started child (the warm spare when there is one), leaving a new spare behind."""
    global _spare
    with _lock:
        proc = _spare if _spare is not None and _spare.poll() is None else None
        _spare = _start()
    return proc if proc is not None else _start()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def shutdown() -> None:
    """Stop the warm spare child (for a clean exit of the worker)."""
    global _spare
    with _lock:
        if _spare is not None:
            _kill_group(_spare)
            _spare.wait()
            _spare = None


def render_isolated(raw: bytes, options: RenderOptions, timeout: float = 60.0,
                    memory_mb: int = 1024) -> RenderedDocument:
    """Render ``raw`` in a separate process; raises RenderError (timeouts and crashes too)."""
    request = pickle.dumps((raw, options, memory_mb, timeout), protocol=pickle.HIGHEST_PROTOCOL)
    proc = _take()
    try:
        out, err = proc.communicate(struct.pack("<Q", len(request)) + request, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise cannot_convert(
            "mail",
            f"rendering took longer than {timeout:g} s and was stopped",
            f"FAX 画像への変換が制限時間 {timeout:g} 秒を超えたため中止しました",
        ) from None
    finally:
        _kill_group(proc)  # helpers (soffice) the child may have left in its group
    message: tuple[str, Any] | None = None
    if len(out) >= 8:
        (size,) = struct.unpack("<Q", out[:8])
        if len(out) >= 8 + size:
            with contextlib.suppress(Exception):
                message = pickle.loads(out[8 : 8 + size])
    if message is None:
        code = proc.returncode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        if last:
            how += f": {last[0][:200]}"
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

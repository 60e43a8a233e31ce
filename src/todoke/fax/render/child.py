"""Renderer stage, child process: the other end of ``pool.render_isolated``.

Owns the child's side: import the renderer and load the fonts before any job arrives (so a
spare is warm), then serve jobs one at a time from stdin to stdout (length-prefixed pickles
from the parent that started it), each under its own address-space limit (memory_mb on top
of what the warm process already maps) and CPU-time backstop, until stdin closes. Never used
in-process.
"""

from __future__ import annotations

import pickle
import resource
import struct
import sys
from typing import Any


def _read_exact(stream: Any, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _mapped_bytes() -> int:
    """Address space this process maps now (libraries, fonts, Python), from /proc."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _limit(memory_mb: int, timeout: float) -> None:
    # The budget is for the document: on top of what the warm process already maps.
    limit = _mapped_bytes() + int(memory_mb) * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # Backstop for a parent that died before it could kill us: CPU seconds from now.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(usage.ru_utime + usage.ru_stime + float(timeout) * 2) + 10
    _soft, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    if hard_cpu == resource.RLIM_INFINITY or cpu <= hard_cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard_cpu))


def main() -> int:
    """Serve render requests on stdin / stdout until stdin closes."""
    from .model import RenderError
    from .pipeline import render_mail, warm_up

    warm_up()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = _read_exact(stdin, 8)
        if head is None:
            return 0  # the parent is done with us
        body = _read_exact(stdin, struct.unpack("<Q", head)[0])
        if body is None:
            return 0
        raw, options, memory_mb, timeout = pickle.loads(body)
        _limit(memory_mb, timeout)
        try:
            result: tuple[str, Any] = ("ok", render_mail(raw, options))
        except RenderError as exc:
            result = ("error", exc)
        except MemoryError:
            result = ("oom", None)
        except Exception as exc:
            result = ("crash", f"{type(exc).__name__}: {exc}")
        del raw, body
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("oom", None))
        stdout.write(struct.pack("<Q", len(data)) + data)
        stdout.flush()
        if result[0] in ("oom", "crash"):
            return 1  # the parent throws this child away


if __name__ == "__main__":
    sys.exit(main())

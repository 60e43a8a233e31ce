"""Renderer stage, child process: the other end of ``pool.render_isolated``.

Owns the child's side: import the renderer before any job arrives (so a warm spare is ready),
read one request from stdin, limit its own address space, render, write the answer to
stdout, exit. Never used in-process.
"""

from __future__ import annotations

import pickle
import resource
import struct
import sys
from typing import Any


def _read_exact(stream: Any, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("request cut short")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def main() -> int:
    """Serve one render request on stdin / stdout."""
    from .model import RenderError
    from .pipeline import render_mail, warm_up

    warm_up()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        (size,) = struct.unpack("<Q", _read_exact(stdin, 8))
        raw, options, memory_mb, timeout = pickle.loads(_read_exact(stdin, size))
    except (EOFError, struct.error):
        return 0  # the parent went away (the spare was never used)
    limit = int(memory_mb) * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # Backstop for a parent that died before it could kill us: CPU seconds, not wall time.
    _soft, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    cpu = int(float(timeout) * 2) + 10
    if hard_cpu == resource.RLIM_INFINITY or cpu <= hard_cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard_cpu))
    try:
        result: tuple[str, Any] = ("ok", render_mail(raw, options))
    except RenderError as exc:
        result = ("error", exc)
    except MemoryError:
        result = ("oom", None)
    except Exception as exc:
        result = ("crash", f"{type(exc).__name__}: {exc}")
    try:
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("oom", None))
    stdout.write(struct.pack("<Q", len(data)) + data)
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

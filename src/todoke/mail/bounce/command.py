"""Bounce stage, command line: `todoke classify [--json] FILE...`.

Owns the CLI contract. With --json: one JSON object per line and recipient,
{"file", "recipient", "reason", "status", "replycode", "hardbounce", "error_status"}, where
"file" is the path as given. Without: one readable, aligned line per recipient. A mail that
is no bounce prints nothing. Many files are spread over a process pool (jobs=0: one worker
per core when there are enough files to pay for the workers). Exit status 0, or 2 when a
file could not be read or parsed (reported on stderr, the other files are still done).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: Below this many files a pool costs more than it saves.
POOL_THRESHOLD = 500
CHUNK = 32


def _one(path: str) -> tuple[str, list[dict[str, object]], str]:
    """Classify one file: (path, records as dicts, error message)."""
    from . import classify_file

    try:
        recs = classify_file(path)
    except OSError as exc:
        return path, [], f"{path}: {exc.strerror or exc}"
    except Exception as exc:  # a malformed mail must not stop the batch
        return path, [], f"{path}: cannot classify: {exc!r}"
    return path, [
        {
            "file": path,
            "recipient": r.recipient,
            "reason": r.reason,
            "status": r.status,
            "replycode": r.replycode,
            "hardbounce": r.hardbounce,
            "error_status": r.error_status,
        }
        for r in recs
    ], ""


def _chunk(paths: list[str]) -> list[tuple[str, list[dict[str, object]], str]]:
    return [_one(p) for p in paths]


def _results(paths: list[str], jobs: int) -> Iterable[tuple[str, list[dict[str, object]], str]]:
    if jobs == 0:
        jobs = os.cpu_count() or 1
        if len(paths) < POOL_THRESHOLD:
            jobs = 1
    if jobs <= 1 or len(paths) < 2:
        for p in paths:
            yield _one(p)
        return
    import multiprocessing as mp

    from .reason import warm_up

    warm_up()  # compile the phrase regexes once, before the workers are forked

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    size = max(1, min(CHUNK, len(paths) // (jobs * 4) or 1))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ctx.Pool(jobs) as pool:
        for part in pool.imap(_chunk, chunks):
            yield from part


def _table_line(d: dict[str, object]) -> str:
    hard = "hard" if d["hardbounce"] else "soft"
    return (f"{d['file']}  {d['recipient']}  {d['reason']:<15} {d['status'] or '-':<8} "
            f"{d['replycode'] or '-':<4} {hard} {d['error_status']}")


def classify_main(files: list[Path], as_json: bool, jobs: int = 0) -> int:
    """Run the classify command over files; returns the process exit status."""
    import json

    paths = [str(f) for f in files]
    out = sys.stdout
    failed = False
    lines: list[str] = []
    for _path, recs, err in _results(paths, jobs):
        if err:
            failed = True
            print(err, file=sys.stderr)
            continue
        for d in recs:
            lines.append(json.dumps(d, ensure_ascii=False) if as_json else _table_line(d))
        if len(lines) >= 512:
            out.write("\n".join(lines) + "\n")
            lines.clear()
    if lines:
        out.write("\n".join(lines) + "\n")
    out.flush()
    return 2 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m todoke.mail.bounce.command [--json] [-j N] FILE...`"""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="todoke classify", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON line per recipient")
    ap.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (0: auto)")
    ap.add_argument("files", nargs="+", type=Path)
    ns = ap.parse_args(argv)
    return classify_main(ns.files, ns.json, ns.jobs)


if __name__ == "__main__":
    sys.exit(main())

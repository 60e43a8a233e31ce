"""Bench: bounce classification speed and accuracy, todoke vs Sisimai (libsisimai-perl).

Runs over the sample folder (default ../shared/bounces/train beside the repo) and prints, side
by side, files per second for
  - todoke in-process (classify_bytes over bytes already read, best of several rounds),
  - todoke as a whole process (`todoke classify --json FILE...`, startup, imports and the
    process pool included),
  - Sisimai in-process (its parse loop, timed inside perl) and as a whole process
    (`perl bench/sisimai_parse.pl FILE...`), when perl can load Sisimai,
and todoke's accuracy against expected.json (reason, status, reply code, hard bounce).

With --repeat N the same files are also run N times over (copied to a temp folder), to show
the rate on thousands of files, where start-up no longer dominates.

usage: python bench/classify.py [SAMPLE_DIR] [--rounds N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = (ROOT / "../shared/bounces/train").resolve()
PERL_SCRIPT = ROOT / "bench" / "sisimai_parse.pl"


def best_of(rounds: int, fn: object) -> float:
    """Smallest wall time of `rounds` calls of fn()."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best


def ours_in_process(files: list[Path], rounds: int) -> float:
    from todoke.mail.bounce import classify_bytes

    blobs = [f.read_bytes() for f in files]

    def run() -> None:
        for b in blobs:
            classify_bytes(b)

    run()  # warm up: imports, regex compilation
    return len(files) / best_of(rounds, run)


def ours_whole_process(files: list[Path], rounds: int) -> float:
    todoke = Path(sys.executable).with_name("todoke")  # the installed `todoke classify`
    cmd = [str(todoke), "classify", "--json", *map(str, files)]

    def run() -> None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    return len(files) / best_of(rounds, run)


def sisimai_available() -> bool:
    if not shutil.which("perl"):
        return False
    return subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0


def sisimai(files: list[Path], rounds: int) -> tuple[float, float]:
    """(in-process files/s, whole-process files/s) of Sisimai."""
    cmd = ["perl", str(PERL_SCRIPT), *map(str, files)]
    inner = float("inf")
    whole = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        p = subprocess.run(cmd, check=True, capture_output=True, text=True)
        whole = min(whole, time.perf_counter() - t)
        for line in p.stderr.splitlines():
            if line.startswith("elapsed:"):
                inner = min(inner, float(line.split()[1]))
    return len(files) / inner, len(files) / whole


def accuracy(sample_dir: Path) -> tuple[int, int]:
    from todoke.mail.bounce import classify_file

    exp_path = sample_dir.parent / "expected.json"
    if not exp_path.is_file():
        return 0, 0
    rows = json.loads(exp_path.read_text(encoding="utf-8"))
    by_file: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        by_file[r["file"]].append(r)
    ok = 0
    for name, recs in by_file.items():
        got = classify_file(sample_dir / name)
        for r in recs:
            i = int(r["index"]) - 1  # type: ignore[call-overload]
            if i < len(got):
                g = got[i]
                if (g.reason, g.status, g.replycode, g.hardbounce) == (
                        r["reason"], r["status"], r["replycode"], r["hardbounce"]):
                    ok += 1
    return ok, len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sample_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    ns = ap.parse_args()
    files = sorted(ns.sample_dir.glob("*.eml"))
    if not files:
        print(f"no .eml files in {ns.sample_dir}", file=sys.stderr)
        return 1
    print(f"{len(files)} files in {ns.sample_dir}")
    ours_in = ours_in_process(files, ns.rounds)
    ours_whole = ours_whole_process(files, ns.rounds)
    print(f"{'':22}{'in-process':>14}{'whole process':>16}   (files/s)")
    print(f"{'todoke':22}{ours_in:14.0f}{ours_whole:16.0f}")
    if sisimai_available():
        s_in, s_whole = sisimai(files, ns.rounds)
        print(f"{'Sisimai (perl)':22}{s_in:14.0f}{s_whole:16.0f}")
        print(f"{'todoke / Sisimai':22}{ours_in / s_in:13.1f}x{ours_whole / s_whole:15.1f}x")
    else:
        print("Sisimai: not installed (apt-get install libsisimai-perl)")
    if ns.repeat > 1 and sisimai_available():
        with tempfile.TemporaryDirectory() as tmp:
            many = []
            for n in range(ns.repeat):
                for f in files:
                    copy = Path(tmp) / f"{n:03d}-{f.name}"
                    copy.write_bytes(f.read_bytes())
                    many.append(copy)
            rounds = max(1, ns.rounds // 2)
            ours_many = ours_whole_process(many, rounds)
            s_many = sisimai(many, rounds)[1]
            print(f"{len(many)} files (the folder {ns.repeat} times), whole process: todoke "
                  f"{ours_many:.0f}/s, Sisimai {s_many:.0f}/s = {ours_many / s_many:.1f}x")
    ok, total = accuracy(ns.sample_dir)
    if total:
        print(f"todoke accuracy: {ok}/{total} records = {ok / total:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

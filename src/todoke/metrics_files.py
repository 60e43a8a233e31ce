"""Operations: where the processes of one ``todoke serve`` keep their Prometheus counters.

Kept apart from metrics.py because it must run before prometheus_client is imported (the
library picks its value class, in-memory or shared files, at import time).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def use_process_files(folder: Path) -> None:
    """Make this process and every process forked from it count into ``folder`` (emptied
    first, so a restart starts from zero, as a restarted process's counters do)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)

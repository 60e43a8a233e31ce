"""Search, PostgreSQL: which part of a partial-match value the pg_trgm index should be asked
for.

Stage: a helper of ``search.partial`` on PostgreSQL. ``col ILIKE '%value%'`` makes pg_trgm read
the posting list of every trigram of the pattern, and the cost depends on which trigrams
those are: in ``%@d17.ex%`` the words that start after ``@`` and ``.`` bring the padded
trigrams ``"  d"`` and ``"  e"``, which every address has (10M rows: 116 ms), while
``%d17.%`` asks for two rare ones (24 ms). So the index is asked for the window of the value
whose trigrams cost least, and the whole value is checked on the rows it returns.

The cost of a window is estimated from how often its trigrams occur in a sample of the
column's newest rows (``show_trgm``, the index's own trigrams; cached per column for
SAMPLE_SECONDS): reading the posting lists (the sum of the frequencies) plus fetching the rows
they leave (the product, as if independent) at HEAP_WEIGHT times the price of a posting entry.
The pattern's trigrams follow pg_trgm's rules for LIKE: a word bounded by another character
inside the pattern is padded (two spaces before, one after); one that touches the ``%`` is not.
Values with characters outside ASCII keep the older rule (``search.rare_window``): pg_trgm
hashes those trigrams, so the sample cannot be matched to them.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

SAMPLE_ROWS = 2000
SAMPLE_SECONDS = 600.0
HEAP_WEIGHT = 2000.0  # a row fetched from the table costs about this many posting entries
MAX_WINDOW = 16
_WORD = re.compile(r"[a-z0-9]+")
_samples: dict[tuple[str, str, str], tuple[float, dict[str, float], float]] = {}
_lock = threading.Lock()


def like_trigrams(segment: str) -> set[str]:
    """The trigrams pg_trgm extracts from ``LIKE '%segment%'`` (ASCII, any case)."""
    lower = segment.lower()
    found: set[str] = set()
    for word in _WORD.finditer(lower):
        padded = (("  " if word.start() > 0 else "") + word.group()
                  + (" " if word.end() < len(lower) else ""))
        found.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return found


def frequencies(session: Session, table: str, column: str) -> tuple[dict[str, float], float]:
    """Share of sampled rows holding each trigram of ``table.column``, and the share a trigram
    absent from the sample is taken to have (half a row)."""
    key = (str(session.get_bind().engine.url), table, column)
    now = time.monotonic()
    cached = _samples.get(key)
    if cached is not None and now - cached[0] < SAMPLE_SECONDS:
        return cached[1], cached[2]
    if session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")) is None:
        with _lock:  # no pg_trgm (its migration warned): nothing to sample, nor an index
            _samples[key] = (now, {}, 0.0)
        return {}, 0.0
    rows = session.execute(text(
        f"SELECT t, count(*) FROM (SELECT unnest(show_trgm({column})) AS t FROM "
        f"(SELECT {column} FROM {table} ORDER BY id DESC LIMIT {SAMPLE_ROWS}) s) x "
        "GROUP BY t")).all()
    total = session.scalar(text(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {SAMPLE_ROWS}) s")) or 0
    size = max(int(total), 1)
    shares = {str(t): int(n) / size for t, n in rows}
    with _lock:
        _samples[key] = (now, shares, 0.5 / size)
    return shares, 0.5 / size


def cost(segment: str, shares: dict[str, float], absent: float) -> float | None:
    """The estimated price of asking the index for ``segment`` (None: no trigram at all, the
    index cannot help)."""
    grams = like_trigrams(segment)
    if not grams:
        return None
    reads = 0.0
    rows = 1.0
    for gram in grams:
        share = shares.get(gram, absent)
        reads += share
        rows *= share
    return reads + HEAP_WEIGHT * max(rows, absent * absent)


def best_window(session: Session, column: Any, value: str) -> str | None:
    """The part of ``value`` to give the trigram index (None: keep the older rule)."""
    if not value.isascii() or len(value) < 3:
        return None
    shares, absent = frequencies(session, column.table.name, column.key)
    if not shares:
        return None
    best: tuple[float, int, str] | None = None
    for size in range(3, min(len(value), MAX_WINDOW) + 1):
        for start in range(len(value) - size + 1):
            window = value[start:start + size]
            price = cost(window, shares, absent)
            if price is not None and (best is None or (price, -size) < best[:2]):
                best = (price, -size, window)
    whole = cost(value, shares, absent)
    if whole is not None and (best is None or whole <= best[0]):
        return value
    return best[2] if best else None

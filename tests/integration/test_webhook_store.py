"""The webhooks store reads only what is committed, though reads and writes share a connection."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from services.webhooks.store import Webhook, WebhookStore

if TYPE_CHECKING:
    from pathlib import Path


async def test_a_read_never_sees_a_write_that_is_rolled_back(tmp_path: Path) -> None:
    store = WebhookStore(tmp_path / "webhooks.db")
    await store.open()
    try:
        hook = Webhook("wh_1", "https://example.com/in", (), None, "whsec_x", 1.0, 0, None, None)
        await store.add(hook)
        # a write transaction as the store's writers run them (under the lock), that fails
        async with store.lock:
            await store.db.execute("BEGIN IMMEDIATE")
            await store.db.execute("DELETE FROM webhooks")
            reading = asyncio.create_task(store.webhooks())
            await asyncio.wait({reading}, timeout=1)  # a read asked for meanwhile ...
            await store.db.execute("ROLLBACK")
        assert [found.id for found in await reading] == ["wh_1"]  # ... sees what is committed
    finally:
        await store.close()

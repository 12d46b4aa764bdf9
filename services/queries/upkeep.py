"""A store's upkeep in the background, so its queries find little left to compute.

A projector writes states without what costs more than folding them: health bands, proposal
readiness ceilings (`SqliteStore.upkeep`). A query computes what is missing for the rows it
reads; after a build or a burst that is every row, and the first query would take seconds.
Once the projector has caught up, the keeper does it instead, a chunk at a time between the
other work of the event loop, and again each `every` seconds for what moved since.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from services.config.tasks import stop_task

if TYPE_CHECKING:
    from collections.abc import Callable

    from projections.store_base import SqliteStore

log = logging.getLogger("rapport.queries")

KEEP_EVERY = 2.0  # seconds between rounds


class Upkeep:
    """Runs a store's `upkeep` while the projector is caught up."""

    def __init__(
        self,
        store: Callable[[], SqliteStore[Any]],
        ready: Callable[[], bool],
        *,
        every: float = KEEP_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store  # the store in use now (a swap changes it)
        self.ready = ready  # the projector has caught up with the log
        self.every = every
        self.clock = clock
        self.kept_at: float | None = None  # when the last whole round started
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # a flag as well as a cancel (services.config.tasks)

    def start(self) -> None:
        """Start keeping."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="store-upkeep")

    async def stop(self) -> None:
        """Stop (a round cut short leaves its rows for the next round, or the next query)."""
        task, self._task = self._task, None
        self._stopping = True
        await stop_task(task)

    async def round(self) -> None:
        """Bring the store up to date, if the projector has caught up."""
        if self.ready():
            now = self.clock()
            if await self.store().upkeep(now):
                self.kept_at = now

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store that cannot be written now: try again next round
                log.exception("store upkeep: a round failed; trying again")
            await asyncio.sleep(self.every)

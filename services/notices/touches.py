"""`touch.due` at the moment a touch falls due, with no event and nobody asking.

The health service runs this scheduler beside its projector. It keeps a watermark in the
store (`touch_due_after`: the last (due instant, relationship) announced); each round it puts
a notice for every relationship whose `next_touch_due` lies after the watermark and at or
before now into the outbox, and moves the watermark, in one transaction; the outbox publisher
sends them. It sleeps until the next due instant it knows of, or `tick` seconds when a new
event may have brought an earlier one, so a touch is announced within a tick of falling due.

A store that starts without a watermark starts it at now: due instants that passed before
are not announced (`rapport due` lists them). While the projector is catching up on the log,
the scheduler waits: an event not yet applied may be the touch that makes it not due. A closed
relationship has no due instant, so it is never announced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Protocol

import orjson

from projections.health.notices import touch_due_notice
from services.config.tasks import stop_task

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from projections.health.fold import HealthState
    from services.notices.outbox import OutboxRow

log = logging.getLogger("rapport.notices")

WATERMARK = "touch_due_after"  # store meta: [due, relationship id] announced last
PAGE = 2000  # relationships announced in one transaction
KEEP_EVERY = 60.0  # seconds between writes of a watermark that moved with no announcement


class DueStore(Protocol):
    """What the scheduler needs of the health store."""

    async def due_between(
        self, after: tuple[float, str], upto: float, limit: int
    ) -> list[tuple[str, float, HealthState]]: ...

    async def next_due_after(self, after: float) -> float | None: ...

    async def add_notices(self, notices: Sequence[OutboxRow], meta: dict[str, str]) -> None: ...

    async def meta(self, key: str, default: str, *, reader: bool = True) -> str: ...


class TouchScheduler:
    """Announces touches as they fall due."""

    def __init__(
        self,
        store: Callable[[], DueStore],
        published: Callable[[], None],
        ready: Callable[[], bool],
        *,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store  # the store in use now (a swap changes it)
        self.published = published  # tells the outbox publisher
        self.ready = ready  # the projector has caught up with the log
        self.tick = tick
        self.clock = clock
        self.announced = 0
        self._mark: tuple[float, str] | None = None
        self._kept_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # a flag as well as a cancel (services.config.tasks)

    def start(self) -> None:
        """Start announcing."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="touch-due")

    async def stop(self) -> None:
        """Stop (the watermark is where it was last committed)."""
        task, self._task = self._task, None
        self._stopping = True
        await stop_task(task)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delay = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store that cannot be read now: try again next tick
                log.exception("touch.due: a round failed; trying again")
                delay = self.tick
            await asyncio.sleep(delay)

    async def round(self) -> float:
        """Announce what fell due since the watermark; how long to sleep before the next round."""
        store = self.store()
        mark = self._mark or await self._watermark(store)
        if self.ready():
            now = self.clock()
            while True:
                due = await store.due_between(mark, now, PAGE)
                if not due:
                    break
                notices = [touch_due_notice(state, at, now) for _, at, state in due]
                mark = (due[-1][1], due[-1][0])
                rows = [(n.id, n.subject, n.body()) for n in notices]
                await store.add_notices(rows, {WATERMARK: _encode(mark)})
                self._kept_at = self.clock()
                self.announced += len(rows)
                self.published()
                if len(due) < PAGE:
                    break
            if mark[0] < now:  # nothing more fell due up to now: start the next look there
                mark = (now, "")
                if self.clock() - self._kept_at > KEEP_EVERY:  # a restart resumes near here
                    await store.add_notices([], {WATERMARK: _encode(mark)})
                    self._kept_at = self.clock()
        self._mark = mark
        upcoming = await store.next_due_after(mark[0])
        if upcoming is None:
            return self.tick
        return min(self.tick, max(0.0, upcoming - self.clock()))

    async def _watermark(self, store: DueStore) -> tuple[float, str]:
        kept = await store.meta(WATERMARK, "", reader=False)
        if kept:
            due, rel = orjson.loads(kept)
            return float(due), str(rel)
        mark = (self.clock(), "")  # a new store announces from now on, never the past
        await store.add_notices([], {WATERMARK: _encode(mark)})
        self._kept_at = self.clock()
        return mark


def _encode(mark: tuple[float, str]) -> str:
    return orjson.dumps(list(mark)).decode()

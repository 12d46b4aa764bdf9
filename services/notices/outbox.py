"""Publish what a store's notice outbox holds, exactly once across crashes.

A batch's notices commit in the same SQLite transaction as its checkpoint (the outbox). This
publisher sends them to `RAPPORT_NOTICES` after the commit, in outbox order, with
`Nats-Msg-Id` = the notice id, and forgets each one only once JetStream has acknowledged it.
On start it sends whatever a crash left unsent; a notice sent just before a crash, but not yet
forgotten, is sent again and JetStream's duplicate window drops the copy. A publish that fails
(no stream yet, NATS away, a full disk) is retried with backoff: the projection never waits for
it, and nothing in the outbox is lost while it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Protocol

from services.config.tasks import stop_task

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from nats.aio.client import Client as NATS

    OutboxRow = tuple[str, str, bytes]  # (notice id, subject, body), as the stores keep them

log = logging.getLogger("rapport.notices")

CHUNK = 1000  # notices in flight at once (one read of the outbox, one delete)
IDLE_CHECK = 5.0  # seconds between looks at the outbox when nothing says it has news
# After a wake, wait this long for more before sending: a projector catching up commits many
# small batches a second, and each round of sending costs a read, a delete and a wait for acks
# however few it carries. A notice goes out at most this much later.
LINGER = 0.1
MAX_BACKOFF = 30.0


class Outbox(Protocol):
    """A store's notice outbox (`projections.store_base.SqliteStore`)."""

    async def unsent_notices(self, limit: int) -> list[tuple[int, OutboxRow]]: ...

    async def notices_sent(self, numbers: Sequence[int]) -> None: ...

    async def add_notices(self, notices: Sequence[OutboxRow], meta: dict[str, str]) -> None: ...

    async def meta(self, key: str, default: str, *, reader: bool = True) -> str: ...


class OutboxPublisher:
    """Sends a store's unsent notices whenever told there are some, and every few seconds."""

    def __init__(
        self, nc: NATS, outbox: Callable[[], Outbox], name: str, *, timeout: float = 5.0
    ) -> None:
        self.js = nc.jetstream(publish_async_max_pending=CHUNK)
        self.outbox = outbox  # the store in use now (a swap changes it)
        self.name = name
        self.timeout = timeout
        self.published = 0
        self.problem: str | None = None  # why notices are not going out now
        self._news = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # a flag as well as a cancel (services.config.tasks)

    def wake(self) -> None:
        """Say the outbox has something new (a batch with notices was committed)."""
        self._news.set()

    def start(self) -> None:
        """Send what a previous run left, then keep sending."""
        self._news.set()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.name}")

    async def stop(self) -> None:
        """Stop sending (what is unsent stays in the outbox for the next start)."""
        task, self._task = self._task, None
        self._stopping = True
        await stop_task(task)

    async def drain(self, within: float) -> bool:
        """Send what is in the outbox now; True once it is empty (False after `within` s)."""
        try:
            await asyncio.wait_for(self._until_empty(), within)
        except Exception:  # NATS away, a timeout: it stays in the outbox
            return False
        return True

    async def _until_empty(self) -> None:
        while await self.send_some():
            pass

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), IDLE_CHECK)
            if not self._stopping:
                await asyncio.sleep(LINGER)  # let the batches committing now join this round
            self._news.clear()
            try:
                while await self.send_some():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                said = f"cannot publish notices: {exc.__class__.__name__}: {exc}"
                if said != self.problem:
                    log.warning("%s: %s; retrying", self.name, said)
                self.problem = said
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                self._news.set()  # try again at once after the pause
                continue
            if self.problem is not None:
                log.info("%s: publishing notices again", self.name)
            self.problem = None
            backoff = 0.2

    async def send_some(self) -> bool:
        """Publish the oldest unsent notices; True when some were (there may be more)."""
        outbox = self.outbox()
        rows = await outbox.unsent_notices(CHUNK)
        if not rows:
            return False
        pending = [
            await self.js.publish_async(subject, body, headers={"Nats-Msg-Id": notice_id})
            for _, (notice_id, subject, body) in rows
        ]
        acknowledged: list[int] = []
        try:
            # one wait for them all (not one timer per notice), then read them in order
            await asyncio.wait(pending, timeout=self.timeout)
            for (number, _), future in zip(rows, pending, strict=True):
                if not future.done() or future.cancelled():
                    raise TimeoutError(f"no acknowledgement within {self.timeout:g} s")
                future.result()  # a refusal (no stream, no room) raises here
                acknowledged.append(number)  # in order: stop at the first one not acknowledged
        finally:
            for future in pending:
                future.cancel()  # no-op on the acknowledged; frees the slots of the others
            if acknowledged:
                await outbox.notices_sent(acknowledged)
                self.published += len(acknowledged)
        return True


async def carry(old: Outbox, new: Outbox, keys: Sequence[str]) -> int:
    """Move what `old` has not published, and its `keys` of meta, into `new` (a swap)."""
    rows = [row for _, row in await old.unsent_notices(1_000_000)]
    meta = {}
    for key in keys:
        value = await old.meta(key, "", reader=False)
        if value:
            meta[key] = value
    await new.add_notices(rows, meta)
    return len(rows)

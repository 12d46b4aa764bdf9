"""The durable index of event ids: built from the log like a projection, consulted by the ingest.

It keeps, on disk, every event id with the stream sequence and digest of its first stored copy
(the `event_ids` table every store has; this projection has nothing else), so the ingest can
answer a retry `duplicate` with the original sequence at any age, and refuse another event
under a used id as a `conflict`, without holding ten million ids in memory.

What the index has not read yet is covered by JetStream's duplicate window: the ingest trusts
"not in the index" only while the index has taken everything stored more than half a window
ago (`IdentityIndex.fresh`); otherwise it checks the stream's tail first, or refuses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from events.queries import IdsQuery
from events.subjects import EVENTS_STREAM
from projections.store_base import SqliteStore
from services.projection_service import ProjectionSpec, QueryError, Route

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiosqlite
    from nats.aio.client import Client as NATS

    from events import Event
    from events.reading import FirstCopy
    from services.projection_service import ProjectionService


class IndexBehind(RuntimeError):
    """The index did not read the log up to a sequence in time."""


class IdentityStore(SqliteStore[None]):
    """Only the ids: no view rows."""

    async def load_rows(self, keys: Sequence[str]) -> dict[str, None]:
        """No states to load."""
        return {}

    async def write_rows(
        self, writer: aiosqlite.Connection, changes: Mapping[str, tuple[None, None]]
    ) -> None:
        """No states to write."""


def keep_nothing(state: None, event: Event, seq: int = 0) -> None:
    """The identity projection folds no state: the applier records every id it reads."""
    return state


def routes(service: ProjectionService) -> list[Route]:
    """`rapport.q.identity.lookup`: the first stored copy of each of some ids."""

    async def lookup(query: IdsQuery) -> dict[str, Any]:
        try:
            found = await IdentityIndex(service).first_copies(set(query.ids), query.upto_seq)
        except IndexBehind as exc:
            raise QueryError("unavailable", str(exc)) from None
        return {"found": {i: {"seq": seq, "digest": d.hex()} for i, (seq, d) in found.items()}}

    return [Route("lookup", IdsQuery, lookup)]


SPEC = ProjectionSpec(
    name="identity",
    fold=keep_nothing,
    store=IdentityStore,
    routes=routes,
    version=1,
    dead_letters=False,  # the projections keep what cannot be read; the index only skips it
)

FIRST_COPIES_WAIT = 2.0  # seconds to wait for the index to read up to a sequence asked about


class IdentityIndex:
    """The index as the ingest (in the same process) consults it."""

    def __init__(self, service: ProjectionService) -> None:
        self.service = service

    async def first_copies(self, ids: set[str], upto_seq: int = 0) -> dict[str, FirstCopy]:
        """(seq, digest) of the first stored copy of each id the index has read.

        With `upto_seq`, first waits (briefly) until the index has read up to that sequence,
        and raises `IndexBehind` if it does not.
        """
        projector = self.service.projector
        if upto_seq and not await projector.wait_taken(upto_seq, FIRST_COPIES_WAIT):
            raise IndexBehind(
                f"the index of event ids has read up to seq {projector.taken}, not yet "
                f"{upto_seq}; retry shortly"
            )
        known = projector.applier.first_copies_in_flight(ids)
        known.update(await self.service.store.first_copies(ids - known.keys()))
        return known

    async def fresh(self, nc: NATS, window: float, within: float) -> bool:
        """True when an id the index does not know is one JetStream's window would catch.

        The index has taken everything stored before `caught_up_at`; what came later is
        younger than the duplicate window while that lies less than half a window back.
        Otherwise read the stream's last sequence and wait (up to `within`) for the index.
        """
        projector = self.service.projector
        if time.time() - projector.caught_up_at < window / 2:
            return True
        asked_at = time.time()
        info = await nc.jetstream(timeout=within).stream_info(EVENTS_STREAM)
        if not await projector.wait_taken(info.state.last_seq, within):
            return False
        projector.caught_up_at = max(projector.caught_up_at, asked_at)
        return True

"""The durable index of event ids: what the ingest asks before it appends.

Every projection store keeps, on disk, each event id with the stream sequence and digest of its
first stored copy (the `event_ids` table, built from the log as the projection reads it). Every
projection service answers `rapport.q.identity.lookup` from it, in one queue group shared by
all of them: whichever is up answers, and the ingest holds no ids of its own. The ingest can so
answer a retry `duplicate` with the original sequence at any age, and refuse another event
under a used id as a `conflict`, without holding ten million ids in memory.

What an index has not read yet is covered by JetStream's duplicate window: the ingest trusts
"not in the index" only while the answering projection has taken everything stored more than
half a window ago (`caught_up_at`); otherwise it asks again, naming the stream's last sequence
for the projection to reach first, or refuses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

from events.subjects import EVENTS_STREAM, IDENTITY_SUBJECT

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from events.queries import IdsQuery
    from events.reading import FirstCopy

IDENTITY_QUEUE = "rapport-q-identity"  # every projection answers: whichever is up
FIRST_COPIES_WAIT = 2.0  # seconds a projection waits to read up to a sequence asked about
LOOKUP_CHUNK = 1000


class IndexBehind(RuntimeError):
    """No index of event ids answered, or none had read the log far enough in time."""


class Known(NamedTuple):
    """What an index of event ids knows: first copies, how far it has read, and how fresh."""

    found: dict[str, FirstCopy]
    taken: int
    caught_up_at: float


class IdSource(Protocol):
    """A store that is an index of event ids (every projection's is)."""

    async def known(self, ids: set[str], upto_seq: int, within: float) -> Known:
        """First copies of `ids`, once it has read up to `upto_seq` (else `IndexBehind`)."""
        ...


async def lookup(source: IdSource, query: IdsQuery) -> dict[str, Any]:
    """The answer to `rapport.q.identity.lookup` from one projection's index."""
    known = await source.known(set(query.ids), query.upto_seq, FIRST_COPIES_WAIT)
    return {
        "found": {i: {"seq": seq, "digest": d.hex()} for i, (seq, d) in known.found.items()},
        "taken": known.taken,
        "caught_up_at": known.caught_up_at,
    }


class IdIndex(Protocol):
    """What the ingest asks of an index of event ids."""

    async def first_copies(self, ids: set[str], upto_seq: int = 0) -> dict[str, FirstCopy]:
        """(seq, digest) of the first stored copy of each id the index has read."""
        ...

    async def fresh(self, window: float) -> bool:
        """True when an id the index does not know is one JetStream's window would catch."""
        ...


class RemoteIndex:
    """The projections' index of event ids, asked over NATS."""

    def __init__(self, nc: NATS, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout
        self._caught_up_at = 0.0  # what the last answer said of its projection

    async def first_copies(self, ids: set[str], upto_seq: int = 0) -> dict[str, FirstCopy]:
        """(seq, digest) of each id's first stored copy; raises `IndexBehind` if none answers.

        With `upto_seq`, the answering projection first reads the log up to that sequence.
        """
        found: dict[str, FirstCopy] = {}
        ordered = sorted(ids) or ["-"]  # an empty question still says how fresh the index is
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            body = {"ids": ordered[start : start + LOOKUP_CHUNK], "upto_seq": upto_seq}
            try:
                message = await self._nc.request(
                    IDENTITY_SUBJECT, orjson.dumps(body), timeout=self._timeout + FIRST_COPIES_WAIT
                )
            except Exception as exc:
                raise IndexBehind(
                    "no projection answered for the index of event ids "
                    f"({IDENTITY_SUBJECT}: {exc.__class__.__name__}); is a projection running?"
                ) from None
            reply = orjson.loads(message.data)
            if "error" in reply:
                raise IndexBehind(f"the index of event ids: {reply['error']['message']}")
            for event_id, first in reply["found"].items():
                found[event_id] = (int(first["seq"]), bytes.fromhex(first["digest"]))
            self._caught_up_at = float(reply["caught_up_at"])
        return found

    async def fresh(self, window: float) -> bool:
        """True when the index answering last had taken what was stored half a window ago.

        Otherwise read the stream's last sequence and ask the index to reach it first.
        """
        if time.time() - self._caught_up_at < window / 2:
            return True
        asked_at = time.time()
        info = await self._nc.jetstream(timeout=self._timeout).stream_info(EVENTS_STREAM)
        try:
            await self.first_copies(set(), upto_seq=info.state.last_seq)
        except IndexBehind:
            return False
        # everything stored before `asked_at` has a sequence <= last_seq: it has been taken
        self._caught_up_at = max(self._caught_up_at, asked_at)
        return True


class WindowOnly:
    """No index: JetStream's duplicate window alone (the baseline `rapport bench` measures)."""

    async def first_copies(self, ids: set[str], upto_seq: int = 0) -> dict[str, FirstCopy]:
        """Nothing is known."""
        return {}

    async def fresh(self, window: float) -> bool:
        """Always trusted: what the window does not catch is stored again."""
        return True

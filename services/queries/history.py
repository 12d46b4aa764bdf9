"""A relationship's stored events, read through the stream's subject filter (never a scan).

Every message goes through the one reader of the log (`events.reading`), with what an index
of event ids knows of the first stored copies: the audit, `as_of` answers, history and the
dashboard count a copy once, exactly as the projections do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from events.reading import Copy, Dead, Fresh, decode, ids_of, read_in_order
from events.subjects import relationship_filter
from services.nats.log_reader import LogReadError
from services.queries.identity import IndexBehind, RemoteIndex

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from nats.aio.client import Client as NATS

    from events import Event
    from events.reading import FirstCopy, Reading, StoredMessage
    from services.nats.log_reader import DirectReader

    # What an index of event ids knows: (seq, digest) of the first stored copy of each id,
    # given the ids and the highest sequence read (so it can first catch up to it).
    FirstCopies = Callable[[set[str], int], Awaitable[dict[str, FirstCopy]]]


def identity_over_nats(nc: NATS, timeout: float) -> FirstCopies:
    """Ask the projections' index of event ids about first copies, over NATS."""
    index = RemoteIndex(nc, timeout)

    async def first_copies(ids: set[str], upto_seq: int) -> dict[str, FirstCopy]:
        try:
            return await index.first_copies(ids, upto_seq)
        except IndexBehind as exc:
            raise LogReadError(str(exc)) from None

    return first_copies


async def judge(messages: list[StoredMessage], first_copies: FirstCopies) -> list[Reading]:
    """Read messages of the log in stream order, knowing what came before them."""
    decoded = [decode(message) for message in messages]
    ids = ids_of(decoded)
    known = await first_copies(ids, messages[-1].seq) if ids else {}
    return read_in_order(decoded, known)


async def read_relationship(
    reader: DirectReader, relationship_id: str, first_copies: FirstCopies
) -> list[Reading]:
    """Every stored message of one relationship, read, oldest first."""
    messages = await reader.read(relationship_filter(relationship_id))
    return await judge(messages, first_copies) if messages else []


async def history_page(
    reader: DirectReader,
    relationship_id: str,
    after_seq: int,
    limit: int,
    first_copies: FirstCopies,
) -> tuple[list[Reading], bool]:
    """One page of a relationship's stored messages after `after_seq`, and whether more follow."""
    messages, more = await reader.read_page(
        relationship_filter(relationship_id), after_seq + 1, limit
    )
    return (await judge(messages, first_copies) if messages else []), more


def events_until(readings: list[Reading], as_of: datetime | None) -> list[tuple[int, Event]]:
    """(seq, event) of the events that took effect, with `time` at or before `as_of`."""
    return [
        (reading.seq, reading.event)
        for reading in readings
        if isinstance(reading, Fresh) and (as_of is None or reading.event.time <= as_of)
    ]


def history_item(reading: Reading) -> dict[str, Any]:
    """One stored message as `GET /v1/relationships/{id}/events` shows it."""
    message = reading.message
    item: dict[str, Any] = {
        "seq": message.seq,
        "subject": message.subject,
        "stored_at": message.headers.get("Nats-Time-Stamp"),
    }
    if isinstance(reading, Dead):
        item["event"] = None
        item["error"] = reading.problem
        item["raw"] = message.data.decode("utf-8", errors="replace")[:4000]
        return item
    upcast_from = reading.upcast_from if isinstance(reading, Fresh) else None
    if upcast_from is None:
        item["event"] = orjson.loads(message.data)
    else:  # shown in the current shape, with what was stored beside it
        item["event"] = reading.event.model_dump(mode="json", by_alias=True, exclude_none=True)
        item["upcast_from"] = upcast_from
        item["stored_as"] = orjson.loads(message.data)
    if isinstance(reading, Copy):
        item["duplicate_of"] = reading.original_seq
    return item

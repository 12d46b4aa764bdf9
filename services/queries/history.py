"""A relationship's stored events, read through the stream's subject filter (never a scan).

Every message goes through the one reader of the log (`events.reading`), with what an index
of event ids knows of the first stored copies: the audit, `as_of` answers, history and the
dashboard count a copy once, exactly as the projections do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from events.reading import Copy, Dead, Fresh, decode, ids_of, read_in_order
from events.subjects import event_subject, relationship_filter
from events.upcasting import upcast
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
    messages = await reader.read(relationship_filter(relationship_id), per_subject=True)
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
        relationship_filter(relationship_id), after_seq + 1, limit, per_subject=True
    )
    return (await judge(messages, first_copies) if messages else []), more


class NewestPage(NamedTuple):
    """Stored messages, oldest first; the cursor of older ones (None: none); how many of the
    filter's are stored before the cursor the page was asked with (this page's included)."""

    readings: list[Reading]
    older: int | None
    stored: int


async def newest_page(
    reader: DirectReader,
    relationship_id: str,
    before_seq: int | None,
    limit: int,
    first_copies: FirstCopies,
    event_type: str | None = None,
) -> NewestPage:
    """The newest `limit` stored messages of a relationship (of one type, when given) before
    `before_seq` (default: all), oldest first, and the cursor of the older ones (None when
    there are none).

    Each stored message says how many of the filter's follow it, so a binary search over
    sequences finds where the page starts in a few reads instead of reading the whole history
    (reads of one subject, one type, are the quickest: the stream indexes subjects).
    """
    subject_filter = (
        relationship_filter(relationship_id)
        if event_type is None
        else event_subject(relationship_id, event_type)
    )

    async def count_from(seq: int) -> int:
        """How many of the relationship's messages are stored at `seq` or later."""
        first, _ = await reader.read_page(subject_filter, seq, 1)
        if not first:
            return 0
        pending = first[0].headers.get("Nats-Num-Pending")
        if pending is None:
            raise LogReadError("the stream does not count messages (nats-server 2.11 or later)")
        return 1 + int(pending)

    after = 0 if before_seq is None else await count_from(before_seq)
    start, older = 1, None
    stored = await count_from(1) - after
    if stored > limit:
        low, high = 1, before_seq or 2  # count_from(low) - after >= limit > at high
        while before_seq is None and await count_from(high) - after >= limit:
            low, high = high, high * 2  # the stream's end is not known: gallop to it
        while high - low > 1:
            middle = (low + high) // 2
            if await count_from(middle) - after >= limit:
                low = middle
            else:
                high = middle
        start = older = low
    messages, _ = await reader.read_page(subject_filter, start, limit)
    if before_seq is not None:
        messages = [message for message in messages if message.seq < before_seq]
    return NewestPage(await judge(messages, first_copies) if messages else [], older, stored)


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
        stored = orjson.loads(message.data)
        item["event"] = upcast(stored)[0]  # the reader read it: it upcasts
        item["upcast_from"] = upcast_from
        item["stored_as"] = stored
    if isinstance(reading, Copy):
        item["duplicate_of"] = reading.original_seq
    return item

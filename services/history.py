"""A relationship's stored events, read through the stream's subject filter (never a scan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from events import InvalidEvent, parse_event
from events.subjects import relationship_filter, stored_under

if TYPE_CHECKING:
    from datetime import datetime

    from events import Event
    from services.log_reader import DirectReader, StoredMessage


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the log has it: its stream sequence, raw message, and (if valid) the event."""

    seq: int
    message: StoredMessage
    event: Event | None
    error: str | None


async def read_relationship(reader: DirectReader, relationship_id: str) -> list[StoredEvent]:
    """Every stored event of one relationship, oldest first."""
    stored = []
    for message in await reader.read(relationship_filter(relationship_id)):
        try:
            stored.append(StoredEvent(message.seq, message, parse_event(message.data), None))
        except InvalidEvent as exc:
            stored.append(StoredEvent(message.seq, message, None, str(exc)))
    return stored


def valid_until(stored: list[StoredEvent], as_of: datetime | None) -> list[tuple[int, Event]]:
    """(seq, event) of the valid events whose time is at or before `as_of`, in stream order."""
    return [
        (item.seq, item.event)
        for item in stored
        if item.event is not None
        and stored_under(item.message.subject, item.event.subject, item.event.type)
        and (as_of is None or item.event.time <= as_of)
    ]

"""A relationship's stored events, read through the stream's subject filter (never a scan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from events import InvalidEvent
from events.parsing import parse_stored
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
    upcast_from: int | None = None

    @classmethod
    def read(cls, message: StoredMessage) -> StoredEvent:
        """Parse (and upcast) one stored message."""
        try:
            parsed = parse_stored(message.data)
        except InvalidEvent as exc:
            return cls(message.seq, message, None, str(exc))
        event = parsed.event
        if not stored_under(message.subject, event.subject, event.type):
            error = f"subject mismatch: stored under {message.subject}"
            return cls(message.seq, message, None, error)
        return cls(message.seq, message, event, None, parsed.upcast_from)

    def reply(self) -> dict[str, Any]:
        """As `GET /v1/relationships/{id}/events` shows it."""
        item: dict[str, Any] = {
            "seq": self.seq,
            "subject": self.message.subject,
            "stored_at": self.message.headers.get("Nats-Time-Stamp"),
        }
        if self.event is None:
            item["event"] = None
            item["error"] = self.error
            item["raw"] = self.message.data.decode("utf-8", errors="replace")[:4000]
            return item
        if self.upcast_from is None:
            item["event"] = orjson.loads(self.message.data)
        else:  # shown in the current shape, with what was stored beside it
            item["event"] = self.event.model_dump(mode="json", by_alias=True, exclude_none=True)
            item["upcast_from"] = self.upcast_from
            item["stored_as"] = orjson.loads(self.message.data)
        return item


async def read_relationship(reader: DirectReader, relationship_id: str) -> list[StoredEvent]:
    """Every stored event of one relationship, oldest first."""
    return [StoredEvent.read(m) for m in await reader.read(relationship_filter(relationship_id))]


async def history_page(
    reader: DirectReader, relationship_id: str, after_seq: int, limit: int
) -> tuple[list[StoredEvent], bool]:
    """One page of a relationship's stored events after `after_seq`, and whether more follow."""
    messages, more = await reader.read_page(
        relationship_filter(relationship_id), after_seq + 1, limit
    )
    return [StoredEvent.read(m) for m in messages], more


def valid_until(stored: list[StoredEvent], as_of: datetime | None) -> list[tuple[int, Event]]:
    """(seq, event) of the valid events whose time is at or before `as_of`, in stream order."""
    return [
        (item.seq, item.event)
        for item in stored
        if item.event is not None and (as_of is None or item.event.time <= as_of)
    ]

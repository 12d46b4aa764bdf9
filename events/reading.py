"""The one reader of the log: a stored message is an event, a later copy, or a dead letter.

Everything that reads `RAPPORT_EVENTS` — the projectors and replay, the ingest's checks, the
audit, `as_of` answers, history and the dashboard — reads it through `read`. It is total: no
bytes make it raise. The first stored copy of an event id counts; a later identical copy is a
`Copy`; a later *different* event under a used id, a message that breaks the envelope or data
schema, and one filed under another relationship's or type's subject are `Dead`, with why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from events.identity import digest
from events.parsing import InvalidEvent, parse_stored
from events.subjects import stored_under

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from events.records import Event

FirstCopy = tuple[int, bytes]  # (stream sequence, digest) of an id's first stored copy


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the stream stores it."""

    seq: int
    subject: str
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fresh:
    """The first stored copy of an event: the one that takes effect."""

    message: StoredMessage
    event: Event
    digest: bytes
    upcast_from: int | None = None

    @property
    def seq(self) -> int:
        """Its stream sequence."""
        return self.message.seq


@dataclass(frozen=True, slots=True)
class Copy:
    """A later stored copy of an event already in the log: it changes nothing."""

    message: StoredMessage
    event: Event
    original_seq: int

    @property
    def seq(self) -> int:
        """Its stream sequence."""
        return self.message.seq


@dataclass(frozen=True, slots=True)
class Dead:
    """A stored message that cannot be applied, and why (it goes to the dead-letter queue).

    `problem` says what is wrong with it; `reason` says so for the dead-letter queue.
    """

    message: StoredMessage
    problem: str
    invalid: bool = False  # it breaks the envelope or data schema (not only its subject or id)

    @property
    def seq(self) -> int:
        """Its stream sequence."""
        return self.message.seq

    @property
    def reason(self) -> str:
        """Why it cannot be applied, as the dead-letter queue keeps it."""
        return f"invalid event: {self.problem}" if self.invalid else self.problem


Reading = Fresh | Copy | Dead


def decode(message: StoredMessage) -> Fresh | Dead:
    """The event a message holds, judged on its own (without what was stored before it)."""
    try:
        parsed = parse_stored(message.data)
    except InvalidEvent as exc:
        return Dead(message, str(exc), invalid=True)
    except RecursionError:  # pragma: no cover - every parser in the way bounds its depth
        return Dead(message, "event: nested too deeply to read", invalid=True)
    event = parsed.event
    if not stored_under(message.subject, event.subject, event.type):
        return Dead(
            message,
            f"subject mismatch: stored under {message.subject} but the envelope says "
            f"subject {event.subject!r}, type {event.type!r}",
        )
    return Fresh(message, event, digest(event), parsed.upcast_from)


def classify(decoded: Fresh | Dead, first: FirstCopy | None) -> Reading:
    """Judge a decoded message against the first stored copy of its id, if there is one."""
    if isinstance(decoded, Dead) or first is None or first[0] >= decoded.seq:
        return decoded
    original_seq, original_digest = first
    if original_digest == decoded.digest:
        return Copy(decoded.message, decoded.event, original_seq)
    return Dead(
        decoded.message,
        f"conflict: id {decoded.event.id!r} already used by another event at seq {original_seq}",
    )


def read(message: StoredMessage, first: FirstCopy | None) -> Reading:
    """Turn one stored message into an event, a later copy, or a dead letter with its reason."""
    return classify(decode(message), first)


def read_in_order(decoded: Iterable[Fresh | Dead], known: Mapping[str, FirstCopy]) -> list[Reading]:
    """Judge decoded messages in stream order, given the first copies known before them."""
    first = dict(known)
    readings: list[Reading] = []
    for item in decoded:
        reading = classify(item, None if isinstance(item, Dead) else first.get(item.event.id))
        if isinstance(reading, Fresh):
            first[reading.event.id] = (reading.seq, reading.digest)
        readings.append(reading)
    return readings


def ids_of(decoded: Iterable[Fresh | Dead]) -> set[str]:
    """The event ids among decoded messages (to ask an index about their first copies)."""
    return {item.event.id for item in decoded if isinstance(item, Fresh)}

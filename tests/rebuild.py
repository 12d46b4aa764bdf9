"""What a projection should hold: a clean fold of the log, the way the applier folds it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events import InvalidEvent, parse_event
from events.subjects import EVENTS_FILTER, stored_under
from services.nats.log_reader import DirectReader

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from projections.base import Fold


async def read_log(nc: NATS) -> list[tuple[int, str, bytes]]:
    """Every stored event: (seq, subject, data)."""
    reader = DirectReader(nc)
    try:
        return [(m.seq, m.subject, m.data) for m in await reader.read(EVENTS_FILTER)]
    finally:
        await reader.close()


def clean_rebuild(fold: Fold[Any], log: list[tuple[int, str, bytes]]) -> dict[str, Any]:
    """Fold every valid event once, in stream order (duplicate ids count once)."""
    states: dict[str, Any] = {}
    seen: set[str] = set()
    for seq, subject, data in log:
        try:
            event = parse_event(data)
        except InvalidEvent:
            continue
        if not stored_under(subject, event.subject, event.type) or event.id in seen:
            continue
        current = states.get(event.subject)
        try:
            updated = fold(current, event, seq)
        except ValueError:
            continue  # dead-lettered by the projector too
        if updated is not current:
            seen.add(event.id)
            states[event.subject] = updated
    return states

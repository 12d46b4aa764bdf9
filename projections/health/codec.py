"""HealthState to compact JSON and back (what the store keeps per relationship)."""

from __future__ import annotations

from typing import Any

import orjson

from events import Stage
from events.timeline import StageMark
from projections.health.fold import HealthState, OlderTouches, Touch


def to_json(state: HealthState) -> list[Any]:
    """A JSON-ready list (floats, strings, nulls only)."""
    older = state.older
    return [
        state.owner,
        list(state.owner_mark) if state.owner_mark else None,
        list(state.purpose_mark) if state.purpose_mark else None,
        state.opened_at,
        state.latest_at,
        [[t.at, t.event_id, t.kind, t.direction, t.sentiment] for t in state.touches],
        [
            older.count,
            older.theirs,
            older.sentiment_milli,
            list(older.kinds),
            older.latest_at,
            older.earliest_at,
        ]
        if older.count
        else None,
        [[m.at, m.event_id, m.to.value, m.from_, m.reason] for m in state.stage_marks],
        state.name,
    ]


def from_json(relationship_id: str, data: list[Any]) -> HealthState:
    """Rebuild a HealthState from `to_json` output."""
    owner, owner_mark, purpose_mark, opened_at, latest_at, touches, older, marks, name = data
    return HealthState(
        relationship_id=relationship_id,
        owner=owner,
        owner_mark=(owner_mark[0], owner_mark[1]) if owner_mark else None,
        purpose_mark=(purpose_mark[0], purpose_mark[1]) if purpose_mark else None,
        opened_at=opened_at,
        latest_at=latest_at,
        touches=tuple(Touch(*t) for t in touches),
        older=OlderTouches(older[0], older[1], older[2], tuple(older[3]), older[4], older[5])
        if older
        else OlderTouches(),
        name=name,
        stage_marks=tuple(
            StageMark(m[0], m[1], Stage(m[2]), Stage(m[3]) if m[3] else None, m[4]) for m in marks
        ),
    )


def encode(state: HealthState) -> bytes:
    """Bytes for the store."""
    return orjson.dumps(to_json(state))


def decode(relationship_id: str, blob: bytes) -> HealthState:
    """The state the store kept."""
    return from_json(relationship_id, orjson.loads(blob))

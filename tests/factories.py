"""Build contract-true envelopes for tests with as little noise as possible."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_ids = itertools.count(1)
BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "rapport.connection.made": {
        "owner": "maria@example.com",
        "counterpart": {"name": "Ada Lovelace", "kind": "person", "tags": ["math"]},
        "channel": "conference",
    },
    "rapport.interaction.recorded": {"kind": "meeting", "direction": "mutual", "sentiment": 0.6},
    "rapport.stage.changed": {"to": "awareness"},
    "rapport.purpose.set": {"purpose": "co-author a course", "target_date": "2027-03-01"},
    "rapport.capacity.noted": {"capacity": "medium", "goals": ["reach", "teaching"]},
    "rapport.proposal.drafted": {"proposal_id": "p-1", "title": "Joint workshop"},
    "rapport.proposal.submitted": {"proposal_id": "p-1"},
    "rapport.proposal.accepted": {"proposal_id": "p-1"},
    "rapport.proposal.declined": {"proposal_id": "p-1", "reason": "no budget this year"},
    "rapport.proposal.withdrawn": {"proposal_id": "p-1"},
}


def event(
    event_type: str,
    rel: str = "rel-1",
    data: Any = None,  # a dict, or anything else to see it refused
    *,
    at: datetime | str | None = None,
    days: float = 0,
    event_id: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """An envelope dict; `event_type` may omit the `rapport.` prefix."""
    full = event_type if event_type.startswith("rapport.") else f"rapport.{event_type}"
    moment = at if at is not None else BASE_TIME + timedelta(days=days)
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or f"ev-{next(_ids)}",
        "source": "tests",
        "type": full,
        "subject": rel,
        "time": moment if isinstance(moment, str) else moment.isoformat(),
        "data": SAMPLE_DATA[full] if data is None else data,
    }
    envelope.update(attributes)
    return envelope


def raw(envelope: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """JSON bytes of an envelope or a batch."""
    return orjson.dumps(envelope)

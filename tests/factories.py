"""Build contract-true envelopes for tests with as little noise as possible."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import random

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


GOALS = ["reach", "teaching", "revenue", "research"]


def random_touch(rnd: random.Random) -> dict[str, Any]:
    """An interaction's data of any kind, direction and tone."""
    return {
        "kind": rnd.choice(["call", "meeting", "email", "social"]),
        "direction": rnd.choice(["inbound", "outbound", "mutual"]),
        "sentiment": round(rnd.uniform(-1, 1), 2),
    }


def partner_life(rnd: random.Random, rel: str, owner: str = "maria") -> list[dict[str, Any]]:
    """A relationship with touches, stage moves, capacity noted and proposals of every kind."""
    opened = rnd.uniform(0, 60)
    hello = {"owner": owner, "counterpart": {"name": rel.title()}}
    envelopes: list[dict[str, Any]] = [event("connection.made", rel, hello, days=opened)]
    for _ in range(rnd.randrange(0, 12)):
        touch = random_touch(rnd)
        envelopes.append(
            event("interaction.recorded", rel, touch, days=opened + rnd.uniform(0, 120))
        )
    stages = ["awareness", "engagement", "conversion", "partnership", "closed"]
    for step, to in enumerate(stages[: rnd.randrange(0, 5)]):
        change = {"to": to, "reason": "moved"}
        envelopes.append(event("stage.changed", rel, change, days=opened + 5 * (step + 1)))
    if rnd.random() < 0.8:
        capacity: dict[str, Any] = {"capacity": rnd.choice(["high", "medium", "low"])}
        if rnd.random() < 0.6:
            capacity["goals"] = rnd.sample(GOALS, rnd.randrange(0, 3))
        if rnd.random() < 0.7:
            available = BASE_TIME + timedelta(days=opened + rnd.uniform(-30, 400))
            capacity["available_from"] = available.date().isoformat()
        envelopes.append(event("capacity.noted", rel, capacity, days=opened + rnd.uniform(0, 90)))
    for number in range(rnd.randrange(1, 4)):
        data: dict[str, Any] = {"proposal_id": f"p-{number}", "title": "Joint work"}
        if rnd.random() < 0.7:
            data["goals"] = rnd.sample(GOALS, rnd.randrange(1, 3))
        if rnd.random() < 0.6:
            start: date = (BASE_TIME + timedelta(days=opened + rnd.uniform(0, 300))).date()
            data["proposed_start"] = start.isoformat()
        drafted_on = opened + rnd.uniform(0, 100)
        envelopes.append(event("proposal.drafted", rel, data, days=drafted_on))
        which = {"proposal_id": data["proposal_id"]}
        if rnd.random() < 0.5:
            envelopes.append(event("proposal.submitted", rel, which, days=drafted_on + 3))
            if rnd.random() < 0.4:
                decision = rnd.choice(["accepted", "declined", "withdrawn"])
                envelopes.append(event(f"proposal.{decision}", rel, which, days=drafted_on + 9))
    return envelopes

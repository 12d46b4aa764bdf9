"""The benchmark's workload: seeded, realistic, and fast to generate.

Each relationship gets a life over one year: a handshake, interactions (~70 % of all events)
with varied kind, direction and sentiment, stage moves forward (some skipping with a reason,
some backward, some rule-breaking ones the validated ingest would refuse and a raw publisher
stores anyway), a purpose, partner capacities, and proposals that end in every state. Events
are ordered by time, so every lifecycle is in stream order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

YEAR = 365 * 86_400
START = datetime(2025, 11, 1, tzinfo=UTC).timestamp()
KINDS = ("meeting", "call", "email", "message", "event", "social", "intro", "other")
KIND_WEIGHTS = (14, 18, 24, 24, 6, 8, 3, 3)
DIRECTIONS = ("inbound", "outbound", "mutual")
STAGES = ("connection", "awareness", "engagement", "conversion", "partnership")
GOALS = ("reach", "revenue", "research", "hiring", "teaching", "funding", "brand", "product")


@dataclass(frozen=True, slots=True)
class Workload:
    """Events as (subject, JSON bytes, event id), in the order they are published."""

    events: list[tuple[str, bytes, str]]
    relationships: int

    @property
    def size(self) -> int:
        """How many events."""
        return len(self.events)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(events: int, relationships: int, seed: int = 1) -> Workload:
    """`events` events spread over `relationships` relationships and a year of time."""
    rng = random.Random(seed)
    per = max(1, events // relationships)
    timeline: list[tuple[float, str, str, dict[str, object]]] = []
    made = 0
    for index in range(relationships):
        if made >= events:
            break
        budget = min(events - made, per + (1 if index < events % relationships else 0))
        made += _life(rng, f"r{index}", budget, timeline)
    timeline.sort(key=lambda item: item[0])
    out = []
    for number, (moment, rel, event_type, data) in enumerate(timeline):
        event_id = f"bench-{seed}-{number}"
        envelope = {
            "specversion": "1.0",
            "id": event_id,
            "source": "bench",
            "type": event_type,
            "subject": rel,
            "time": _iso(moment),
            "data": data,
        }
        out.append((f"rapport.ev.{rel}.{event_type[8:]}", orjson.dumps(envelope), event_id))
    return Workload(out, relationships)


def _life(
    rng: random.Random,
    rel: str,
    budget: int,
    timeline: list[tuple[float, str, str, dict[str, object]]],
) -> int:
    """One relationship's events (at most `budget`), appended to the timeline."""
    opened = START + rng.random() * YEAR * 0.8
    span = START + YEAR - opened
    moments = sorted(opened + rng.random() * span for _ in range(budget))
    owner = f"owner-{rng.randrange(20)}@example.com"
    timeline.append(
        (
            moments[0],
            rel,
            "rapport.connection.made",
            {"owner": owner, "counterpart": {"name": f"Counterpart {rel}", "kind": "person"}},
        )
    )
    stage = 0
    proposal: tuple[str, str] | None = None  # (id, status)
    proposals = 0
    for moment in moments[1:]:
        roll = rng.random()
        if roll < 0.70:
            data: dict[str, object] = {
                "kind": rng.choices(KINDS, KIND_WEIGHTS)[0],
                "direction": rng.choice(DIRECTIONS),
                "sentiment": round(rng.uniform(-0.6, 1.0), 2),
            }
            if rng.random() < 0.3:
                data["duration_minutes"] = rng.randrange(5, 120)
            timeline.append((moment, rel, "rapport.interaction.recorded", data))
        elif roll < 0.82:
            change, stage = _stage_move(rng, stage)
            timeline.append((moment, rel, "rapport.stage.changed", change))
        elif roll < 0.86:
            timeline.append((moment, rel, "rapport.purpose.set", {"purpose": "a joint program"}))
        elif roll < 0.91:
            capacity: dict[str, object] = {
                "capacity": rng.choice(("low", "medium", "high")),
                "goals": rng.sample(GOALS, 2),
                "available_from": _iso(moment + rng.random() * 90 * 86_400)[:10],
            }
            timeline.append((moment, rel, "rapport.capacity.noted", capacity))
        else:
            proposal, proposals = _proposal_step(rng, rel, moment, proposal, proposals, timeline)
    return len(moments)


def _stage_move(rng: random.Random, stage: int) -> tuple[dict[str, object], int]:
    """A stage change: mostly one step on; some skips and moves back; some breaking a rule."""
    roll = rng.random()
    if stage >= 4 or roll < 0.08:  # back, with a reason (or, 1 in 4, without: rejected)
        target = max(0, stage - 1 - rng.randrange(2))
        if target == stage:
            target = min(4, stage + 1)
        reason = "priorities changed" if rng.random() < 0.75 else None
    elif roll < 0.18:  # a skip, with a reason (or without: rejected)
        target = min(4, stage + 2)
        reason = "warm introduction" if rng.random() < 0.6 else None
    else:
        target, reason = stage + 1, None
    change: dict[str, object] = {"to": STAGES[target]}
    if reason:
        change["reason"] = reason
    step = target - stage
    accepted = step == 1 or (step != 0 and reason is not None)
    return change, (target if accepted else stage)


def _proposal_step(
    rng: random.Random,
    rel: str,
    moment: float,
    proposal: tuple[str, str] | None,
    proposals: int,
    timeline: list[tuple[float, str, str, dict[str, object]]],
) -> tuple[tuple[str, str] | None, int]:
    """Draft, submit or decide the relationship's current proposal."""
    if proposal is None:
        pid = f"p{proposals + 1}"
        data: dict[str, object] = {
            "proposal_id": pid,
            "title": "Joint program",
            "goals": rng.sample(GOALS, 2),
            "proposed_start": _iso(moment + rng.random() * 120 * 86_400)[:10],
        }
        timeline.append((moment, rel, "rapport.proposal.drafted", data))
        return (pid, "drafted"), proposals + 1
    pid, status = proposal
    if status == "drafted":
        if rng.random() < 0.15:
            timeline.append((moment, rel, "rapport.proposal.withdrawn", {"proposal_id": pid}))
            return None, proposals
        timeline.append((moment, rel, "rapport.proposal.submitted", {"proposal_id": pid}))
        return (pid, "submitted"), proposals
    decision = rng.choice(("accepted", "declined", "withdrawn"))
    timeline.append((moment, rel, f"rapport.proposal.{decision}", {"proposal_id": pid}))
    return None, proposals

"""How ready a proposal is: stage, health, the partner's capacity, timing and goals.

A partnership pitch is unlikely to get a "no" unless timing or capacity are off: readiness
says which of those are off, so the proposal can be aligned with the partner's goals and
made easy to say yes to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events import Stage
from projections.health.score import assess, score_at, stage_at

if TYPE_CHECKING:
    from datetime import date

    from projections.proposals.fold import PartnerContext, Proposal

WEIGHTS = {"stage": 0.25, "health": 0.20, "capacity": 0.20, "timing": 0.15, "goals": 0.20}

STAGE_FIT: dict[Stage, tuple[float, str]] = {
    Stage.CONNECTION: (0.1, "only a connection: too early to propose; build the relationship"),
    Stage.AWARENESS: (0.25, "still in awareness: they barely know you yet"),
    Stage.ENGAGEMENT: (0.55, "in engagement: trust is building, but conversion comes first"),
    Stage.CONVERSION: (1.0, "in conversion: the relationship is ready for a proposal"),
    Stage.PARTNERSHIP: (0.9, "already partners: a proposal extends the partnership"),
    Stage.CLOSED: (0.0, "the relationship is closed"),
}
CAPACITY_FIT: dict[str, tuple[float, str]] = {
    "high": (1.0, "they have high capacity now"),
    "medium": (0.6, "they have medium capacity: keep the ask focused"),
    "low": (0.15, "their capacity is low: propose something small, or wait"),
}

UNKNOWN_CAPACITY = (0.4, "their capacity is unknown: ask what they can take on before proposing")


@dataclass(frozen=True, slots=True)
class Readiness:
    """A 0-100 readiness and its reasons, the weightiest shortfall first."""

    score: int
    reasons: list[str]

    def reply(self) -> dict[str, Any]:
        """The contract's `readiness` object."""
        return {"score": self.score, "reasons": self.reasons}


def _norm(goals: tuple[str, ...]) -> set[str]:
    return {goal.strip().casefold() for goal in goals if goal.strip()}


def readiness(context: PartnerContext, proposal: Proposal, as_of: datetime) -> Readiness:
    """Judge one proposal against its relationship at `as_of`."""
    parts = _partner_parts(context, as_of)
    _proposal_parts(parts, context, proposal, as_of)
    ordered = sorted(parts.items(), key=lambda item: -WEIGHTS[item[0]] * (1 - item[1][0]))
    return Readiness(_score(parts), [reason for _, (_, reason) in ordered])


def readiness_score(context: PartnerContext, proposal: Proposal, as_of: datetime) -> int:
    """`readiness(...).score` without the reasons: the score every proposal is ranked by
    (a third of the cost: the health score without its reasons, `score_at`)."""
    parts = _partner_scores(context, as_of.timestamp())
    _proposal_parts(parts, context, proposal, as_of)
    return _score(parts)


def _proposal_parts(
    parts: dict[str, tuple[float, str]],
    context: PartnerContext,
    proposal: Proposal,
    as_of: datetime,
) -> None:
    """Add what a proposal is judged on of its own: timing and goals."""
    capacity = context.capacity
    parts["timing"] = _timing(capacity.available_from if capacity else None, proposal, as_of)
    parts["goals"] = _goals(capacity.goals if capacity else (), proposal.goals)


def ceilings(context: PartnerContext) -> tuple[float, dict[str, int]]:
    """(from, {proposal id: ceiling}): no readiness at any instant from `from` on exceeds it.

    After the latest event of the relationship nothing it is judged on rises with time: the
    stage holds, health never rises between events (`projections.health.outlook`), capacity
    and goals are the partner's as noted. Only timing can: "available from" a future date
    becomes "available since" once it passes, so the ceiling takes the better of the two.
    Finding the most ready proposals then scores only those whose ceiling could still make
    the list (services.queries.proposals).
    """
    start = context.health.latest_at
    if not context.proposals or not math.isfinite(start):
        return start, {}
    as_of = datetime.fromtimestamp(start, UTC)
    shared = _partner_scores(context, start)
    capacity = context.capacity
    available = capacity.available_from if capacity else None
    goals = capacity.goals if capacity else ()
    found: dict[str, int] = {}
    for proposal in context.proposals:
        timing = max(
            _timing(available, proposal, as_of)[0],
            _timing(available, proposal, datetime.max.replace(tzinfo=UTC))[0],
        )
        parts = {**shared, "timing": (timing, ""), "goals": _goals(goals, proposal.goals)}
        found[proposal.proposal_id] = _score(parts)
    return start, found


def _partner_parts(context: PartnerContext, as_of: datetime) -> dict[str, tuple[float, str]]:
    """The parts every proposal of a relationship shares: its stage, health and capacity."""
    parts: dict[str, tuple[float, str]] = {"stage": STAGE_FIT[stage_on(context, as_of)]}
    health = assess(context.health, as_of)
    health_reason = f"relationship health is {health.score} ({health.band})"
    if health.score < 60 and health.reasons:
        health_reason += f": {health.reasons[0]}"
    parts["health"] = (health.score / 100, health_reason)
    capacity = context.capacity
    parts["capacity"] = CAPACITY_FIT[capacity.level] if capacity else UNKNOWN_CAPACITY
    return parts


def _partner_scores(context: PartnerContext, at: float) -> dict[str, tuple[float, str]]:
    """The parts of `_partner_parts` without their reasons (as `assess` scores, `score_at`)."""
    stage, health = score_at(context.health, at)
    capacity = context.capacity
    return {
        "stage": STAGE_FIT[stage],
        "health": (health / 100, ""),
        "capacity": CAPACITY_FIT[capacity.level] if capacity else UNKNOWN_CAPACITY,
    }


def _score(parts: dict[str, tuple[float, str]]) -> int:
    return round(100 * sum(WEIGHTS[name] * value for name, (value, _) in parts.items()))


def stage_on(context: PartnerContext, as_of: datetime) -> Stage:
    """The relationship's stage at `as_of`, from the one stage timeline."""
    return stage_at(context.health, as_of.timestamp())[0]


def _timing(available: date | None, proposal: Proposal, as_of: datetime) -> tuple[float, str]:
    start = proposal.proposed_start
    if available and start:
        if available <= start:
            return 1.0, f"they are available from {available}, before your start on {start}"
        return 0.2, f"they are available only from {available}, after your start on {start}"
    if available:
        if available <= as_of.astimezone(UTC).date():
            return 0.9, f"they have been available since {available}"
        return 0.5, f"they are available from {available}; propose a start after it"
    if start:
        return 0.5, f"their availability is unknown; you propose to start on {start}"
    return 0.4, "no timing known: note when they are available and when you would start"


def _goals(partner: tuple[str, ...], served: tuple[str, ...]) -> tuple[float, str]:
    theirs, ours = _norm(partner), _norm(served)
    if not ours:
        return 0.3, "the proposal names none of the partner's goals it serves"
    if not theirs:
        return 0.4, "their goals are unknown: note them to align the proposal"
    shared = sorted(theirs & ours)
    if not shared:
        return 0.1, f"serves none of their goals (they want: {', '.join(sorted(theirs))})"
    if len(shared) == len(ours):
        return 1.0, f"aligned with their goals: {', '.join(shared)}"
    return len(shared) / len(ours), (
        f"{len(shared)} of its {len(ours)} goals are theirs ({', '.join(shared)}); "
        "drop or reframe the rest"
    )


def age_days(proposal: Proposal, as_of: datetime) -> int:
    """Whole days since the proposal was opened."""
    return max(0, (as_of - proposal.opened_at).days)

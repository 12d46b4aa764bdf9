"""The explainable health score of a relationship at an instant, with reasons to act on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events import Stage, timeline
from projections.health.components import COMPONENTS, contact_at, scored, weighted_score
from projections.health.policy import DAY, POLICY, HealthPolicy, band

if TYPE_CHECKING:
    from collections.abc import Callable

    from projections.health.fold import HealthState

WINDOW_DAYS = 90  # "touches in the last 90 days", as reasons count them


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The contract's `health.get` answer, plus stage, owner and flags."""

    relationship_id: str
    as_of: datetime
    score: int
    band: str
    components: dict[str, float]
    reasons: list[str]
    flags: list[str]
    stage: Stage
    owner: str | None
    last_interaction_at: datetime | None
    next_touch_due: datetime | None
    name: str | None = None

    def reply(self) -> dict[str, Any]:
        """JSON-ready fields of the reply."""
        return {
            "relationship_id": self.relationship_id,
            "score": self.score,
            "band": self.band,
            "components": self.components,
            "reasons": self.reasons,
            "flags": self.flags,
            "last_interaction_at": _iso(self.last_interaction_at),
            "next_touch_due": _iso(self.next_touch_due),
            "stage": self.stage.value,
            "owner": self.owner,
            "name": self.name,
            "as_of": _iso(self.as_of),
        }


def stage_at(state: HealthState, now: float) -> tuple[Stage, float]:
    """The stage timeline's stage at `now`, and since when."""
    return timeline.stage_at(state.stage_marks, state.opened_at, now)


def due_after(touched_at: float, cadence_days: float) -> float:
    """A touch is due one cadence later, to the whole second (so lists can page by it)."""
    return float(math.floor(touched_at + cadence_days * DAY))


def touch_due(state: HealthState, policy: HealthPolicy = POLICY) -> float | None:
    """When the next touch is due after all of the state's events (None once closed)."""
    stage, _ = stage_at(state, state.latest_at)
    if stage == Stage.CLOSED:
        return None
    last = state.last_touch_at
    return due_after(last if last is not None else state.opened_at, policy.cadence_days[stage])


def score_at(state: HealthState, now: float, policy: HealthPolicy = POLICY) -> tuple[Stage, int]:
    """The stage and score `assess` gives at `now`, without the reasons (a hot path's)."""
    stage, since = stage_at(state, now)
    contact = contact_at(state, now, policy)
    return stage, weighted_score(scored(contact, stage, since, now, policy), policy)


def assess(state: HealthState, as_of: datetime, policy: HealthPolicy = POLICY) -> HealthReport:
    """Score the relationship at `as_of` from the events in `state` (those at or before it)."""
    now = as_of.timestamp()
    stage, since = stage_at(state, now)
    cadence = policy.cadence_days[stage]
    contact = contact_at(state, now, policy)
    components = scored(contact, stage, since, now, policy)
    score = weighted_score(components, policy)
    last_at = contact.last_at
    due = None
    if stage != Stage.CLOSED:
        due = due_after(last_at if last_at is not None else state.opened_at, cadence)
    situation = Situation(
        components=components,
        stage=stage,
        cadence=cadence,
        now=now,
        last_at=last_at,
        due=due,
        in_stage_days=max(0.0, (now - since) / DAY),
        expected_stage_days=policy.expected_stage_days.get(stage),
        recent=contact.recent(now, WINDOW_DAYS),
        outbound_share=contact.outbound_share(),
        has_purpose=state.purpose_mark is not None and state.purpose_mark[0] <= now,
    )
    reasons, flags = explain(situation, policy)
    return HealthReport(
        relationship_id=state.relationship_id,
        as_of=as_of,
        score=score,
        band=band(score),
        components={name: round(components[name], 3) for name in COMPONENTS},
        reasons=reasons,
        flags=flags,
        stage=stage,
        owner=state.owner,
        last_interaction_at=_at(last_at),
        next_touch_due=_at(due),
        name=state.name,
    )


@dataclass(frozen=True, slots=True)
class Situation:
    """What the reasons speak of: the components and the facts behind them, at `now`."""

    components: dict[str, float]
    stage: Stage
    cadence: float
    now: float
    last_at: float | None
    due: float | None
    in_stage_days: float
    expected_stage_days: float | None
    recent: tuple[int, bool]  # touches in the last WINDOW_DAYS, and whether exactly that many
    outbound_share: float
    has_purpose: bool


def explain(situation: Situation, policy: HealthPolicy = POLICY) -> tuple[list[str], list[str]]:
    """Reasons in plain words, the weightiest shortfall first, and machine-readable flags."""
    s = situation
    if s.stage == Stage.CLOSED:
        # nothing is expected of a closed relationship: no cadence, no touch, no purpose
        return ["the relationship is closed"], ["closed"]
    weighed: list[tuple[float, str]] = []
    flags: list[str] = []

    def shortfall(name: str) -> float:
        return policy.weights[name] * (1.0 - s.components[name])

    if s.last_at is None:
        flags.append("no-contact")
        weighed.append(
            (
                shortfall("recency") + shortfall("frequency"),
                f"no interactions recorded yet; {s.stage.value} expects a touch every "
                f"{s.cadence:g} days",
            )
        )
    elif s.due is not None and s.now > s.due:
        flags.append("overdue")
        days = int((s.now - s.last_at) // DAY)
        weighed.append(
            (
                shortfall("recency"),
                f"no contact for {days} days; {s.stage.value} expects {s.cadence:g}",
            )
        )
    if s.last_at is not None:
        weighed.extend(_contact_shortfalls(s, flags, shortfall))
    if s.expected_stage_days is not None and s.components["momentum"] < 0.6:
        flags.append("stalled")
        weighed.append(
            (
                shortfall("momentum"),
                f"in {s.stage.value} for {int(s.in_stage_days)} days; it usually takes "
                f"{s.expected_stage_days:g}",
            )
        )
    weighed.sort(key=lambda pair: -pair[0])
    reasons = [text for _, text in weighed]
    if not s.has_purpose:
        flags.append("no-purpose")
        reasons.append("no purpose set: every relationship should have one")
    if not weighed and s.last_at is not None and s.due is not None:
        days = int((s.now - s.last_at) // DAY)
        touch_by = datetime.fromtimestamp(s.due, UTC).date().isoformat()
        reasons.insert(0, f"in good shape: last contact {days} days ago; touch again by {touch_by}")
    return reasons, flags


def _contact_shortfalls(
    s: Situation, flags: list[str], shortfall: Callable[[str], float]
) -> list[tuple[float, str]]:
    """What the touches themselves lack: frequency, reciprocity, tone and depth."""
    weighed: list[tuple[float, str]] = []
    if s.components["frequency"] < 0.6:
        weighed.append(
            (
                shortfall("frequency"),
                f"{_touches(*s.recent)} in the last {WINDOW_DAYS} days; {s.stage.value} wants one "
                f"every {s.cadence:g} days",
            )
        )
    if s.components["reciprocity"] < 0.6:
        flags.append("one-way")
        weighed.append(
            (
                shortfall("reciprocity"),
                f"mostly one-way: {round(100 * s.outbound_share)}% of recent contact was us "
                "reaching out",
            )
        )
    if s.components["sentiment"] < 0.45:
        flags.append("negative")
        weighed.append((shortfall("sentiment"), "recent interactions were negative in tone"))
    if s.components["depth"] < 0.5:
        flags.append("shallow")
        weighed.append((shortfall("depth"), "contact has been shallow: no recent meeting or call"))
    return weighed


def _touches(count: int, exact: bool = True) -> str:
    if not exact:
        return f"only {count} or more touches"
    return {0: "no touches", 1: "only 1 touch"}.get(count, f"only {count} touches")


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")

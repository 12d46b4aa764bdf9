"""The explainable health score of a relationship at an instant, with reasons to act on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events import Stage, timeline
from projections.health.fold import KINDS, HealthState
from projections.health.policy import DAY, POLICY, HealthPolicy, band

COMPONENTS = ("recency", "frequency", "reciprocity", "sentiment", "depth", "momentum")
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


def assess(state: HealthState, as_of: datetime, policy: HealthPolicy = POLICY) -> HealthReport:
    """Score the relationship at `as_of` from the events in `state` (those at or before it)."""
    now = as_of.timestamp()
    stage, since = stage_at(state, now)
    cadence = policy.cadence_days[stage]
    touches = [t for t in state.touches if t.at <= now]
    older = state.older if state.older.count and state.older.latest_at <= now else None
    last_at = touches[-1].at if touches else (older.latest_at if older else None)

    # Weights relative to the newest touch (the newest weighs 1): ratios never underflow.
    half_life = policy.half_life_days * DAY
    rel = [math.pow(2.0, (t.at - last_at) / half_life) for t in touches] if last_at else []
    older_rel = math.pow(2.0, (older.latest_at - last_at) / half_life) if older and last_at else 0
    total_rel = sum(rel) + (older.count * older_rel if older else 0)

    components: dict[str, float] = {}
    if last_at is None:
        components["recency"] = 0.0
        components["frequency"] = 0.0
    else:
        silent_days = (now - last_at) / DAY
        if silent_days <= cadence:
            components["recency"] = 1.0 - 0.5 * silent_days / cadence
        else:
            components["recency"] = 0.5 * math.pow(2.0, -(silent_days - cadence) / cadence)
        decayed = total_rel * math.pow(2.0, -(now - last_at) / half_life)
        components["frequency"] = 1.0 - math.pow(4.0, -decayed / policy.expected_touches(cadence))

    if total_rel > 0:
        theirs = sum(w for w, t in zip(rel, touches, strict=True) if t.theirs)
        theirs += older.theirs * older_rel if older else 0
        components["reciprocity"] = min(1.0, 2.0 * theirs / total_rel)
        mood = sum(w * t.sentiment for w, t in zip(rel, touches, strict=True))
        mood += older.sentiment_milli / 1000 * older_rel if older else 0
        components["sentiment"] = (1.0 + mood / total_rel) / 2.0
        depth = sum(w * policy.depth[t.kind] for w, t in zip(rel, touches, strict=True))
        if older:
            kinds_depth = sum(n * policy.depth[k] for n, k in zip(older.kinds, KINDS, strict=True))
            depth += kinds_depth * older_rel
        components["depth"] = depth / total_rel
    else:
        components.update(reciprocity=0.0, sentiment=0.5, depth=0.0)

    in_stage_days = max(0.0, (now - since) / DAY)
    expected = policy.expected_stage_days.get(stage)
    if stage == Stage.CLOSED:
        components["momentum"] = 0.0
    elif expected is None or in_stage_days <= expected:
        components["momentum"] = 1.0
    else:
        components["momentum"] = expected / in_stage_days

    raw = sum(policy.weights[name] * components[name] for name in COMPONENTS)
    score = max(0, min(100, round(100 * raw)))
    has_purpose = state.purpose_mark is not None and state.purpose_mark[0] <= now
    due = None
    if stage != Stage.CLOSED:
        due = due_after(last_at if last_at is not None else state.opened_at, cadence)
    reasons, flags = explain(
        components=components,
        stage=stage,
        cadence=cadence,
        now=now,
        last_at=last_at,
        due=due,
        in_stage_days=in_stage_days,
        expected_stage_days=expected,
        recent=sum(1 for t in touches if now - t.at <= WINDOW_DAYS * DAY),
        outbound_share=(
            1 - sum(w for w, t in zip(rel, touches, strict=True) if t.theirs) / sum(rel)
            if rel
            else 0.0
        ),
        has_purpose=has_purpose,
        policy=policy,
    )
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
    )


def explain(
    *,
    components: dict[str, float],
    stage: Stage,
    cadence: float,
    now: float,
    last_at: float | None,
    due: float | None,
    in_stage_days: float,
    expected_stage_days: float | None,
    recent: int,
    outbound_share: float,
    has_purpose: bool,
    policy: HealthPolicy,
) -> tuple[list[str], list[str]]:
    """Reasons in plain words, the weightiest shortfall first, and machine-readable flags."""
    weighed: list[tuple[float, str]] = []
    flags: list[str] = []

    def shortfall(name: str) -> float:
        return policy.weights[name] * (1.0 - components[name])

    if last_at is None:
        flags.append("no-contact")
        weighed.append(
            (
                shortfall("recency") + shortfall("frequency"),
                f"no interactions recorded yet; {stage.value} expects a touch every "
                f"{cadence:g} days",
            )
        )
    elif due is not None and now > due:
        flags.append("overdue")
        days = int((now - last_at) // DAY)
        weighed.append(
            (shortfall("recency"), f"no contact for {days} days; {stage.value} expects {cadence:g}")
        )
    if last_at is not None and components["frequency"] < 0.6:
        weighed.append(
            (
                shortfall("frequency"),
                f"{_touches(recent)} in the last {WINDOW_DAYS} days; {stage.value} wants one "
                f"every {cadence:g} days",
            )
        )
    if last_at is not None and components["reciprocity"] < 0.6:
        flags.append("one-way")
        weighed.append(
            (
                shortfall("reciprocity"),
                f"mostly one-way: {round(100 * outbound_share)}% of recent contact was us "
                "reaching out",
            )
        )
    if last_at is not None and components["sentiment"] < 0.45:
        flags.append("negative")
        weighed.append((shortfall("sentiment"), "recent interactions were negative in tone"))
    if last_at is not None and components["depth"] < 0.5:
        flags.append("shallow")
        weighed.append((shortfall("depth"), "contact has been shallow: no recent meeting or call"))
    if stage == Stage.CLOSED:
        flags.append("closed")
        weighed.append((shortfall("momentum"), "the relationship is closed"))
    elif expected_stage_days is not None and components["momentum"] < 0.6:
        flags.append("stalled")
        weighed.append(
            (
                shortfall("momentum"),
                f"in {stage.value} for {int(in_stage_days)} days; it usually takes "
                f"{expected_stage_days:g}",
            )
        )
    weighed.sort(key=lambda pair: -pair[0])
    reasons = [text for _, text in weighed]
    if not has_purpose:
        flags.append("no-purpose")
        reasons.append("no purpose set: every relationship should have one")
    if not weighed and last_at is not None and due is not None:
        days = int((now - last_at) // DAY)
        touch_by = datetime.fromtimestamp(due, UTC).date().isoformat()
        reasons.insert(0, f"in good shape: last contact {days} days ago; touch again by {touch_by}")
    return reasons, flags


def _touches(count: int) -> str:
    return {0: "no touches", 1: "only 1 touch"}.get(count, f"only {count} touches")


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")

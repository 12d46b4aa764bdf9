"""The six components of the health score, each 0..1, from the touches known at an instant."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from events import Stage
from events.data import INTERACTION_KINDS
from projections.health.policy import DAY

if TYPE_CHECKING:
    from projections.health.fold import HealthState, OlderTouches, Touch
    from projections.health.policy import HealthPolicy

COMPONENTS = ("recency", "frequency", "reciprocity", "sentiment", "depth", "momentum")


@dataclass(frozen=True, slots=True)
class Contact:
    """The touches at or before an instant, weighed relative to the newest (which weighs 1)."""

    last_at: float | None
    touches: list[Touch]
    weights: list[float]
    older: OlderTouches | None
    older_weight: float

    @property
    def total(self) -> float:
        """The weight of every touch: relative weights never underflow."""
        older = self.older
        return sum(self.weights) + (older.count * self.older_weight if older is not None else 0)

    def _pairs(self) -> zip[tuple[float, Touch]]:
        return zip(self.weights, self.touches, strict=True)

    def theirs(self) -> float:
        """The weight of touches they started or shared."""
        weight = sum(w for w, t in self._pairs() if t.theirs)
        return weight + (self.older.theirs * self.older_weight if self.older else 0)

    def mood(self) -> float:
        """The weighted sum of sentiments."""
        total = sum(w * t.sentiment for w, t in self._pairs())
        older = self.older
        return total + (older.sentiment_milli / 1000 * self.older_weight if older else 0)

    def depth(self, policy: HealthPolicy) -> float:
        """The weighted sum of depths (meeting > call > message)."""
        total = sum(
            w * policy.depth[t.kind] for w, t in zip(self.weights, self.touches, strict=True)
        )
        if self.older:
            kinds = zip(self.older.kinds, INTERACTION_KINDS, strict=True)
            total += sum(n * policy.depth[k] for n, k in kinds) * self.older_weight
        return total

    def outbound_share(self) -> float:
        """The weighted share of the touches (summed ones too) that we started."""
        total = self.total
        return 1 - self.theirs() / total if total > 0 else 0.0

    def recent(self, now: float, window_days: float) -> tuple[int, bool]:
        """How many touches fall in the last `window_days`, and whether that is exact.

        Summed touches are known by count and their first and last instants only: when the
        window holds all of them they count exactly; when it holds only some, at least one.
        """
        start = now - window_days * DAY
        count = sum(1 for t in self.touches if t.at >= start)
        older = self.older
        if older is None or older.latest_at < start:
            return count, True
        if older.earliest_at >= start:
            return count + older.count, True
        return count + 1, False


def contact_at(state: HealthState, now: float, policy: HealthPolicy) -> Contact:
    """The touches of `state` at or before `now`, with their relative weights."""
    touches = [t for t in state.touches if t.at <= now]
    older = state.older if state.older.count and state.older.latest_at <= now else None
    last_at = touches[-1].at if touches else (older.latest_at if older else None)
    half_life = policy.half_life_days * DAY
    # `is not None`: a touch at 1970-01-01T00:00:00Z is at 0.0, and weighs like any other
    weights = (
        [math.pow(2.0, (t.at - last_at) / half_life) for t in touches]
        if last_at is not None
        else []
    )
    older_weight = (
        math.pow(2.0, (older.latest_at - last_at) / half_life)
        if older is not None and last_at is not None
        else 0
    )
    return Contact(last_at, touches, weights, older, older_weight)


def scored(
    contact: Contact, stage: Stage, since: float, now: float, policy: HealthPolicy
) -> dict[str, float]:
    """Every component at `now`."""
    cadence = policy.cadence_days[stage]
    components = {
        "recency": recency(contact.last_at, now, cadence),
        "frequency": frequency(contact, now, cadence, policy),
    }
    total = contact.total
    if total > 0:
        components["reciprocity"] = min(1.0, 2.0 * contact.theirs() / total)
        components["sentiment"] = (1.0 + contact.mood() / total) / 2.0
        components["depth"] = contact.depth(policy) / total
    else:
        components.update(reciprocity=0.0, sentiment=0.5, depth=0.0)
    components["momentum"] = momentum(stage, since, now, policy)
    return components


def recency(last_at: float | None, now: float, cadence: float) -> float:
    """1 right after a touch, 0.5 once the cadence has passed, halving every cadence after."""
    if last_at is None:
        return 0.0
    silent_days = (now - last_at) / DAY
    if silent_days <= cadence:
        return 1.0 - 0.5 * silent_days / cadence
    return 0.5 * math.pow(2.0, -(silent_days - cadence) / cadence)


def frequency(contact: Contact, now: float, cadence: float, policy: HealthPolicy) -> float:
    """Decayed touches against what touching at the cadence gives, saturating."""
    if contact.last_at is None:
        return 0.0
    decayed = contact.total * math.pow(
        2.0, -(now - contact.last_at) / (policy.half_life_days * DAY)
    )
    return 1.0 - math.pow(4.0, -decayed / policy.expected_touches(cadence))


def momentum(stage: Stage, since: float, now: float, policy: HealthPolicy) -> float:
    """1 while the stage has lasted no longer than it usually takes, then expected/actual."""
    if stage == Stage.CLOSED:
        return 0.0
    expected = policy.expected_stage_days.get(stage)
    in_stage_days = max(0.0, (now - since) / DAY)
    if expected is None or in_stage_days <= expected:
        return 1.0
    return expected / in_stage_days


def weighted_score(components: dict[str, float], policy: HealthPolicy) -> int:
    """100 x the weighted sum of the components, as a whole number in 0..100."""
    raw = sum(policy.weights[name] * components[name] for name in COMPONENTS)
    return max(0, min(100, round(100 * raw)))

"""Every number behind the health score, in one documented place.

The score is 100 x the weighted sum of six components, each 0..1:

- recency: 1 right after a touch, 0.5 when the stage's cadence has passed, then halving
  with every further cadence of silence;
- frequency: touches decayed with a 30-day half-life, against what the cadence would give,
  saturating (1 - 4^-(actual/expected)) so that volume cannot be gamed;
- reciprocity: the share of recent contact that came from them or was mutual; 1 once at
  least half of it is (one-way outreach is what pulls it down);
- sentiment: the decayed mean sentiment of touches, mapped from -1..1 to 0..1;
- depth: the decayed mean depth of touches (meeting > call > message);
- momentum: 1 while the relationship has been in its stage for no longer than the stage
  usually takes, then expected/actual; partnership keeps 1, closed is 0.

Cadences deepen from weekly to monthly: a new connection needs a follow-up within a week,
a partnership holds with a monthly touch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from events import Stage

DAY = 86_400.0


@dataclass(frozen=True)
class HealthPolicy:
    """Cadences, expected stage durations, weights and depths of the health score."""

    cadence_days: dict[Stage, float] = field(
        default_factory=lambda: {
            Stage.CONNECTION: 7,
            Stage.AWARENESS: 10,
            Stage.ENGAGEMENT: 14,
            Stage.CONVERSION: 21,
            Stage.PARTNERSHIP: 30,
            Stage.CLOSED: 30,  # scored like a partnership, but never due
        }
    )
    expected_stage_days: dict[Stage, float] = field(
        default_factory=lambda: {
            Stage.CONNECTION: 14,
            Stage.AWARENESS: 30,
            Stage.ENGAGEMENT: 60,
            Stage.CONVERSION: 45,
        }
    )
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "recency": 0.30,
            "frequency": 0.20,
            "reciprocity": 0.15,
            "sentiment": 0.10,
            "depth": 0.10,
            "momentum": 0.15,
        }
    )
    depth: dict[str, float] = field(
        default_factory=lambda: {
            "meeting": 1.0,
            "event": 0.8,
            "call": 0.7,
            "intro": 0.6,
            "email": 0.4,
            "message": 0.4,
            "social": 0.2,
            "other": 0.3,
        }
    )
    half_life_days: float = 30.0
    # Touches kept one by one; older ones are summed (their decayed weight is tiny by then).
    kept_touches: int = 100

    def expected_touches(self, cadence_days: float) -> float:
        """Decayed touch count of a relationship touched exactly at its cadence, forever."""
        return 1.0 / (1.0 - math.pow(2.0, -cadence_days / self.half_life_days))


POLICY = HealthPolicy()

BANDS: tuple[tuple[int, str], ...] = (
    (80, "thriving"),
    (60, "healthy"),
    (40, "cooling"),
    (20, "at-risk"),
    (0, "dormant"),
)


def band(score: int) -> str:
    """The contract's band of a score."""
    for floor, name in BANDS:
        if score >= floor:
            return name
    return "dormant"

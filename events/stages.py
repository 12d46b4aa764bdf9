"""The stages a relationship moves through, with their level and funnel order."""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise


class Stage(StrEnum):
    """Where a relationship stands (contract: stage table)."""

    CONNECTION = "connection"
    AWARENESS = "awareness"
    ENGAGEMENT = "engagement"
    CONVERSION = "conversion"
    PARTNERSHIP = "partnership"
    CLOSED = "closed"


class Level(StrEnum):
    """The depth a stage belongs to: the essay's three levels, plus closed."""

    CONNECTION = "connection"
    RELATIONSHIP = "relationship"
    PARTNERSHIP = "partnership"
    CLOSED = "closed"


# The funnel, in order; `closed` stands outside it.
FUNNEL: tuple[Stage, ...] = (
    Stage.CONNECTION,
    Stage.AWARENESS,
    Stage.ENGAGEMENT,
    Stage.CONVERSION,
    Stage.PARTNERSHIP,
)

ORDER: dict[Stage, int] = {stage: n for n, stage in enumerate(FUNNEL)}

LEVEL: dict[Stage, Level] = {
    Stage.CONNECTION: Level.CONNECTION,
    Stage.AWARENESS: Level.RELATIONSHIP,
    Stage.ENGAGEMENT: Level.RELATIONSHIP,
    Stage.CONVERSION: Level.RELATIONSHIP,
    Stage.PARTNERSHIP: Level.PARTNERSHIP,
    Stage.CLOSED: Level.CLOSED,
}

# Funnel transitions named as the contract's `conversion` keys: "connection->awareness", ...
TRANSITIONS: tuple[tuple[Stage, Stage], ...] = tuple(pairwise(FUNNEL))


def transition_key(lower: Stage, upper: Stage) -> str:
    """Name a funnel step as the contract's funnel reply does."""
    return f"{lower.value}->{upper.value}"

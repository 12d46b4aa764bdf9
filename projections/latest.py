"""Which of two facts is the latest: the one rule every projection uses to keep "the latest".

A fact is marked by (its event's `time` in epoch seconds, its event id): the later time wins,
and the id breaks a tie, so the choice depends only on the set of events, not on their order.
"""

from __future__ import annotations

Mark = tuple[float, str]


def later(mark: Mark, than: Mark | None) -> bool:
    """True when a fact marked `mark` replaces one marked `than` (None: nothing yet)."""
    return than is None or mark > than

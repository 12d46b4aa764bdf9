"""What every projection is: a name and a pure fold of one relationship's events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from events import Event

S = TypeVar("S")


class Fold(Protocol[S]):
    """A pure fold: the new state of a relationship after one more event (never mutates)."""

    def __call__(self, state: S | None, event: Event, seq: int, /) -> S: ...


class FoldError(ValueError):
    """An event the fold cannot apply (it goes to the dead-letter queue with this reason)."""

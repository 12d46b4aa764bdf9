"""What a projection announces once a batch is committed: its notice rules (pure).

The runner (`services.projection.applier`) folds a batch, asks the projection's rules for the
notices the batch brings, and commits them with the batch (an outbox); they are published
after. Rules read no clock: `now` is given, like `as_of`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from events import Event
    from events.notices import Notice

S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)
Cause = tuple[int, "Event"]  # the stream sequence and event that last changed a relationship


class NoticeRules(Protocol[S_contra]):
    """The notices one projection derives from its states before and after."""

    def after_event(
        self, before: S_contra | None, event: Event, seq: int, after: S_contra, /
    ) -> Notice | None:
        """The notice one event brings by itself (a stage change, a decision), if any."""
        ...

    def after_batch(
        self,
        changes: Mapping[str, tuple[S_contra | None, S_contra]],
        causes: Mapping[str, Cause],
        now: float,
        /,
    ) -> list[Notice]:
        """The notices a batch brings as a whole: states at its start and end, compared `now`."""
        ...

    def forget(self) -> None:
        """Drop what was remembered of batches that were not committed."""
        ...


class NoNotices(Generic[S]):
    """Rules that announce nothing (a base for the others)."""

    def after_event(self, before: S | None, event: Event, seq: int, after: S, /) -> Notice | None:
        """Nothing, unless a subclass says otherwise."""
        return None

    def after_batch(
        self, changes: Mapping[str, tuple[S | None, S]], causes: Mapping[str, Cause], now: float, /
    ) -> list[Notice]:
        """Nothing, unless a subclass says otherwise."""
        return []

    def forget(self) -> None:
        """Nothing is remembered."""

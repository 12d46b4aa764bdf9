"""What a projection's query is: a route (subject, request model, handler) and its errors.

Handlers get a `Context`: the store of the projection answering (typed: each projection's
handlers know their own store), direct reads of the log, and what the store knows of event
ids. The projection runtime (`services.projection`) subscribes the routes and answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from events.queries import Query
    from events.reading import FirstCopy
    from services.nats.log_reader import DirectReader

StoreT_co = TypeVar("StoreT_co", covariant=True)


class QueryError(Exception):
    """A query answered with the contract's error reply."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class NotFound(QueryError):
    """The relationship (or proposal) is unknown."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} is unknown")


class Context(Protocol[StoreT_co]):
    """What a query handler may use of the projection service that answers it."""

    @property
    def store(self) -> StoreT_co:
        """The projection's store (the one in use now)."""
        ...

    @property
    def reader(self) -> DirectReader:
        """Direct reads of the log (time travel, audit)."""
        ...

    async def first_copies(self, ids: set[str], upto_seq: int) -> dict[str, FirstCopy]:
        """What the store knows of the first stored copies of these ids."""
        ...


@dataclass(frozen=True)
class Route:
    """One query: its name under `rapport.q.<projection>.`, request model and handler."""

    name: str
    model: type[Query]
    handler: Callable[[Any], Awaitable[dict[str, Any]]]
    subject: str | None = None  # when not rapport.q.<projection>.<name> (e.g. rapport.q.audit)
    queue: str | None = None  # when not the projection's own queue group
    # With partitions: a query naming a relationship goes to its owner; one that does not is
    # asked of every partition and merged by `merge` (without `merge`, any replica answers).
    merge: Callable[[Any, list[dict[str, Any]]], dict[str, Any]] | None = None

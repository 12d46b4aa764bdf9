"""Query requests of the contract (`rapport.q.*`), validated like events are.

Every query takes `min_seq` (answer only once the projection has applied that stream
sequence) and `wait_ms` (how long to wait for it, default 2000).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.fields import (
    EventId,
    ProposalId,
    RelationshipId,
    Rfc3339Time,
    SearchWords,
    ShortText,
)
from events.stages import Level, Stage

Band = Literal["thriving", "healthy", "cooling", "at-risk", "dormant"]
ProposalStatus = Literal[
    "pending", "drafted", "submitted", "accepted", "declined", "withdrawn", "all"
]
Limit = Annotated[int, Field(ge=1, le=1000)]


MAX_WAIT_MS = 30_000  # the longest a query may wait for `min_seq`


class Query(BaseModel):
    """What every query takes."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_seq: Annotated[int, Field(ge=0)] | None = None
    wait_ms: Annotated[int, Field(ge=0, le=MAX_WAIT_MS)] = 2000


class RelationshipQuery(Query):
    """`stage.get`, `health.get`, `audit`: one relationship, optionally as of an instant."""

    relationship_id: RelationshipId
    as_of: Rfc3339Time | None = None


class StageListQuery(Query):
    """`stage.list`."""

    stage: Stage | None = None
    level: Level | None = None
    owner: ShortText | None = None
    q: SearchWords | None = None  # v1.1: words, as prefixes of name, organization, email, tags
    limit: Limit = 100
    cursor: str | None = None


class OwnersQuery(Query):
    """`stage.owners`: who holds relationships, and how many each."""


class FunnelQuery(Query):
    """`stage.funnel`."""

    owner: ShortText | None = None


class HealthListQuery(Query):
    """`health.list`: by relationship id, or most overdue first when `due_before` is given."""

    band: Band | None = None
    owner: ShortText | None = None
    due_before: Rfc3339Time | None = None
    limit: Limit = 100
    cursor: str | None = None
    as_of: Rfc3339Time | None = None


class HealthSummaryQuery(Query):
    """`health.summary`: how many relationships are in each band, of one owner, at an instant."""

    owner: ShortText | None = None
    as_of: Rfc3339Time | None = None


MAX_CURVE_POINTS = 400  # instants one `health.curve` may ask for (a year, daily, fits)


class HealthCurveQuery(Query):
    """`health.curve`: one relationship's score and band at each of these instants.

    Each point is what `health.get` with that `as_of` answers, from one read of the log.
    """

    relationship_id: RelationshipId
    instants: Annotated[tuple[Rfc3339Time, ...], Field(min_length=1, max_length=MAX_CURVE_POINTS)]


class ProposalsQuery(Query):
    """`proposals.pending` (and, with `status`, any other lifecycle state)."""

    relationship_id: RelationshipId | None = None
    owner: ShortText | None = None
    status: ProposalStatus = "pending"
    proposal_id: ProposalId | None = None
    limit: Limit = 500
    as_of: Rfc3339Time | None = None


class IdsQuery(Query):
    """`identity.lookup`: the first stored copy of each of these event ids, where known.

    `upto_seq` asks the index to have read the log up to that sequence first.
    """

    ids: Annotated[tuple[EventId, ...], Field(min_length=1, max_length=1000)]
    upto_seq: Annotated[int, Field(ge=0)] = 0

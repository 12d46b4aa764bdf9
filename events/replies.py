"""Replies of the contract's queries, of the ingest and of every error, as models.

They document the replies (the OpenAPI document is built from them) and say which keys a
reply always carries; the services add more (`as_of`, `flags`, `partner`, ...), so every
model allows extra keys. The services answer with bytes they build themselves: nothing is
re-validated on the way out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.queries import Band
from events.stages import Level, Stage

ErrorCode = Literal[
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "unavailable",
]
RefusalCode = Literal["invalid", "rejected", "conflict", "unavailable"]
Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Percent = Annotated[int, Field(ge=0, le=100)]


class Reply(BaseModel):
    """A reply: the keys below always, whatever else the service adds."""

    model_config = ConfigDict(frozen=True, extra="allow")


class Problem(Reply):
    """What went wrong, in the contract's code and in words (`field: problem`)."""

    code: ErrorCode
    message: str


class ErrorReply(Reply):
    """Every error, whatever the route or the input."""

    error: Problem


class Applied(Reply):
    """What every query reply carries: the last stream sequence the projection applied."""

    applied_seq: Count


# -- stage ---------------------------------------------------------------------------------


class Counterpart(Reply):
    """Who the relationship is with, as the connection named them."""

    name: str


class StageItem(Reply):
    """Where one relationship stands (`stage.get`, and each item of `stage.list`)."""

    relationship_id: str
    stage: Stage
    level: Level
    since: AwareDatetime
    owner: str | None
    counterpart: Counterpart | None
    implicit: bool


class StageReply(StageItem, Applied):
    """`stage.get`."""


class StageList(Applied):
    """`stage.list`: a page of relationships in id order."""

    items: list[StageItem]
    next_cursor: str | None


class OwnersReply(Applied):
    """`stage.owners`: every owner, with how many relationships they hold."""

    owners: dict[str, Count]


class StageCounts(Reply):
    """Relationships standing at each stage now."""

    connection: Count
    awareness: Count
    engagement: Count
    conversion: Count
    partnership: Count
    closed: Count


class ReachedCounts(Reply):
    """Relationships that ever stood at each funnel stage or moved past it by a skip."""

    connection: Count
    awareness: Count
    engagement: Count
    conversion: Count
    partnership: Count


class FunnelReply(Applied):
    """`stage.funnel`: `conversion` {"a->b": reached(b) / reached(a), null when none reached a}."""

    stages: StageCounts
    reached: ReachedCounts
    conversion: dict[str, Share | None]


# -- health --------------------------------------------------------------------------------


class Components(Reply):
    """The parts of a health score, each 0-1."""

    recency: Share
    frequency: Share
    reciprocity: Share
    sentiment: Share
    depth: Share
    momentum: Share


class HealthItem(Reply):
    """A relationship's health at an instant (`health.get`, and each item of `health.list`)."""

    relationship_id: str
    score: Percent
    band: Band
    components: Components
    reasons: list[str]
    last_interaction_at: AwareDatetime | None
    next_touch_due: AwareDatetime | None
    name: str | None = None  # v1.1: the counterpart's name, in `health.list` items


class HealthReply(HealthItem, Applied):
    """`health.get`."""


class HealthList(Applied):
    """`health.list`: a page by relationship id, or most overdue first with `due_before`."""

    items: list[HealthItem]
    next_cursor: str | None


# -- proposals -----------------------------------------------------------------------------


class Readiness(Reply):
    """How ready a proposal is to succeed now, and why not more."""

    score: Percent
    reasons: list[str]


class RejectedTransition(Reply):
    """A lifecycle-breaking event kept in the log: it changed nothing."""

    seq: Count
    type: str
    why: str


class ProposalItem(Reply):
    """One proposal with its readiness."""

    proposal_id: str
    relationship_id: str
    title: str
    status: Literal["drafted", "submitted", "accepted", "declined", "withdrawn"]
    age_days: Count
    readiness: Readiness
    rejected: list[RejectedTransition]


class ProposalsReply(Applied):
    """`proposals.pending`: the most ready first."""

    items: list[ProposalItem]
    matched: Count | None = Field(
        default=None, description="how many proposals match in all, listed or not (v1.1+)"
    )


# -- audit and history ---------------------------------------------------------------------


class AuditedChange(Reply):
    """One stage change, judged, with the flags a reviewer should look at."""

    model_config = ConfigDict(populate_by_name=True)

    seq: Count
    time: AwareDatetime
    from_: Stage = Field(alias="from")
    to: Stage
    reason: str | None
    actor: str | None
    source: str
    accepted: bool
    flags: list[str]


class AuditReply(Applied):
    """`audit`: every stage change of a relationship in stream order."""

    relationship_id: str
    stage: Stage
    changes: list[AuditedChange]


class StoredEvent(Reply):
    """A stored message as it is in the log (`event` is null when it is not an event)."""

    seq: Count
    subject: str
    stored_at: str | None
    event: dict[str, object] | None


class HistoryPage(Reply):
    """A page of a relationship's stored messages, oldest first."""

    relationship_id: str
    items: list[StoredEvent]
    next_cursor: str | None


# -- ingest --------------------------------------------------------------------------------


class AcceptedEvent(Reply):
    """An event stored (or stored before: `duplicate`), at its stream sequence."""

    id: str
    seq: Count
    duplicate: bool = False


class RefusedEvent(Reply):
    """An event not stored, and why (`index` in a batch)."""

    id: str | None
    error: str
    code: RefusalCode
    index: Count | None = None


class IngestReply(Reply):
    """The validated ingest's reply: what was stored and what was refused."""

    accepted: list[AcceptedEvent]
    rejected: list[RefusedEvent]


class IngestRefusal(ErrorReply):
    """A request of which nothing was stored: the error, and the ingest reply's lists."""

    accepted: list[AcceptedEvent] = []
    rejected: list[RefusedEvent] = []

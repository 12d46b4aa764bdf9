"""The typed `data` of each event type (contract: "Event types and their data")."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.fields import CalendarDate, LongText, ProposalId, Reason, ShortText, Tags
from events.stages import Stage

InteractionKind = Literal[
    "meeting", "call", "email", "message", "event", "social", "intro", "other"
]
INTERACTION_KINDS: tuple[str, ...] = get_args(InteractionKind)
Direction = Literal["inbound", "outbound", "mutual"]
ValueExchange = Literal["gave", "received", "exchanged", "none"]
Capacity = Literal["low", "medium", "high"]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=256)]


class EventData(BaseModel):
    """Base of every payload: frozen, strict types, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)


class Counterpart(EventData):
    """The person or organization on the other side."""

    name: ShortText
    kind: Literal["person", "organization"] = "person"
    organization: ShortText | None = None
    email: Email | None = None
    tags: Tags = ()


class ConnectionMadeData(EventData):
    """A door opened: who holds it on our side, and who is on the other."""

    owner: ShortText
    counterpart: Counterpart
    channel: ShortText | None = None
    introduced_by: ShortText | None = None
    purpose: LongText | None = None


class InteractionRecordedData(EventData):
    """A meeting, call, message or other touch, with its direction and tone."""

    kind: InteractionKind
    direction: Direction
    sentiment: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] = 0.0
    value: ValueExchange | None = None
    duration_minutes: Annotated[int, Field(ge=0, le=100_000)] | None = None
    notes: LongText | None = None


class StageChangedData(EventData):
    """A move to another stage; `from` is the writer's view of the current stage."""

    to: Stage
    from_: Stage | None = Field(default=None, alias="from")
    reason: Reason = None


class PurposeSetData(EventData):
    """Why this relationship exists: every relationship should have a purpose."""

    purpose: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    target_date: CalendarDate | None = None


class CapacityNotedData(EventData):
    """What the partner can take on now, from when, and what they are after."""

    capacity: Capacity
    available_from: CalendarDate | None = None
    goals: Tags = ()
    notes: LongText | None = None


class ProposalFields(EventData):
    """The fields a proposal is drafted with."""

    proposal_id: ProposalId
    title: ShortText
    kind: ShortText | None = None
    ask: LongText | None = None
    goals: Tags = ()
    proposed_start: CalendarDate | None = None


class ProposalDraftedData(ProposalFields):
    """A proposal written but not yet put to the partner."""


class ProposalSubmittedData(EventData):
    """A proposal put to the partner; carries the drafted fields when there was no draft.

    Whether there was a draft is a fact of the log, not of this event: the proposals
    projection refuses (dead-letters) a submission of an undrafted proposal without a title.
    """

    proposal_id: ProposalId
    title: ShortText | None = None
    kind: ShortText | None = None
    ask: LongText | None = None
    goals: Tags = ()
    proposed_start: CalendarDate | None = None


class ProposalDecidedData(EventData):
    """The end of a proposal: accepted, declined or withdrawn."""

    proposal_id: ProposalId
    reason: Reason = None

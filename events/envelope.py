"""The CloudEvents 1.0 envelope and one frozen model per Rapport event type."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from events.data import (
    CapacityNotedData,
    ConnectionMadeData,
    InteractionRecordedData,
    ProposalDecidedData,
    ProposalDraftedData,
    ProposalSubmittedData,
    PurposeSetData,
    StageChangedData,
)
from events.fields import ATTRIBUTE_PATTERN, EventId, RelationshipId, Rfc3339Time

Source = Annotated[str, StringConstraints(max_length=1024, pattern=ATTRIBUTE_PATTERN)]
Attribute = Annotated[str, StringConstraints(max_length=1024, pattern=ATTRIBUTE_PATTERN)]
# CloudEvents: extension attribute names are lower-case letters and digits
EXTENSION_NAME = re.compile(r"[a-z0-9]{1,64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes shared by every event; extension attributes are kept."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    specversion: Literal["1.0"]
    id: EventId
    source: Source
    subject: RelationshipId
    time: Rfc3339Time
    datacontenttype: Attribute | None = None
    dataschema: Attribute | None = None
    actor: Attribute | None = None

    event_type: ClassVar[str]

    @model_validator(mode="after")
    def _extensions_are_attributes(self) -> Envelope:
        """Extension attributes have CloudEvents names, and their text no control characters."""
        for name, value in (self.model_extra or {}).items():
            if not EXTENSION_NAME.fullmatch(name):
                raise ValueError(
                    f"extension attribute {name[:40]!r}: a name is 1-64 lower-case letters "
                    "and digits"
                )
            if isinstance(value, str) and CONTROL.search(value):
                raise ValueError(f"{name}: must not hold control characters")
        return self

    @property
    def relationship_id(self) -> str:
        """The relationship the event is about (the envelope's `subject`)."""
        return self.subject

    @property
    def extensions(self) -> dict[str, Any]:
        """Extension attributes the writer added, kept as sent."""
        return dict(self.model_extra or {})


class ConnectionMade(Envelope):
    """A relationship was opened by a handshake or introduction."""

    event_type: ClassVar[str] = "rapport.connection.made"
    type: Literal["rapport.connection.made"]
    data: ConnectionMadeData


class InteractionRecorded(Envelope):
    """A touch happened between us and the counterpart."""

    event_type: ClassVar[str] = "rapport.interaction.recorded"
    type: Literal["rapport.interaction.recorded"]
    data: InteractionRecordedData


class StageChanged(Envelope):
    """Someone moved the relationship to another stage."""

    event_type: ClassVar[str] = "rapport.stage.changed"
    type: Literal["rapport.stage.changed"]
    data: StageChangedData


class PurposeSet(Envelope):
    """The relationship was given a purpose."""

    event_type: ClassVar[str] = "rapport.purpose.set"
    type: Literal["rapport.purpose.set"]
    data: PurposeSetData


class CapacityNoted(Envelope):
    """The partner's capacity, availability or goals were noted."""

    event_type: ClassVar[str] = "rapport.capacity.noted"
    type: Literal["rapport.capacity.noted"]
    data: CapacityNotedData


class ProposalDrafted(Envelope):
    """A partnership proposal was drafted."""

    event_type: ClassVar[str] = "rapport.proposal.drafted"
    type: Literal["rapport.proposal.drafted"]
    data: ProposalDraftedData


class ProposalSubmitted(Envelope):
    """A partnership proposal was put to the partner."""

    event_type: ClassVar[str] = "rapport.proposal.submitted"
    type: Literal["rapport.proposal.submitted"]
    data: ProposalSubmittedData


class ProposalAccepted(Envelope):
    """The partner said yes."""

    event_type: ClassVar[str] = "rapport.proposal.accepted"
    type: Literal["rapport.proposal.accepted"]
    data: ProposalDecidedData


class ProposalDeclined(Envelope):
    """The partner said no."""

    event_type: ClassVar[str] = "rapport.proposal.declined"
    type: Literal["rapport.proposal.declined"]
    data: ProposalDecidedData


class ProposalWithdrawn(Envelope):
    """We took the proposal back."""

    event_type: ClassVar[str] = "rapport.proposal.withdrawn"
    type: Literal["rapport.proposal.withdrawn"]
    data: ProposalDecidedData


Event = Annotated[
    ConnectionMade
    | InteractionRecorded
    | StageChanged
    | PurposeSet
    | CapacityNoted
    | ProposalDrafted
    | ProposalSubmitted
    | ProposalAccepted
    | ProposalDeclined
    | ProposalWithdrawn,
    Field(discriminator="type"),
]

EVENT_CLASSES: tuple[type[Envelope], ...] = (
    ConnectionMade,
    InteractionRecorded,
    StageChanged,
    PurposeSet,
    CapacityNoted,
    ProposalDrafted,
    ProposalSubmitted,
    ProposalAccepted,
    ProposalDeclined,
    ProposalWithdrawn,
)
EVENT_TYPES: tuple[str, ...] = tuple(cls.event_type for cls in EVENT_CLASSES)

# Every proposal event: the lifecycle (events/proposal_rules.py) judges these.
ProposalEvent = (
    ProposalDrafted | ProposalSubmitted | ProposalAccepted | ProposalDeclined | ProposalWithdrawn
)


def new_envelope(
    event_type: str,
    subject: str,
    data: dict[str, Any],
    *,
    event_id: str,
    time: datetime | str,
    source: str,
    actor: str | None = None,
) -> dict[str, Any]:
    """A CloudEvents envelope as JSON-ready dict (structured mode), the one way Rapport writes one.

    `event_type` may leave out the `rapport.` prefix; a `time` given as a datetime is written
    in UTC with a `Z`. Nothing is validated here: the ingest and every reader do that.
    """
    full = event_type if event_type.startswith("rapport.") else f"rapport.{event_type}"
    if isinstance(time, datetime):
        time = time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": full,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
    }
    if actor:
        envelope["actor"] = actor
    return envelope

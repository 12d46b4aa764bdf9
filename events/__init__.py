"""The Rapport contract as code: envelope, typed event data, subjects and stage rules.

The event types exported here are the msgspec structs every reader holds (`events.records`);
the pydantic models of `events.envelope` and `events.data` are the public schema (OpenAPI and
the words of refusals), held to the same meaning by a parity test.
"""

from events.envelope import EVENT_CLASSES, EVENT_TYPES
from events.parsing import InvalidEvent, parse_event
from events.records import (
    CapacityNoted,
    CapacityNotedData,
    ConnectionMade,
    ConnectionMadeData,
    Counterpart,
    Envelope,
    Event,
    InteractionRecorded,
    InteractionRecordedData,
    ProposalAccepted,
    ProposalDecidedData,
    ProposalDeclined,
    ProposalDrafted,
    ProposalDraftedData,
    ProposalEvent,
    ProposalSubmitted,
    ProposalSubmittedData,
    ProposalWithdrawn,
    PurposeSet,
    PurposeSetData,
    StageChanged,
    StageChangedData,
)
from events.stages import FUNNEL, LEVEL, ORDER, Level, Stage

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "FUNNEL",
    "LEVEL",
    "ORDER",
    "CapacityNoted",
    "CapacityNotedData",
    "ConnectionMade",
    "ConnectionMadeData",
    "Counterpart",
    "Envelope",
    "Event",
    "InteractionRecorded",
    "InteractionRecordedData",
    "InvalidEvent",
    "Level",
    "ProposalAccepted",
    "ProposalDecidedData",
    "ProposalDeclined",
    "ProposalDrafted",
    "ProposalDraftedData",
    "ProposalEvent",
    "ProposalSubmitted",
    "ProposalSubmittedData",
    "ProposalWithdrawn",
    "PurposeSet",
    "PurposeSetData",
    "Stage",
    "StageChanged",
    "StageChangedData",
    "parse_event",
]

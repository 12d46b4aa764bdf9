"""The Rapport contract as code: envelope, typed event data, subjects and stage rules.

Depends only on pydantic and the standard library.
"""

from events.data import (
    CapacityNotedData,
    ConnectionMadeData,
    Counterpart,
    InteractionRecordedData,
    ProposalDecidedData,
    ProposalDraftedData,
    ProposalSubmittedData,
    PurposeSetData,
    StageChangedData,
)
from events.envelope import (
    EVENT_CLASSES,
    EVENT_TYPES,
    CapacityNoted,
    ConnectionMade,
    Envelope,
    Event,
    InteractionRecorded,
    ProposalAccepted,
    ProposalDeclined,
    ProposalDrafted,
    ProposalSubmitted,
    ProposalWithdrawn,
    PurposeSet,
    StageChanged,
)
from events.parsing import InvalidEvent, parse_event
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

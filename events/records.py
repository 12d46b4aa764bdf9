"""The contract's events as msgspec structs: what every reader of the log holds.

The pydantic models (`events.envelope`, `events.data`) are the public schema: OpenAPI, and the
words of every refusal. These structs are the same ten event types, read in one compiled step
(~3.6 µs a workload event against pydantic's ~10 amid a batch): the projectors, replay, the
ingest's checks, the audit and `as_of` answers all fold them. `events.parsing.parse_stored`
reads with them first and asks pydantic only when they refuse, so pydantic has the last word on
what is refused and why; what they accept, pydantic accepts with the same values
(`tests/unit/test_records_parity.py` holds the two to one meaning on a corpus of valid, invalid
and generated events).

The structs take only the usual spelling of an event; what else pydantic accepts is read by
pydantic and turned into structs by `from_model` (a few µs more, for those events only):

- a time written with a lower-case `t` or `z` (and the offset minutes 60-99 that pydantic
  refuses: Python's `fromisoformat` would carry them into the hour, so the structs leave them
  to pydantic too);
- extension attributes (their names and text are checked by the pydantic envelope; the log
  keeps them as sent, and no fold reads them).

Python's `re` is not pydantic's Rust regex: `$` also matches before a final newline, `\\d` and
`\\s` are wider. The patterns below say each character class outright and end with `\\Z`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from events.fields import EARLIEST, LATEST
from events.stages import Stage

if TYPE_CHECKING:
    from pydantic import BaseModel

# Unicode's White_Space, as pydantic's regex means `\s` (Python's `\s` adds U+001C-U+001F).
SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_CONTROL = r"[^\x00-\x1f\x7f]"
SHORT_TEXT = rf"^{NO_CONTROL}*[^{SPACE}\x00-\x1f\x7f]{NO_CONTROL}*\Z"
ATTRIBUTE = rf"^{NO_CONTROL}+\Z"
# The usual spelling of an RFC 3339 time; `fromisoformat` reads these as pydantic does.
TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:?[0-5][0-9])\Z"
)

RelationshipId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,128}\Z")]
ProposalId = RelationshipId
EventId = Annotated[str, Meta(pattern=r"^[!-~]{1,128}\Z")]
ShortText = Annotated[str, Meta(min_length=1, max_length=256, pattern=SHORT_TEXT)]
LongText = Annotated[str, Meta(max_length=4000)]
Attribute = Annotated[str, Meta(max_length=1024, pattern=ATTRIBUTE)]
Tags = Annotated[tuple[ShortText, ...], Meta(max_length=64)]
Email = Annotated[str, Meta(max_length=256, pattern=rf"^[^@{SPACE}]+@[^@{SPACE}]+\Z")]
Sentiment = Annotated[float, Meta(ge=-1.0, le=1.0)]
Minutes = Annotated[int, Meta(ge=0, le=100_000)]
InteractionKind = Literal[
    "meeting", "call", "email", "message", "event", "social", "intro", "other"
]
Direction = Literal["inbound", "outbound", "mutual"]
ValueExchange = Literal["gave", "received", "exchanged", "none"]
Capacity = Literal["low", "medium", "high"]


class Record(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, gc=False):
    """Frozen, unknown fields refused, and out of the collector's way (they hold no cycles)."""


def _dates_in_range(*values: date | None) -> None:
    for value in values:
        if value is not None and not EARLIEST.date() <= value < LATEST.date():
            raise ValueError("a date outside 1900..2199")


def _no_blank(struct: Record, reason: str | None) -> None:
    """A reason of only spaces is no reason (as the pydantic model reads it)."""
    if reason is not None and not reason.strip():
        msgspec.structs.force_setattr(struct, "reason", None)


class Counterpart(Record, frozen=True):
    """The person or organization on the other side."""

    name: ShortText
    kind: Literal["person", "organization"] = "person"
    organization: ShortText | None = None
    email: Email | None = None
    tags: Tags = ()


class ConnectionMadeData(Record, frozen=True):
    """A door opened: who holds it on our side, and who is on the other."""

    owner: ShortText
    counterpart: Counterpart
    channel: ShortText | None = None
    introduced_by: ShortText | None = None
    purpose: LongText | None = None


class InteractionRecordedData(Record, frozen=True):
    """A meeting, call, message or other touch, with its direction and tone."""

    kind: InteractionKind
    direction: Direction
    sentiment: Sentiment = 0.0
    value: ValueExchange | None = None
    duration_minutes: Minutes | None = None
    notes: LongText | None = None


class StageChangedData(Record, frozen=True):
    """A move to another stage; `from` is the writer's view of the current stage."""

    to: Stage
    from_: Stage | None = msgspec.field(default=None, name="from")
    reason: LongText | None = None

    def __post_init__(self) -> None:
        _no_blank(self, self.reason)


class PurposeSetData(Record, frozen=True):
    """Why this relationship exists."""

    purpose: Annotated[str, Meta(min_length=1, max_length=4000)]
    target_date: date | None = None

    def __post_init__(self) -> None:
        _dates_in_range(self.target_date)


class CapacityNotedData(Record, frozen=True):
    """What the partner can take on now, from when, and what they are after."""

    capacity: Capacity
    available_from: date | None = None
    goals: Tags = ()
    notes: LongText | None = None

    def __post_init__(self) -> None:
        _dates_in_range(self.available_from)


class ProposalDraftedData(Record, frozen=True):
    """A proposal written but not yet put to the partner."""

    proposal_id: ProposalId
    title: ShortText
    kind: ShortText | None = None
    ask: LongText | None = None
    goals: Tags = ()
    proposed_start: date | None = None

    def __post_init__(self) -> None:
        _dates_in_range(self.proposed_start)


class ProposalSubmittedData(Record, frozen=True):
    """A proposal put to the partner; carries the drafted fields when there was no draft."""

    proposal_id: ProposalId
    title: ShortText | None = None
    kind: ShortText | None = None
    ask: LongText | None = None
    goals: Tags = ()
    proposed_start: date | None = None

    def __post_init__(self) -> None:
        _dates_in_range(self.proposed_start)


class ProposalDecidedData(Record, frozen=True):
    """The end of a proposal: accepted, declined or withdrawn."""

    proposal_id: ProposalId
    reason: LongText | None = None

    def __post_init__(self) -> None:
        _no_blank(self, self.reason)


class Envelope(Record, tag_field="type", kw_only=True, frozen=True):
    """The CloudEvents 1.0 attributes every event has (extensions stay in the stored bytes)."""

    specversion: Literal["1.0"]
    id: EventId
    source: Attribute
    subject: RelationshipId
    if TYPE_CHECKING:
        time: datetime
    else:  # read as text of the usual spelling, made a datetime below
        time: Annotated[str, Meta(pattern=TIME)]
    datacontenttype: Attribute | None = None
    dataschema: Attribute | None = None
    actor: Attribute | None = None

    def __post_init__(self) -> None:
        moment: object = self.time
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)  # a ValueError refuses it, as pydantic does
            msgspec.structs.force_setattr(self, "time", moment)
        if not isinstance(moment, datetime) or not EARLIEST <= moment < LATEST:
            raise ValueError("a time outside 1900..2199")

    @property
    def type(self) -> str:
        """The event type: the tag its class is read by."""
        return TYPE_OF[type(self)]

    @property
    def relationship_id(self) -> str:
        """The relationship the event is about (the envelope's `subject`)."""
        return self.subject


class ConnectionMade(Envelope, tag="rapport.connection.made", frozen=True):
    """A relationship was opened by a handshake or introduction."""

    data: ConnectionMadeData


class InteractionRecorded(Envelope, tag="rapport.interaction.recorded", frozen=True):
    """A touch happened between us and the counterpart."""

    data: InteractionRecordedData


class StageChanged(Envelope, tag="rapport.stage.changed", frozen=True):
    """Someone moved the relationship to another stage."""

    data: StageChangedData


class PurposeSet(Envelope, tag="rapport.purpose.set", frozen=True):
    """The relationship was given a purpose."""

    data: PurposeSetData


class CapacityNoted(Envelope, tag="rapport.capacity.noted", frozen=True):
    """The partner's capacity, availability or goals were noted."""

    data: CapacityNotedData


class ProposalDrafted(Envelope, tag="rapport.proposal.drafted", frozen=True):
    """A partnership proposal was drafted."""

    data: ProposalDraftedData


class ProposalSubmitted(Envelope, tag="rapport.proposal.submitted", frozen=True):
    """A partnership proposal was put to the partner."""

    data: ProposalSubmittedData


class ProposalAccepted(Envelope, tag="rapport.proposal.accepted", frozen=True):
    """The partner said yes."""

    data: ProposalDecidedData


class ProposalDeclined(Envelope, tag="rapport.proposal.declined", frozen=True):
    """The partner said no."""

    data: ProposalDecidedData


class ProposalWithdrawn(Envelope, tag="rapport.proposal.withdrawn", frozen=True):
    """We took the proposal back."""

    data: ProposalDecidedData


Event = (
    ConnectionMade
    | InteractionRecorded
    | StageChanged
    | PurposeSet
    | CapacityNoted
    | ProposalDrafted
    | ProposalSubmitted
    | ProposalAccepted
    | ProposalDeclined
    | ProposalWithdrawn
)
ProposalEvent = (
    ProposalDrafted | ProposalSubmitted | ProposalAccepted | ProposalDeclined | ProposalWithdrawn
)
TYPE_OF: dict[type[Envelope], str] = {
    cls: str(cls.__struct_config__.tag) for cls in get_args(Event)
}
RECORD_CLASSES: dict[str, type[Envelope]] = {name: cls for cls, name in TYPE_OF.items()}
# each event type's data struct, as its class declares it
_DATA: dict[str, type[msgspec.Struct]] = {
    name: next(f.type for f in msgspec.structs.fields(cls) if f.name == "data")
    for name, cls in RECORD_CLASSES.items()
}

DECODER: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)
# RecursionError: nested past msgspec's depth (pydantic words it: "nested too deeply")
READ_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


def read(raw: bytes | str) -> Event:
    """The event in the usual spelling, in one compiled step (raises `READ_ERRORS` otherwise)."""
    return DECODER.decode(raw)


def from_model(model: BaseModel) -> Event:
    """The struct of an event pydantic accepted (extensions are left in the stored bytes).

    Built field by field, without a second validation: pydantic's word is the last.
    """
    kind = RECORD_CLASSES[str(getattr(model, "type"))]  # noqa: B009 - the union's tag
    fields = {name: getattr(model, name) for name in kind.__struct_fields__}
    fields["data"] = _struct(_DATA[TYPE_OF[kind]], fields["data"])
    event: Event = kind(**fields)  # type: ignore[assignment]
    return event


def _struct(cls: type[msgspec.Struct], model: BaseModel) -> msgspec.Struct:
    values = {name: getattr(model, name) for name in cls.__struct_fields__}
    if cls is ConnectionMadeData:
        values["counterpart"] = _struct(Counterpart, values["counterpart"])
    return cls(**values)


def data_json(data: msgspec.Struct) -> dict[str, Any]:
    """The data as JSON values under the contract's names, without the fields it leaves out."""
    return _without_none(msgspec.to_builtins(data))


def _without_none(value: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_none(item)
        if isinstance(item, dict)
        else list(item)
        if isinstance(item, tuple)
        else item
        for key, item in value.items()
        if item is not None
    }

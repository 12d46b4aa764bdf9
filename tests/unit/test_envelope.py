"""The contract's envelope and event data: every rule accepted or refused with its field named."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import EVENT_TYPES, InvalidEvent, parse_event
from events.envelope import EVENT_CLASSES
from events.parsing import EVENT_ADAPTER
from tests.factories import SAMPLE_DATA, event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_has_a_valid_example(event_type: str) -> None:
    parsed = parse_event(orjson.dumps(event(event_type)))
    assert parsed.type == event_type
    assert parsed.subject == "rel-1"


VALID_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("connection.made", {"owner": "o", "counterpart": {"name": "Acme", "kind": "organization"}}),
    (
        "connection.made",
        {
            "owner": "o",
            "counterpart": {"name": "A", "organization": "Acme", "email": "a@acme.io"},
            "introduced_by": "Bo",
            "purpose": "explore a joint program",
        },
    ),
    ("interaction.recorded", {"kind": "call", "direction": "inbound"}),
    ("interaction.recorded", {"kind": "email", "direction": "outbound", "sentiment": -1}),
    ("interaction.recorded", {"kind": "social", "direction": "mutual", "sentiment": 1.0}),
    (
        "interaction.recorded",
        {"kind": "meeting", "direction": "mutual", "value": "gave", "duration_minutes": 0},
    ),
    ("interaction.recorded", {"kind": "other", "direction": "inbound", "notes": "x" * 4000}),
    ("stage.changed", {"to": "closed", "reason": "they moved on"}),
    ("stage.changed", {"to": "awareness", "from": "connection"}),
    ("purpose.set", {"purpose": "launch a product together"}),
    ("capacity.noted", {"capacity": "low", "available_from": "2027-01-01", "notes": "busy"}),
    ("proposal.drafted", {"proposal_id": "p_2", "title": "T", "goals": ["a"], "ask": "help"}),
    ("proposal.drafted", {"proposal_id": "p-3", "title": "T", "proposed_start": "2027-02-01"}),
    ("proposal.submitted", {"proposal_id": "p-4", "title": "Direct", "kind": "program"}),
    ("proposal.withdrawn", {"proposal_id": "p-4", "reason": "timing"}),
]


@pytest.mark.parametrize(("event_type", "data"), VALID_VARIANTS)
def test_valid_variants(event_type: str, data: dict[str, Any]) -> None:
    parse_event(orjson.dumps(event(event_type, data=data)))


def _without(key: str) -> dict[str, Any]:
    envelope = event("interaction.recorded")
    del envelope[key]
    return envelope


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("no specversion", _without("specversion"), "specversion: required field is missing"),
    ("wrong specversion", event("interaction.recorded", specversion="0.3"), "specversion"),
    ("no id", _without("id"), "id: required field is missing"),
    ("empty id", event("interaction.recorded", event_id="", id=""), "id:"),
    ("id with space", event("interaction.recorded", id="a b"), "id:"),
    ("id too long", event("interaction.recorded", id="x" * 129), "id:"),
    ("no source", _without("source"), "source: required field is missing"),
    ("empty source", event("interaction.recorded", source=""), "source:"),
    ("no type", _without("type"), "type: required field is missing"),
    ("unknown type", event("interaction.recorded", type="rapport.nope.done"), "unknown event"),
    ("no subject", _without("subject"), "subject: required field is missing"),
    ("subject with dot", event("interaction.recorded", rel="rel.1"), "subject:"),
    ("subject wildcard", event("interaction.recorded", rel="rel*"), "subject:"),
    ("subject too long", event("interaction.recorded", rel="r" * 129), "subject:"),
    ("no time", _without("time"), "time: required field is missing"),
    ("time without offset", event("interaction.recorded", at="2026-11-02T15:04:05"), "offset"),
    ("time as number", event("interaction.recorded", time=1700000000), "time:"),
    ("date only", event("interaction.recorded", at="2026-11-02"), "time:"),
    ("year 1", event("interaction.recorded", at="0001-01-01T00:00:00Z"), "outside"),
    ("year 9999", event("interaction.recorded", at="9999-12-31T23:59:59Z"), "outside"),
    ("bad month", event("interaction.recorded", at="2026-13-02T15:04:05Z"), "time:"),
    ("no data", _without("data"), "data: required field is missing"),
    ("data not object", event("interaction.recorded", data=[1]), "data:"),
    ("actor not string", event("interaction.recorded", actor=5), "actor:"),
    # hygiene: blank names count as missing, attributes hold no control characters
    (
        "blank owner",
        event("connection.made", data={"owner": "   ", "counterpart": {"name": "Ada"}}),
        "data.owner: must hold some text (not only spaces) and no control characters",
    ),
    (
        "blank counterpart name",
        event("connection.made", data={"owner": "maria", "counterpart": {"name": "\t"}}),
        "data.counterpart.name: must hold some text",
    ),
    (
        "control characters in a name",
        event("connection.made", data={"owner": "ma\x00ria", "counterpart": {"name": "A"}}),
        "data.owner: must hold some text (not only spaces) and no control characters",
    ),
    (
        "seconds since 1970 as a string",
        event("interaction.recorded", at="1700000000"),
        "time: '1700000000' is not an RFC 3339 date-time with an offset",
    ),
    (
        "a fraction of a second since 1970",
        event("interaction.recorded", at="0.5"),
        "time: '0.5' is not an RFC 3339 date-time with an offset",
    ),
    (
        "seconds since 1970 as a number",
        {**event("interaction.recorded"), "time": 1700000000},
        "time: must be an RFC 3339 date-time string, got a number",
    ),
    (
        "control characters as source",
        event("interaction.recorded", source="\x01\x02"),
        "source: must be text without control characters",
    ),
    (
        "control characters in actor",
        event("interaction.recorded", actor="ma\nria"),
        "actor: must be text without control characters",
    ),
    (
        "extension name of control characters",
        {**event("interaction.recorded"), "\x01": "x"},
        "extension attribute '\\x01': a name is 1-64 lower-case letters and digits",
    ),
    (
        "extension name with capitals",
        {**event("interaction.recorded"), "TraceParent": "x"},
        "extension attribute 'TraceParent'",
    ),
    (
        "extension value with control characters",
        event("interaction.recorded", trace="a\x07b"),
        "trace: must not hold control characters",
    ),
    (
        "unknown kind",
        event("interaction.recorded", data={"kind": "telepathy", "direction": "mutual"}),
        "data.kind:",
    ),
    (
        "unknown direction",
        event("interaction.recorded", data={"kind": "call", "direction": "sideways"}),
        "data.direction:",
    ),
    (
        "sentiment above 1",
        event(
            "interaction.recorded", data={"kind": "call", "direction": "inbound", "sentiment": 2}
        ),
        "data.sentiment:",
    ),
    (
        "sentiment as string",
        event(
            "interaction.recorded", data={"kind": "call", "direction": "inbound", "sentiment": "1"}
        ),
        "data.sentiment:",
    ),
    (
        "negative duration",
        event(
            "interaction.recorded",
            data={"kind": "call", "direction": "inbound", "duration_minutes": -5},
        ),
        "data.duration_minutes:",
    ),
    (
        "notes too long",
        event(
            "interaction.recorded",
            data={"kind": "call", "direction": "inbound", "notes": "x" * 4001},
        ),
        "data.notes:",
    ),
    (
        "unknown value",
        event("interaction.recorded", data={"kind": "call", "direction": "inbound", "value": "x"}),
        "data.value:",
    ),
    (
        "unknown data field",
        event("interaction.recorded", data={"kind": "call", "direction": "inbound", "mood": 1}),
        "data.mood: unknown field",
    ),
    (
        "connection without owner",
        event("connection.made", data={"counterpart": {"name": "A"}}),
        "data.owner",
    ),
    (
        "connection without counterpart",
        event("connection.made", data={"owner": "o"}),
        "data.counterpart",
    ),
    (
        "counterpart without name",
        event("connection.made", data={"owner": "o", "counterpart": {}}),
        "data.counterpart.name",
    ),
    (
        "counterpart bad kind",
        event(
            "connection.made", data={"owner": "o", "counterpart": {"name": "A", "kind": "robot"}}
        ),
        "data.counterpart.kind",
    ),
    (
        "counterpart bad email",
        event(
            "connection.made", data={"owner": "o", "counterpart": {"name": "A", "email": "nope"}}
        ),
        "data.counterpart.email",
    ),
    (
        "tags not a list",
        event("connection.made", data={"owner": "o", "counterpart": {"name": "A", "tags": "x"}}),
        "data.counterpart.tags",
    ),
    ("stage unknown", event("stage.changed", data={"to": "friendship"}), "data.to"),
    ("stage missing to", event("stage.changed", data={"reason": "x"}), "data.to"),
    ("stage bad from", event("stage.changed", data={"to": "awareness", "from": "x"}), "data.from"),
    ("purpose empty", event("purpose.set", data={"purpose": ""}), "data.purpose"),
    (
        "purpose bad date",
        event("purpose.set", data={"purpose": "p", "target_date": "2026-02-30"}),
        "data.target_date",
    ),
    (
        "purpose datetime for date",
        event("purpose.set", data={"purpose": "p", "target_date": "2026-02-03T00:00:00Z"}),
        "data.target_date",
    ),
    ("capacity unknown", event("capacity.noted", data={"capacity": "huge"}), "data.capacity"),
    (
        "capacity goals not strings",
        event("capacity.noted", data={"capacity": "low", "goals": [1]}),
        "data.goals",
    ),
    ("proposal without id", event("proposal.drafted", data={"title": "T"}), "data.proposal_id"),
    (
        "proposal bad id",
        event("proposal.drafted", data={"proposal_id": "p 1", "title": "T"}),
        "data.proposal_id",
    ),
    ("draft without title", event("proposal.drafted", data={"proposal_id": "p"}), "data.title"),
    ("decision without id", event("proposal.accepted", data={}), "data.proposal_id"),
]


@pytest.mark.parametrize(("case", "envelope", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_examples_name_the_field(case: str, envelope: Any, expected: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_event(orjson.dumps(envelope))
    assert expected in str(raised.value), f"{case}: {raised.value}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "body: not valid JSON"),
        (b"\xff\xfe{}", "body: not valid UTF-8"),
        (b"[1, 2]", "event: must be a JSON object, got an array"),
        (b'"text"', "event: must be a JSON object, got a string"),
        (b"{}", "type: required field is missing"),
    ],
)
def test_bodies_that_are_not_events(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidEvent, match=expected):
        parse_event(body)


def test_unknown_extension_attributes_are_kept() -> None:
    envelope = event("interaction.recorded", traceparent="00-abc-def-01", tenant={"id": 7})
    raw = orjson.dumps(envelope)
    model = EVENT_ADAPTER.validate_json(raw)  # the public schema keeps them
    assert model.extensions == {"traceparent": "00-abc-def-01", "tenant": {"id": 7}}
    assert parse_event(raw).id == envelope["id"]  # the reader reads the event (the log keeps them)


def test_times_keep_their_offset_and_compare_as_instants() -> None:
    early = parse_event(orjson.dumps(event("interaction.recorded", at="2026-11-02T16:04:05+01:00")))
    later = parse_event(orjson.dumps(event("interaction.recorded", at="2026-11-02T15:04:06Z")))
    assert early.time.utcoffset() is not None
    assert early.time < later.time


def test_nanosecond_fractions_are_accepted() -> None:
    parsed = parse_event(
        orjson.dumps(event("interaction.recorded", at="2026-11-02T15:04:05.123456789Z"))
    )
    assert parsed.time.microsecond == 123456


def test_blank_reason_counts_as_missing() -> None:
    parsed = parse_event(
        orjson.dumps(event("stage.changed", data={"to": "closed", "reason": "  "}))
    )
    assert parsed.data.reason is None  # type: ignore[union-attr]


def test_events_are_frozen() -> None:
    parsed = parse_event(orjson.dumps(event("interaction.recorded")))
    with pytest.raises(AttributeError, match="immutable"):  # a msgspec struct, frozen
        parsed.source = "elsewhere"  # type: ignore[misc]


def test_every_class_is_in_the_union() -> None:
    assert {cls.event_type for cls in EVENT_CLASSES} == set(EVENT_TYPES) == set(SAMPLE_DATA)


# -- hypothesis: what validates, serialises and validates again to the same event -----------

_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=128)
_rels = st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z")
# RFC 3339 offsets are whole minutes (zoneinfo's historic second offsets are not expressible)
_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=_offsets
)
# text as the contract takes it: no control characters (refused in names and attributes)
_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=50).filter(
    lambda s: s.strip() == s and s != ""
)
_interaction = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["meeting", "call", "email", "message", "event", "social"]),
        "direction": st.sampled_from(["inbound", "outbound", "mutual"]),
    },
    optional={
        "sentiment": st.floats(-1, 1, allow_nan=False),
        "duration_minutes": st.integers(0, 600),
        "value": st.sampled_from(["gave", "received", "exchanged", "none"]),
        "notes": st.text(max_size=200),
    },
)
_stage = st.fixed_dictionaries(
    {"to": st.sampled_from(["connection", "awareness", "engagement", "conversion", "closed"])},
    optional={"reason": _text, "from": st.sampled_from(["connection", "partnership"])},
)
_data = st.one_of(
    st.tuples(st.just("rapport.interaction.recorded"), _interaction),
    st.tuples(st.just("rapport.stage.changed"), _stage),
    st.tuples(
        st.just("rapport.connection.made"),
        st.fixed_dictionaries(
            {"owner": _text, "counterpart": st.fixed_dictionaries({"name": _text})}
        ),
    ),
)


@given(event_id=_ids, rel=_rels, moment=_times, typed=_data, actor=st.none() | _text)
def test_round_trip(event_id: str, rel: str, moment: Any, typed: Any, actor: str | None) -> None:
    event_type, data = typed
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "hypothesis",
        "type": event_type,
        "subject": rel,
        "time": moment.isoformat(),
        "data": copy.deepcopy(data),
        "actor": actor,
    }
    first = parse_event(orjson.dumps(envelope))
    again = parse_event(msgspec.json.encode(first))
    assert again == first
    assert again.time == moment


# -- fuzz: whatever the bytes, the parser answers with an event or a worded InvalidEvent -----

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_field_values = st.dictionaries(
    st.sampled_from(
        [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "data",
            "actor",
            "dataschema",
            "x",
        ]
    ),
    _json | st.sampled_from(["1.0", "rapport.interaction.recorded", "2026-11-02T15:04:05Z", "r-1"]),
)


def outcome(raw: bytes) -> str:
    """'event' or the worded problems; anything else escaping the parser fails the test."""
    try:
        parse_event(raw)
    except InvalidEvent as exc:
        return "; ".join(exc.problems)
    return "event"


@given(body=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    answer = outcome(body)
    assert answer == "event" or ": " in answer


@given(envelope=_field_values, data=_json)
def test_fuzz_envelope_shapes(envelope: dict[str, Any], data: Any) -> None:
    envelope = {**envelope, "data": data} if "data" not in envelope else envelope
    answer = outcome(json.dumps(envelope).encode())
    assert answer == "event" or ": " in answer

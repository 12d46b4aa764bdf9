"""The contract's envelope, subjects, event identity, the one reader of the log, and refusals
worded `field: problem`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import InvalidEvent, parse_event, reading
from events.envelope import new_envelope
from events.identity import digest
from events.parsing import EVENT_ADAPTER
from events.reading import Copy, Dead, Fresh, StoredMessage, decode, read, read_in_order
from events.subjects import (
    dlq_filter,
    dlq_subject,
    event_subject,
    parse_event_subject,
    proposals_filter,
    query_subject,
    relationship_filter,
    stage_subject,
    stored_under,
)
from tests.factories import event

INTERACTION = "rapport.ev.r.interaction.recorded"


# -- writing an envelope ------------------------------------------------------------------------


def test_new_envelope_is_structured_mode_json(far_east_zone: None) -> None:
    moment = datetime(2026, 11, 2, 16, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    envelope = new_envelope(
        "interaction.recorded",
        "rel-42",
        {"kind": "call", "direction": "inbound"},
        event_id="e-1",
        time=moment,
        source="crm-sync",
        actor="maria@example.com",
    )
    assert envelope == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "crm-sync",
        "type": "rapport.interaction.recorded",
        "subject": "rel-42",
        "time": "2026-11-02T15:04:05Z",
        "datacontenttype": "application/json",
        "data": {"kind": "call", "direction": "inbound"},
        "actor": "maria@example.com",
    }


def test_new_envelope_keeps_a_full_type_and_a_written_time() -> None:
    envelope = new_envelope(
        "rapport.stage.changed",
        "rel-42",
        {"to": "awareness"},
        event_id="e-2",
        time="2026-11-02T16:04:05+01:00",
        source="cli",
    )
    assert envelope["type"] == "rapport.stage.changed"
    assert envelope["time"] == "2026-11-02T16:04:05+01:00"
    assert "actor" not in envelope
    assert new_envelope("x.y", "r", {}, event_id="e", time="t", source="s", actor="")["type"] == (
        "rapport.x.y"
    )


# -- subjects -----------------------------------------------------------------------------------


def test_subjects_of_the_contract() -> None:
    assert event_subject("rel-42", "rapport.interaction.recorded") == (
        "rapport.ev.rel-42.interaction.recorded"
    )
    assert stage_subject("rel-42") == "rapport.ev.rel-42.stage.changed"
    assert relationship_filter("rel-42") == "rapport.ev.rel-42.>"
    assert proposals_filter("rel-42") == "rapport.ev.rel-42.proposal.*"
    assert dlq_subject("stage", 17) == "rapport.dlq.stage.17"
    assert dlq_filter("stage") == "rapport.dlq.stage.>"
    assert query_subject("stage", "get") == "rapport.q.stage.get"
    assert parse_event_subject("rapport.ev.rel-42.stage.changed") == (
        "rel-42",
        "rapport.stage.changed",
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("rapport.ev.r.interaction.recorded", True),
        ("rapport.ev.other.interaction.recorded", False),
        ("rapport.ev.r.stage.changed", False),
        ("not a subject", False),
        ("rapport.ev..interaction.recorded", False),
        ("rapport.ev.r.interaction.recorded.extra", False),
        ("nats.ev.r.interaction.recorded", False),
        ("rapport.dlq.r.interaction.recorded", False),
    ],
)
def test_an_event_belongs_under_its_own_subject_only(subject: str, expected: bool) -> None:
    assert stored_under(subject, "r", "rapport.interaction.recorded") is expected


# -- event identity: what the digest covers and what it ignores ---------------------------------


def typed(envelope: dict[str, Any]) -> Any:
    return parse_event(orjson.dumps(envelope))


def test_the_digest_is_16_bytes_of_blake2b_over_the_canonical_json() -> None:
    """The digest is kept on disk by every store: its definition cannot drift."""
    interaction = typed(event("interaction.recorded", "r", event_id="e-1"))
    canonical = (
        b'["e-1","rapport.interaction.recorded","r",1767603600.0,'
        b'{"direction":"mutual","kind":"meeting","sentiment":0.6}]'
    )
    assert digest(interaction) == hashlib.blake2b(canonical, digest_size=16).digest()
    change = typed(
        event("stage.changed", "r", {"to": "awareness", "from": "connection"}, event_id="e-2")
    )
    canonical = (
        b'["e-2","rapport.stage.changed","r",1767603600.0,{"from":"connection","to":"awareness"}]'
    )
    assert digest(change) == hashlib.blake2b(canonical, digest_size=16).digest()


def test_identity_covers_id_type_subject_instant_and_typed_data() -> None:
    base = event("interaction.recorded", "r", event_id="e-1")
    same = digest(typed(base))
    # the same event, however it is spelled or whoever sent it
    assert digest(typed({**base, "time": "2026-01-05T10:00:00+01:00"})) == same
    assert digest(typed({**base, "source": "another-door", "actor": "bot", "trace": "x"})) == same
    assert digest(typed({**base, "data": {**base["data"], "notes": None}})) == same
    assert digest(typed({**base, "data": {**base["data"], "sentiment": 0.60}})) == same
    # another event
    assert digest(typed({**base, "id": "e-2"})) != same
    assert digest(typed({**base, "subject": "s"})) != same
    assert digest(typed({**base, "time": "2026-01-05T09:00:01Z"})) != same
    assert digest(typed({**base, "data": {**base["data"], "sentiment": 0.5}})) != same
    stage = event("stage.changed", "r", {"to": "awareness"}, event_id="e-1")
    assert digest(typed(stage)) != same
    omitted = event("stage.changed", "r", {"to": "awareness", "reason": "   "}, event_id="e-1")
    assert digest(typed(omitted)) == digest(typed(stage))  # a blank reason is no reason


@given(minutes=st.integers(-14 * 60, 14 * 60), shift=st.integers(1, 10**6))
def test_the_same_instant_in_any_offset_is_the_same_event(minutes: int, shift: int) -> None:
    base = event("interaction.recorded", "r", event_id="e-1")
    zone = timezone(timedelta(minutes=minutes))
    instant = datetime(2026, 1, 5, 9, tzinfo=UTC)
    same = {**base, "time": instant.astimezone(zone).isoformat()}
    assert digest(typed(same)) == digest(typed(base))
    moved = {**base, "time": (instant + timedelta(microseconds=shift)).astimezone(zone).isoformat()}
    assert digest(typed(moved)) != digest(typed(base))


# -- the one reader of the log -------------------------------------------------------------------

VALID = event("interaction.recorded", "r", event_id="e-1")


def stored(seq: int, envelope: dict[str, Any] | bytes, subject: str = INTERACTION) -> StoredMessage:
    data = envelope if isinstance(envelope, bytes) else orjson.dumps(envelope)
    return StoredMessage(seq, subject, data)


def test_a_fresh_event_carries_its_digest_and_stored_shape() -> None:
    message = stored(3, VALID)
    fresh = decode(message)
    assert isinstance(fresh, Fresh)
    assert (fresh.seq, fresh.message, fresh.upcast_from) == (3, message, None)
    assert fresh.digest == digest(typed(VALID))
    old = {
        **VALID,
        "dataschema": "urn:rapport:interaction.recorded:v0",
        "data": {"channel": "phone"},
    }
    upcast = decode(stored(4, old))
    assert isinstance(upcast, Fresh)
    assert upcast.upcast_from == 0


def test_a_message_that_breaks_the_schema_is_dead_with_the_parser_s_words() -> None:
    message = stored(5, b"not json")
    dead = decode(message)
    assert isinstance(dead, Dead)
    assert dead.message == message
    assert dead.problem == "body: not valid JSON (expected ident at line 1 column 2)"
    assert dead.reason == "invalid event: body: not valid JSON (expected ident at line 1 column 2)"
    assert dead.seq == 5


def test_even_a_parser_that_runs_out_of_stack_gives_a_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(raw: bytes | str) -> Any:
        raise RecursionError

    monkeypatch.setattr(reading, "parse_stored", exhausted)
    message = stored(6, VALID)
    dead = decode(message)
    assert dead == Dead(message, "event: nested too deeply to read", invalid=True)
    assert dead.reason == "invalid event: event: nested too deeply to read"


def test_later_copies_and_reused_ids() -> None:
    again = {**VALID, "source": "another-door"}
    copy_message = stored(9, again)
    first = (4, digest(typed(VALID)))
    copy = read(copy_message, first)
    assert copy == Copy(copy_message, typed(again), 4)
    assert copy.seq == 9
    other = {**VALID, "data": {"kind": "call", "direction": "inbound"}}
    conflict_message = stored(12, other)
    conflict = read(conflict_message, first)
    assert conflict == Dead(
        conflict_message, "conflict: id 'e-1' already used by another event at seq 4"
    )
    assert conflict.reason == "conflict: id 'e-1' already used by another event at seq 4"


def test_reading_in_order_passes_dead_letters_through() -> None:
    broken = decode(stored(1, b"{}"))
    first = decode(stored(2, VALID))
    again = decode(stored(3, VALID))
    readings = read_in_order([broken, first, again], {})
    assert readings[0] == broken
    assert isinstance(readings[1], Fresh)
    assert isinstance(readings[2], Copy)
    assert readings[2].original_seq == 2


# -- refusals in words: `field: problem` ----------------------------------------------------------


def refusal(envelope: dict[str, Any] | bytes | str) -> str:
    raw = envelope if isinstance(envelope, bytes | str) else orjson.dumps(envelope)
    with pytest.raises(InvalidEvent) as raised:
        parse_event(raw)
    return str(raised.value)


TYPES = (
    "rapport.connection.made, rapport.interaction.recorded, rapport.stage.changed, "
    "rapport.purpose.set, rapport.capacity.noted, rapport.proposal.drafted, "
    "rapport.proposal.submitted, rapport.proposal.accepted, rapport.proposal.declined, "
    "rapport.proposal.withdrawn"
)
RFC3339 = "is not an RFC 3339 date-time with an offset (e.g. 2026-11-02T15:04:05Z or 2026-11-02T16:04:05+01:00)"
LONG_TIME = "2026-13-02T15:04:05.123456789012345678901234567890Z"


def interaction(**data: Any) -> dict[str, Any]:
    return event("interaction.recorded", "r", {"kind": "call", "direction": "inbound", **data})


def purpose_by(target_date: Any) -> dict[str, Any]:
    return event("purpose.set", "r", {"purpose": "p", "target_date": target_date})


REFUSALS: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("README: a time without offset", event("interaction.recorded", at="2026-01-07T17:21:59"), "time: '2026-01-07T17:21:59' must carry an offset (Z or +hh:mm)"),
    ("README: an unknown direction", interaction(direction="sideways"), "data.direction: Input should be 'inbound', 'outbound' or 'mutual' (got 'sideways')"),
    ("README: an unknown data field", interaction(mood=1), "data.mood: unknown field"),
    ("an unknown stage", event("stage.changed", "r", {"to": "friendship"}), "data.to: Input should be 'connection', 'awareness', 'engagement', 'conversion', 'partnership' or 'closed' (got 'friendship')"),
    ("a long unknown kind", event("interaction.recorded", "r", {"kind": "x" * 100, "direction": "inbound"}), "data.kind: Input should be 'meeting', 'call', 'email', 'message', 'event', 'social', 'intro' or 'other' (got '" + "x" * 60 + "')"),
    ("a wrong specversion", event("interaction.recorded", specversion="0.3"), "specversion: Input should be '1.0' (got '0.3')"),
    ("a number out of range", interaction(sentiment=2), "data.sentiment: Input should be less than or equal to 1 (got 2)"),
    ("a boolean for a number", interaction(sentiment=True), "data.sentiment: Input should be a valid number (got True)"),
    ("a fraction for an integer", interaction(duration_minutes=1.5), "data.duration_minutes: Input should be a valid integer (got 1.5)"),
    ("text for a number", interaction(sentiment="1"), "data.sentiment: Input should be a valid number"),
    ("text too long", interaction(notes="x" * 4001), "data.notes: String should have at most 4000 characters"),
    ("a relationship id with a space", event("interaction.recorded", rel="rel 42"), "subject: must be 1-128 letters, digits, '_' or '-' (got 'rel 42')"),
    ("a time that is a number", event("interaction.recorded", time=1700000000), "time: must be an RFC 3339 date-time string, got a number"),
    ("a time that is null", event("interaction.recorded", time=None), "time: must be an RFC 3339 date-time string, got null"),
    ("a time that is a boolean", event("interaction.recorded", time=True), "time: must be an RFC 3339 date-time string, got a boolean"),
    ("a time that is an array", event("interaction.recorded", time=[1]), "time: must be an RFC 3339 date-time string, got an array"),
    ("a time that is no date", event("interaction.recorded", at="2026-13-02T15:04:05Z"), f"time: '2026-13-02T15:04:05Z' {RFC3339}"),
    ("a long time that is no date", event("interaction.recorded", at=LONG_TIME), f"time: {LONG_TIME[:40]!r} {RFC3339}"),
    ("a year out of range", event("interaction.recorded", at="0001-01-01T00:00:00Z"), "time: 0001-01-01T00:00:00Z is outside the accepted years 1900..2199"),
    ("a long time out of range", event("interaction.recorded", at="1800-01-01T00:00:00.123456789012345678901234Z"), "time: 1800-01-01T00:00:00.12345678901234567890 is outside the accepted years 1900..2199"),
    ("a date that does not exist", purpose_by("2026-02-30"), "data.target_date: '2026-02-30' is not a valid date written YYYY-MM-DD"),
    ("a long date", purpose_by("2026-02-30" + "x" * 40), "data.target_date: '2026-02-30xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not a valid date written YYYY-MM-DD"),
    ("a date-time for a date", purpose_by("2026-02-03T00:00:00Z"), "data.target_date: '2026-02-03T00:00:00Z' is not a valid date written YYYY-MM-DD"),
    ("a date that is a number", purpose_by(20260203), "data.target_date: must be a date written YYYY-MM-DD, got a number"),
    ("a date that is a fraction", purpose_by(2.5), "data.target_date: must be a date written YYYY-MM-DD, got a number"),
    ("a date that is a boolean", purpose_by(False), "data.target_date: must be a date written YYYY-MM-DD, got a boolean"),
    ("a date that is text in an array", purpose_by(["2026-02-03"]), "data.target_date: must be a date written YYYY-MM-DD, got an array"),
    ("a date out of range", purpose_by("1800-02-03"), "data.target_date: 1800-02-03 is outside the accepted years 1900..2199"),
    ("an unknown type", event("interaction.recorded", type="rapport.nope.done"), f"type: unknown event type 'rapport.nope.done'; expected one of {TYPES}"),
    ("a type that is a number", event("interaction.recorded", type=5), f"type: unknown event type '5'; expected one of {TYPES}"),
    ("an email that is none", event("connection.made", "r", {"owner": "o", "counterpart": {"name": "A", "email": "nope"}}), "data.counterpart.email: String should match pattern '^[^@\\s]+@[^@\\s]+$' (got 'nope')"),
    ("a long relationship id with a space", event("interaction.recorded", rel="rel 42" + "x" * 100), "subject: must be 1-128 letters, digits, '_' or '-' (got 'rel 42" + "x" * 54 + "')"),
    ("a source with control characters", event("interaction.recorded", source="a\x01b"), "source: must be text without control characters (got 'a\\x01b')"),
    ("an event id with a space", event("interaction.recorded", id="a b"), "id: must be 1-128 printable characters without spaces (got 'a b')"),
    ("a long time without offset", event("interaction.recorded", at="2026-01-07T17:21:59.123456789012345678901234567890"), "time: '2026-01-07T17:21:59.12345678901234567890' must carry an offset (Z or +hh:mm)"),
    ("no type", b"{}", "type: required field is missing (it names the event type)"),
    ("an extension name in capitals", event("interaction.recorded", TraceParent="x"), "event: extension attribute 'TraceParent': a name is 1-64 lower-case letters and digits"),
    ("an extension value with control characters", event("interaction.recorded", trace="a\x07b"), "event: trace: must not hold control characters"),
    ("two problems", {k: v for k, v in VALID.items() if k not in ("id", "source")}, "id: required field is missing; source: required field is missing"),
    ("an empty body", b"", "body: not valid JSON (EOF while parsing a value at line 1 column 0)"),
    ("bytes that are no text", b"\xff\xfe{}", "body: not valid UTF-8 (invalid start byte at byte 0)"),
    ("a number", b"5", "event: must be a JSON object, got a number"),
    ("null", b"null", "event: must be a JSON object, got null"),
    ("a boolean", b"true", "event: must be a JSON object, got a boolean"),
    ("an array", b'["dataschema"]', "event: must be a JSON object, got an array"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "envelope", "expected"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals_name_the_field_and_the_problem(
    case: str, envelope: dict[str, Any] | bytes, expected: str
) -> None:
    assert refusal(envelope) == expected, case


def test_an_object_where_a_time_belongs_is_named() -> None:
    worded = refusal(event("interaction.recorded", time={"at": 1}))
    assert worded in (
        "time: must be an RFC 3339 date-time string, got dict",
        "time: must be an RFC 3339 date-time string, got an object",
    )


def test_refusals_read_text_as_well_as_bytes() -> None:
    assert refusal("{}") == "type: required field is missing (it names the event type)"
    assert refusal('{"dataschema": "urn:x:v0"}') == (
        "type: required field is missing (it names the event type)"
    )


def test_nesting_too_deep_is_refused_in_words() -> None:
    for raw in (b"[" * 300 + b"]" * 300, b'{"a":' * 300 + b"1" + b"}" * 300):
        worded = refusal(raw)
        assert worded.startswith("event: nested too deeply to read (recursion limit exceeded")
        assert worded.endswith(")")


def test_replies_come_back_to_the_user_s_own_inbox() -> None:
    # imported here: the inbox subjects are new, so only this test depends on them
    from events.subjects import inbox_prefix

    assert inbox_prefix("reader") == "_INBOX.reader"
    assert inbox_prefix(None) == "_INBOX"
    assert inbox_prefix("") == "_INBOX"


def test_an_accepted_event_says_who_and_when() -> None:
    parsed = parse_event(orjson.dumps(VALID))
    assert parsed.relationship_id == "r"
    assert parsed.time == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert EVENT_ADAPTER.validate_json(orjson.dumps(VALID)).extensions == {}

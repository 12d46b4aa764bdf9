"""The msgspec structs and the pydantic schema are one meaning of an event, for any bytes.

The rule, held by `assert_one_meaning`:

1. what `records.read` accepts, pydantic accepts, with the same values (the struct `from_model`
   makes of pydantic's model, the same time and offset) and the digest the stores already hold;
2. what pydantic refuses, `records.read` refuses, and `parse_stored` words as `InvalidEvent`;
3. what pydantic accepts and the structs leave to it, `parse_stored` reads as pydantic does.

It is fed the benchmark's workload, a table of edge cases, generated and mutated events, and
code points: every one on the text fields' patterns, the spaces and controls in whole events.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import string
import sys
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from benchmarks.workload import generate
from events import data as data_models
from events import fields, records
from events.envelope import EVENT_TYPES
from events.identity import digest
from events.parsing import EVENT_ADAPTER, InvalidEvent, parse_stored
from events.upcasting import current_version, declared_version
from tests.factories import event

if TYPE_CHECKING:
    from events.envelope import Event as EventModel

# -- the rule -----------------------------------------------------------------------------------


def old_digest(model: EventModel) -> bytes:
    """The identity digest as the stores were built with it, from the pydantic model."""
    named = [
        model.id,
        model.type,
        model.subject,
        model.time.timestamp(),
        model.data.model_dump(mode="json", by_alias=True, exclude_none=True),
    ]
    return hashlib.blake2b(
        orjson.dumps(named, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).digest()


def _names_another_shape(raw: bytes) -> bool:
    """Whether `parse_stored` upcasts (or refuses as newer) before reading: a meaning of its own."""
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        return False
    declared = declared_version(envelope)
    return declared is not None and declared != current_version(envelope["type"])


def assert_one_meaning(raw: bytes) -> None:
    """The structs and pydantic read `raw` as one event, or both refuse it."""
    try:
        struct: records.Event | None = records.read(raw)
    except records.READ_ERRORS:
        struct = None
    upcast = _names_another_shape(raw)
    try:
        model = EVENT_ADAPTER.validate_json(raw)
    except ValidationError:
        assert struct is None, f"records read what pydantic refuses: {raw!r} -> {struct!r}"
        if upcast:
            _assert_total(raw)
        else:
            with pytest.raises(InvalidEvent):
                parse_stored(raw)
        return
    expected = records.from_model(model)
    assert digest(expected) == old_digest(model), raw
    if struct is not None:
        assert struct == expected, raw
        assert struct.time == model.time, raw
        assert struct.time.utcoffset() == model.time.utcoffset(), raw
        assert digest(struct) == old_digest(model), raw
    if upcast:
        _assert_total(raw)
        return
    parsed = parse_stored(raw)
    assert parsed.event == expected, raw
    assert parsed.event.time.utcoffset() == model.time.utcoffset(), raw
    assert digest(parsed.event) == old_digest(model), raw


def _assert_total(raw: bytes) -> None:
    """`parse_stored` returns an event or raises `InvalidEvent`, nothing else."""
    with contextlib.suppress(InvalidEvent):
        parse_stored(raw)


# -- the benchmark's workload: the usual spelling, read by the structs ---------------------------


def test_the_workload_is_read_by_the_structs_with_one_meaning() -> None:
    workload = generate(3_000, 300)
    assert workload.size == 3_000
    for _subject, raw, _event_id in workload.events:
        records.read(raw)  # the common path never falls back to pydantic
        assert_one_meaning(raw)


# -- edge cases ---------------------------------------------------------------------------------


def _ev(event_type: str = "interaction.recorded", data: Any = None, **attributes: Any) -> bytes:
    """An event's bytes with a fixed id (the factory's sample data unless `data` is given)."""
    return orjson.dumps(event(event_type, data=data, event_id="ev-1", **attributes))


def _at(time: Any) -> bytes:
    return _ev(time=time)


def _name(name: str) -> bytes:
    return _ev("connection.made", {"owner": "maria", "counterpart": {"name": name}})


def _email(email: str) -> bytes:
    return _ev("connection.made", {"owner": "o", "counterpart": {"name": "A", "email": email}})


def _touch(fragment: bytes) -> bytes:
    """An interaction whose data ends with `fragment`, spliced in as written."""
    raw = _ev("interaction.recorded", {"kind": "call", "direction": "inbound"})
    return raw.replace(b'"direction":"inbound"', b'"direction":"inbound",' + fragment)


def _draft(fragment: bytes) -> bytes:
    """A drafted proposal whose data ends with `fragment`, spliced in as written."""
    raw = _ev("proposal.drafted", {"proposal_id": "p-1"})
    return raw.replace(b'"proposal_id":"p-1"', b'"proposal_id":"p-1",' + fragment)


def _start(day: Any) -> bytes:
    return _ev("proposal.drafted", {"proposal_id": "p-1", "title": "T", "proposed_start": day})


def _stage(data: dict[str, Any]) -> bytes:
    return _ev("stage.changed", data)


def _reason(reason: str) -> bytes:
    return _ev("proposal.declined", {"proposal_id": "p-1", "reason": reason})


def _tags(count: int) -> bytes:
    return _ev("capacity.noted", {"capacity": "low", "goals": [f"g{n}" for n in range(count)]})


def _extended(**extensions: Any) -> bytes:
    return orjson.dumps({**event("stage.changed", event_id="ev-1"), **extensions})


STAGE = _stage({"to": "awareness"})
DEEP = b"[" * 5_000 + b"]" * 5_000

EDGE_CASES = [
    pytest.param(_at("2026-11-02T15:04:05Z"), id="time Z"),
    pytest.param(_at("2026-11-02t15:04:05Z"), id="time lower-case t"),
    pytest.param(_at("2026-11-02T15:04:05z"), id="time lower-case z"),
    pytest.param(_at("2026-11-02t15:04:05z"), id="time lower-case t and z"),
    pytest.param(_at("2026-11-02 15:04:05Z"), id="time space separator"),
    pytest.param(_at("2026-11-02_15:04:05Z"), id="time underscore separator"),
    pytest.param(_at("2026-11-02T15:04:05+0100"), id="time offset +0100"),
    pytest.param(_at("2026-11-02T15:04:05+01:00"), id="time offset +01:00"),
    pytest.param(_at("2026-11-02T15:04:05-00:00"), id="time offset -00:00"),
    pytest.param(_at("2026-11-02T15:04:05+00"), id="time offset hours only"),
    pytest.param(_at("2026-11-02T15:04:05+01:00:30"), id="time offset with seconds"),
    pytest.param(_at("2026-11-02T15:04:05.1234567Z"), id="time 7 fractional digits"),
    pytest.param(_at("2026-11-02T15:04:05.123456789+05:30"), id="time 9 fractional digits"),
    pytest.param(_at("2026-11-02T15:04:05.9999995Z"), id="time .9999995"),
    pytest.param(_at("2026-11-02T15:04:05." + "9" * 40 + "Z"), id="time 40 fractional digits"),
    pytest.param(_at("2199-12-31T23:59:59.9999999Z"), id="time last instant with 7 digits"),
    pytest.param(_at("2026-11-02T15:04:05.Z"), id="time empty fraction"),
    pytest.param(_at("2026-11-02T15:04:05,5Z"), id="time comma fraction"),
    pytest.param(_at("2026-11-02T15:04:05"), id="time naive"),
    pytest.param(_at("1899-12-31T23:59:59Z"), id="time 1899"),
    pytest.param(_at("1899-12-31T23:30:00-01:00"), id="time 1899 local, 1900 UTC"),
    pytest.param(_at("1900-01-01T00:30:00+01:00"), id="time 1900 local, 1899 UTC"),
    pytest.param(_at("2200-01-01T00:00:00Z"), id="time 2200"),
    pytest.param(_at("2200-01-01T00:30:00+01:00"), id="time 2200 local, 2199 UTC"),
    pytest.param(_at("2026-11-02T15:04:05+01:60"), id="time offset +01:60"),
    pytest.param(_at("2026-11-02T15:04:05+24:00"), id="time offset +24:00"),
    pytest.param(_at("2026-11-02T15:04:05-23:59"), id="time offset -23:59"),
    pytest.param(_at("2026-11-02T24:00:00Z"), id="time hour 24"),
    pytest.param(_at("2026-11-02T23:59:60Z"), id="time second 60"),
    pytest.param(_at("2026-11-02T15:04Z"), id="time without seconds"),
    pytest.param(_at("2026-11-02T15:04:05Z\n"), id="time trailing newline"),
    pytest.param(_at(" 2026-11-02T15:04:05Z"), id="time leading space"),
    pytest.param(_at("٢٠٢٦-11-02T15:04:05Z"), id="time Arabic-Indic digits"),
    pytest.param(_at("\uff12\uff10\uff12\uff16-11-02T15:04:05Z"), id="time fullwidth digits"),
    pytest.param(_at("2026-11-02T15:04:05\u00a0Z"), id="time no-break space"),
    pytest.param(_at("2026-02-30T15:04:05Z"), id="time February 30"),
    pytest.param(_at("2026-11-02"), id="time date only"),
    pytest.param(_at(1700000000), id="time epoch number"),
    pytest.param(_at("1700000000"), id="time epoch string"),
    pytest.param(_at("0.5"), id="time fraction string"),
    pytest.param(_at(None), id="time null"),
    pytest.param(_ev().replace(b'00+00:00"', b'00\\u002b00:00"'), id="time escaped plus"),
    pytest.param(_ev(id="ev-1\n"), id="id trailing newline"),
    pytest.param(_ev(id="ev-1 "), id="id trailing space"),
    pytest.param(_ev(id="ev.1"), id="id with dot"),
    pytest.param(_ev(id="x" * 128), id="id 128 chars"),
    pytest.param(_ev(id="x" * 129), id="id 129 chars"),
    pytest.param(_ev(id=""), id="id empty"),
    pytest.param(_ev(id="é"), id="id not ASCII"),
    pytest.param(_ev(id=7), id="id number"),
    pytest.param(_ev(rel="rel-1\n"), id="subject trailing newline"),
    pytest.param(_ev(rel="rel-1 "), id="subject trailing space"),
    pytest.param(_ev(rel="rel.1"), id="subject with dot"),
    pytest.param(_ev(rel="r" * 128), id="subject 128 chars"),
    pytest.param(_ev(rel="r" * 129), id="subject 129 chars"),
    pytest.param(_ev(rel="ré"), id="subject not ASCII"),
    pytest.param(_ev(rel="٣"), id="subject Arabic-Indic digit"),
    pytest.param(_ev(source=""), id="source empty"),
    pytest.param(_ev(source="a\nb"), id="source newline"),
    pytest.param(_ev(source="a\x85b"), id="source next line"),
    pytest.param(_ev(source="s" * 1025), id="source 1025 chars"),
    pytest.param(_ev(actor="maria\u0000"), id="actor NUL"),
    pytest.param(_ev(actor=None), id="actor null"),
    pytest.param(_ev(datacontenttype=None), id="datacontenttype null"),
    pytest.param(_ev(datacontenttype="a\u007f"), id="datacontenttype DEL"),
    pytest.param(_ev(specversion="1.0 "), id="specversion trailing space"),
    pytest.param(_ev(specversion=1.0), id="specversion number"),
    pytest.param(_name("\u00a0"), id="name no-break space"),
    pytest.param(_name("\u2003"), id="name em space"),
    pytest.param(_name("\u3000"), id="name ideographic space"),
    pytest.param(_name("\u0085"), id="name next line"),
    pytest.param(_name("\u1680"), id="name ogham space"),
    pytest.param(_name("\u2028"), id="name line separator"),
    pytest.param(_name("\u202f"), id="name narrow no-break space"),
    pytest.param(_name("\u180e"), id="name Mongolian vowel separator"),
    pytest.param(_name("\u200b"), id="name zero-width space"),
    pytest.param(_name("\ufeff"), id="name byte order mark"),
    pytest.param(_name("\u2060"), id="name word joiner"),
    pytest.param(_name(" \t "), id="name spaces and a tab"),
    pytest.param(_name("\u00a0Ada\u3000"), id="name padded by wide spaces"),
    pytest.param(_name("Ada\u0085"), id="name ending in next line"),
    pytest.param(_name(""), id="name empty"),
    pytest.param(_name("😀" * 256), id="name 256 astral chars"),
    pytest.param(_name("😀" * 257), id="name 257 astral chars"),
    pytest.param(_name("Ada\u0080"), id="name C1 control"),
    pytest.param(_draft(b'"title":"a\\u0000b"'), id="title escaped NUL"),
    pytest.param(_draft(b'"title":"a\\nb"'), id="title escaped newline"),
    pytest.param(_draft(b'"title":"a\\u007fb"'), id="title escaped DEL"),
    pytest.param(_draft(b'"title":"\\u001c"'), id="title escaped file separator"),
    pytest.param(_draft(b'"title":"a\\u001cb"'), id="title file separator inside"),
    pytest.param(_draft(b'"title":"\\ud800"'), id="title lone high surrogate"),
    pytest.param(_draft(b'"title":"a\\udc00"'), id="title lone low surrogate"),
    pytest.param(_draft(b'"title":"\\ud83d\\ude00"'), id="title surrogate pair"),
    pytest.param(_draft(b'"title":"\\u0054"'), id="title escaped letter"),
    pytest.param(_draft(b'"title":"a\xffb"'), id="title not UTF-8"),
    pytest.param(_draft(b'"title":"a\xed\xa0\x80b"'), id="title UTF-8 encoded surrogate"),
    pytest.param(_draft(b'"title":"a\xc0\xafb"'), id="title overlong UTF-8"),
    pytest.param(_draft(b'"title":"a\tb"'), id="title raw tab"),
    pytest.param(_touch(b'"notes":"a\tb"'), id="notes raw tab"),
    pytest.param(_touch(b'"notes":"a\x00b"'), id="notes raw NUL"),
    pytest.param(_touch(b'"notes":"a\nb"'), id="notes raw newline"),
    pytest.param(_touch(b'"notes":"a\x7fb"'), id="notes raw DEL"),
    pytest.param(_touch(b'"notes":"a\\/b\\u00E9"'), id="notes escaped slash and upper-case hex"),
    pytest.param(_touch(b'"notes":"a\\xb"'), id="notes invalid escape"),
    pytest.param(_touch(b'"notes":"a\\u12"'), id="notes short escape"),
    pytest.param(_touch(b'"notes":"\\u0000\\n\\u007f"'), id="notes control characters"),
    pytest.param(_touch(b'"notes":"\\ud800"'), id="notes lone surrogate"),
    pytest.param(_touch(b'"notes":"' + "😀".encode() * 4000 + b'"'), id="notes 4000 astral"),
    pytest.param(_touch(b'"notes":"' + b"x" * 4001 + b'"'), id="notes 4001 chars"),
    pytest.param(_touch(b'"sentiment":1'), id="sentiment 1"),
    pytest.param(_touch(b'"sentiment":-1'), id="sentiment -1"),
    pytest.param(_touch(b'"sentiment":-0'), id="sentiment -0"),
    pytest.param(_touch(b'"sentiment":-0.0'), id="sentiment -0.0"),
    pytest.param(_touch(b'"sentiment":1.0000001'), id="sentiment 1.0000001"),
    pytest.param(_touch(b'"sentiment":-1.0000001'), id="sentiment -1.0000001"),
    pytest.param(_touch(b'"sentiment":0.99999999999999999999'), id="sentiment rounds to 1"),
    pytest.param(_touch(b'"sentiment":1.00000000000000001'), id="sentiment 1 plus a hair"),
    pytest.param(_touch(b'"sentiment":0.1000000000000000055511151231257827'), id="sentiment 0.1"),
    pytest.param(_touch(b'"sentiment":5e-1'), id="sentiment 5e-1"),
    pytest.param(_touch(b'"sentiment":1e-400'), id="sentiment underflow"),
    pytest.param(_touch(b'"sentiment":true'), id="sentiment true"),
    pytest.param(_touch(b'"sentiment":"0.5"'), id="sentiment string"),
    pytest.param(_touch(b'"sentiment":NaN'), id="sentiment NaN"),
    pytest.param(_touch(b'"sentiment":Infinity'), id="sentiment Infinity"),
    pytest.param(_touch(b'"sentiment":1e400'), id="sentiment 1e400"),
    pytest.param(_touch(b'"sentiment":-1e400'), id="sentiment -1e400"),
    pytest.param(_touch(b'"sentiment":' + b"9" * 30), id="sentiment 30-digit int"),
    pytest.param(_touch(b'"sentiment":null'), id="sentiment null"),
    pytest.param(_touch(b'"sentiment":01'), id="sentiment leading zero"),
    pytest.param(_touch(b'"sentiment":+1'), id="sentiment plus sign"),
    pytest.param(_touch(b'"sentiment":.5'), id="sentiment no integer part"),
    pytest.param(_touch(b'"sentiment":1.'), id="sentiment no fraction digits"),
    pytest.param(_touch(b'"sentiment":4.9406564584124654e-324'), id="sentiment least subnormal"),
    pytest.param(_touch(b'"sentiment":0e999999999'), id="sentiment zero huge exponent"),
    pytest.param(_touch(b'"sentiment":0.' + b"9" * 1000), id="sentiment 1000 nines"),
    pytest.param(_touch(b'"duration_minutes":5.0'), id="duration 5.0"),
    pytest.param(_touch(b'"duration_minutes":5e0'), id="duration 5e0"),
    pytest.param(_touch(b'"duration_minutes":-1'), id="duration -1"),
    pytest.param(_touch(b'"duration_minutes":-0'), id="duration -0"),
    pytest.param(_touch(b'"duration_minutes":100000'), id="duration 100000"),
    pytest.param(_touch(b'"duration_minutes":100001'), id="duration 100001"),
    pytest.param(_touch(b'"duration_minutes":' + b"9" * 30), id="duration 30-digit int"),
    pytest.param(_touch(b'"duration_minutes":true'), id="duration true"),
    pytest.param(_touch(b'"duration_minutes":"5"'), id="duration string"),
    pytest.param(_touch(b'"duration_minutes":null'), id="duration null"),
    pytest.param(_touch(b'"value":"none"'), id="value none"),
    pytest.param(_touch(b'"value":null'), id="value null"),
    pytest.param(_touch(b'"mood":1'), id="interaction unknown field"),
    pytest.param(_start("2026-02-30"), id="date February 30"),
    pytest.param(_start("1899-12-31"), id="date 1899"),
    pytest.param(_start("1900-01-01"), id="date 1900-01-01"),
    pytest.param(_start("2199-12-31"), id="date 2199-12-31"),
    pytest.param(_start("2200-01-01"), id="date 2200"),
    pytest.param(_start("2026-11-02T00:00:00"), id="date with midnight"),
    pytest.param(_start("2026-11-02T00:00:00Z"), id="date with midnight Z"),
    pytest.param(_start("2026-11-02 "), id="date trailing space"),
    pytest.param(_start("20261102"), id="date without dashes"),
    pytest.param(_start("2026-1-2"), id="date short month"),
    pytest.param(_start("٢٠٢٦-11-02"), id="date Arabic-Indic digits"),
    pytest.param(_start(20261102), id="date number"),
    pytest.param(_start(1700000000), id="date epoch number"),
    pytest.param(
        _ev("purpose.set", {"purpose": "p", "target_date": "2026-11-31"}),
        id="target_date November 31",
    ),
    pytest.param(
        _ev("capacity.noted", {"capacity": "low", "available_from": None}), id="available_from null"
    ),
    pytest.param(_ev("purpose.set", {"purpose": ""}), id="purpose empty"),
    pytest.param(_ev("purpose.set", {"purpose": "   "}), id="purpose blank"),
    pytest.param(_stage({"to": "closed", "reason": "   "}), id="reason blank"),
    pytest.param(_stage({"to": "closed", "reason": ""}), id="reason empty"),
    pytest.param(_stage({"to": "closed", "reason": "\u001c\u001f"}), id="reason of separators"),
    pytest.param(_stage({"to": "closed", "reason": "\u200b"}), id="reason zero-width space"),
    pytest.param(_stage({"to": "closed", "reason": "\u3000\u0085"}), id="reason wide spaces"),
    pytest.param(_stage({"to": "closed", "reason": None}), id="reason null"),
    pytest.param(_reason("   "), id="decided reason blank"),
    pytest.param(_reason(""), id="decided reason empty"),
    pytest.param(_stage({"to": "awareness", "from": "connection"}), id="from alias"),
    pytest.param(_stage({"to": "awareness", "from_": "connection"}), id="from_ as a key"),
    pytest.param(
        _stage({"to": "awareness", "from": "connection", "from_": "closed"}), id="from and from_"
    ),
    pytest.param(_stage({"to": "awareness", "from": None}), id="from null"),
    pytest.param(_stage({"to": "awareness", "from": "nowhere"}), id="from unknown stage"),
    pytest.param(_stage({"to": "Awareness"}), id="to capitalised"),
    pytest.param(
        _ev("connection.made", {"owner": "o", "counterpart": {"name": "A", "age": 3}}),
        id="counterpart unknown field",
    ),
    pytest.param(
        _ev("connection.made", {"owner": "o", "counterpart": {"name": "A", "kind": None}}),
        id="counterpart kind null",
    ),
    pytest.param(
        _ev("proposal.submitted", {"proposal_id": "p-1", "title": None}), id="submitted title null"
    ),
    pytest.param(_ev("proposal.accepted", {"proposal_id": "p.1"}), id="proposal id with dot"),
    pytest.param(
        _extended(traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        id="extension traceparent",
    ),
    pytest.param(_extended(**{"Bad-Name": "x"}), id="extension name Bad-Name"),
    pytest.param(_extended(**{"a" * 65: "x"}), id="extension name 65 chars"),
    pytest.param(_extended(trace="a\u0007b"), id="extension value with control char"),
    pytest.param(_extended(trace=7, nested={"a": [1, None]}), id="extension values not text"),
    pytest.param(_extended(dataschema="urn:rapport:stage.changed:v1"), id="dataschema current"),
    pytest.param(_extended(dataschema="urn:rapport:stage.changed:v2"), id="dataschema newer"),
    pytest.param(_tags(64), id="tags 64"),
    pytest.param(_tags(65), id="tags 65"),
    pytest.param(_ev("capacity.noted", {"capacity": "low", "goals": ["   "]}), id="tag blank"),
    pytest.param(_ev("capacity.noted", {"capacity": "low", "goals": None}), id="goals null"),
    pytest.param(_ev("capacity.noted", {"capacity": "low", "goals": "reach"}), id="goals a string"),
    pytest.param(_email("a b@example.com"), id="email with space"),
    pytest.param(_email("a\u00a0b@example.com"), id="email with no-break space"),
    pytest.param(_email("a\u200bb@example.com"), id="email with zero-width space"),
    pytest.param(_email("a\u001cb@example.com"), id="email with file separator"),
    pytest.param(_email("a\u0000b@example.com"), id="email with NUL"),
    pytest.param(_email("a@example.com\n"), id="email trailing newline"),
    pytest.param(_email("a@b@c"), id="email two ats"),
    pytest.param(_email("@example.com"), id="email no local part"),
    pytest.param(_email("a@"), id="email no domain"),
    pytest.param(STAGE[:-1] + b',"type":"rapport.stage.changed"}', id="duplicate type same"),
    pytest.param(STAGE[:-1] + b',"type":"rapport.purpose.set"}', id="duplicate type other"),
    pytest.param(STAGE[:-1] + b',"data":{"to":"closed"}}', id="duplicate data"),
    pytest.param(STAGE[:-1] + b',"data":{"purpose":"x"}}', id="duplicate data invalid"),
    pytest.param(STAGE[:-1] + b',"id":"ev-2"}', id="duplicate id"),
    pytest.param(STAGE[:-1] + b',"time":"2027-01-01T00:00:00Z"}', id="duplicate time"),
    pytest.param(STAGE[:-1] + b',"time":"2026-11-02t15:04:05z"}', id="duplicate time lower-case"),
    pytest.param(STAGE[:-1] + b',"time":"nope"}', id="duplicate time invalid"),
    pytest.param(
        STAGE.replace(b'"time":"', b'"time":"nope","time":"'), id="duplicate time invalid first"
    ),
    pytest.param(
        STAGE.replace(b'{"to":"awareness"}', b'{"to":"awareness","to":"closed"}'), id="duplicate to"
    ),
    pytest.param(
        STAGE.replace(b'{"to":"awareness"}', b'{"to":"nowhere","to":"closed"}'),
        id="duplicate to invalid first",
    ),
    pytest.param(STAGE.replace(b'"type"', b'"\\u0074ype"'), id="escaped key"),
    pytest.param(STAGE.replace(b',"type":"rapport.stage.changed"', b""), id="type missing"),
    pytest.param(_ev(type="rapport.nope.done"), id="type unknown"),
    pytest.param(_ev(type=None), id="type null"),
    pytest.param(_ev(type="rapport.stage.changed"), id="type of other data"),
    pytest.param(
        _extended(nested=orjson.loads(b"[" * 150 + b"]" * 150)), id="extension nested 150 deep"
    ),
    pytest.param(STAGE[:-1] + b',"deep":' + DEEP + b"}", id="extension nested too deep"),
    pytest.param(DEEP, id="array nested too deep"),
    pytest.param(b"\xff" + STAGE, id="not UTF-8 before"),
    pytest.param(b"\xef\xbb\xbf" + STAGE, id="byte order mark before"),
    pytest.param(STAGE + b"\n", id="trailing newline"),
    pytest.param(b" \t\r\n" + STAGE + b" \t\r\n", id="surrounding JSON whitespace"),
    pytest.param(STAGE + b"x", id="trailing garbage"),
    pytest.param(STAGE + STAGE, id="two events"),
    pytest.param(b"[" + STAGE + b"]", id="an array of an event"),
    pytest.param(b"[]", id="an array"),
    pytest.param(b"null", id="null"),
    pytest.param(b"{}", id="empty object"),
    pytest.param(b'"event"', id="a string"),
    pytest.param(b"", id="nothing"),
    pytest.param(STAGE[:-1] + b",}", id="trailing comma"),
    pytest.param(STAGE[:-1] + b"/*x*/}", id="comment"),
    pytest.param(STAGE[:-1] + b',"ext":NaN}', id="extension NaN"),
    pytest.param(
        STAGE.replace(b',"type":"rapport.stage.changed"', b"")[:-1]
        + b',"type":"rapport.stage.changed"}',
        id="type last",
    ),
]


@pytest.mark.parametrize("raw", EDGE_CASES)
def test_edge_cases_have_one_meaning(raw: bytes) -> None:
    assert_one_meaning(raw)


# -- generated events ---------------------------------------------------------------------------

STAGES = ["connection", "awareness", "engagement", "conversion", "partnership", "closed"]
# Unicode's White_Space, Python's extra `isspace` separators, and look-alikes that are not space
WHITE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f\u180e\u200b\u200c\u200d"
    "\u2060\ufeff"
)

ALNUM = string.ascii_lowercase + string.digits  # an extension attribute's name
_ids = st.text(
    st.characters(min_codepoint=ord("!"), max_codepoint=ord("~")), min_size=1, max_size=128
)
_rels = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=128)
# every offset Python allows, in whole minutes
_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
_contract_moments = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=_offsets
)
_any_moments = st.datetimes(
    min_value=datetime(1899, 12, 30), max_value=datetime(2200, 1, 2), timezones=_offsets
)
_days = st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)).map(date.isoformat)
# text as the contract takes it: no control characters, some text that is not space
_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=50).filter(
    lambda s: s.strip(WHITE) != ""
)
_long = st.text(max_size=300) | st.sampled_from(["x" * 4000, "😀" * 4000])
_wild = st.one_of(
    st.text(alphabet=st.characters(codec=None), max_size=300),
    st.text(alphabet=st.sampled_from(WHITE) | st.sampled_from("a."), max_size=300),
    st.text(alphabet=st.characters(max_codepoint=0xA0) | st.sampled_from(WHITE), max_size=300),
    st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp")), max_size=300),
)
_wide = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.lists(st.text(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
)
_tag_lists = st.lists(_text, max_size=4) | st.builds(lambda: ["t"] * 64)
_emails = st.emails().filter(lambda e: len(e) <= 256)


def _optional(**values: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return {name: strategy | st.none() for name, strategy in values.items()}


_proposal = {"goals": _tag_lists, **_optional(kind=_text, ask=_long, proposed_start=_days)}
DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "rapport.connection.made": st.fixed_dictionaries(
        {
            "owner": _text,
            "counterpart": st.fixed_dictionaries(
                {"name": _text},
                optional={
                    "kind": st.sampled_from(["person", "organization"]),
                    **_optional(organization=_text, email=_emails),
                    "tags": _tag_lists,
                },
            ),
        },
        optional=_optional(channel=_text, introduced_by=_text, purpose=_long),
    ),
    "rapport.interaction.recorded": st.fixed_dictionaries(
        {
            "kind": st.sampled_from(data_models.INTERACTION_KINDS),
            "direction": st.sampled_from(["inbound", "outbound", "mutual"]),
        },
        optional={
            "sentiment": st.floats(-1, 1) | st.integers(-1, 1),
            **_optional(
                value=st.sampled_from(["gave", "received", "exchanged", "none"]),
                duration_minutes=st.integers(0, 100_000),
                notes=_long,
            ),
        },
    ),
    "rapport.stage.changed": st.fixed_dictionaries(
        {"to": st.sampled_from(STAGES)},
        optional=_optional(
            **{"from": st.sampled_from(STAGES)}, reason=_long | st.sampled_from(WHITE)
        ),
    ),
    "rapport.purpose.set": st.fixed_dictionaries(
        {"purpose": st.text(min_size=1, max_size=300)}, optional=_optional(target_date=_days)
    ),
    "rapport.capacity.noted": st.fixed_dictionaries(
        {"capacity": st.sampled_from(["low", "medium", "high"])},
        optional={"goals": _tag_lists, **_optional(available_from=_days, notes=_long)},
    ),
    "rapport.proposal.drafted": st.fixed_dictionaries(
        {"proposal_id": _rels, "title": _text}, optional=_proposal
    ),
    "rapport.proposal.submitted": st.fixed_dictionaries(
        {"proposal_id": _rels}, optional={**_proposal, **_optional(title=_text)}
    ),
    **{
        f"rapport.proposal.{decision}": st.fixed_dictionaries(
            {"proposal_id": _rels}, optional=_optional(reason=_long | st.sampled_from(WHITE))
        )
        for decision in ("accepted", "declined", "withdrawn")
    },
}
assert set(DATA) == set(EVENT_TYPES)


_USUAL = st.just(0)


def _spelled(moment: datetime, style: int) -> str:
    """A time in one of the spellings RFC 3339 (or pydantic) allows; 0 is the usual one."""
    if style == 0:
        return moment.isoformat()
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    clock = moment.strftime("%H:%M:%S")
    fraction = f".{moment.microsecond:06d}" + "0123456789"[: style % 4] if style % 2 else ""
    zone = [f"{sign}{hours:02d}:{minutes:02d}", f"{sign}{hours:02d}{minutes:02d}"][style % 2]
    if not offset and style % 3 == 0:
        zone = "Zz"[style % 2]
    separator = "T t_"[style % 4]
    return f"{moment.date().isoformat()}{separator}{clock}{fraction}{zone}"


@st.composite
def _envelopes(
    draw: st.DrawFn,
    moments: st.SearchStrategy[datetime] = _contract_moments,
    spellings: st.SearchStrategy[int] = _USUAL,
) -> dict[str, Any]:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(_ids),
        "source": draw(_text),
        "type": event_type,
        "subject": draw(_rels),
        "time": _spelled(draw(moments), draw(spellings)),
        "data": draw(DATA[event_type]),
    }
    envelope.update(draw(st.fixed_dictionaries({}, optional=_optional(actor=_text))))
    envelope.update(
        draw(st.fixed_dictionaries({}, optional={"datacontenttype": st.just("application/json")}))
    )
    return envelope


def _encoded(envelope: Any, escaped: bool) -> bytes:
    """JSON bytes: orjson's, or every non-ASCII character escaped (lone surrogates too)."""
    if not escaped:
        try:
            return orjson.dumps(envelope)
        except orjson.JSONEncodeError:  # a surrogate or an integer beyond 64 bits
            pass
    return json.dumps(envelope, ensure_ascii=True).encode()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=_envelopes(), escaped=st.booleans())
def test_generated_events_are_read_by_the_structs(envelope: dict[str, Any], escaped: bool) -> None:
    raw = _encoded(envelope, escaped)
    EVENT_ADAPTER.validate_json(raw)  # valid by construction
    records.read(raw)  # in the usual spelling: the structs read it
    assert_one_meaning(raw)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=_envelopes(_any_moments, st.integers(0, 23)), escaped=st.booleans())
def test_times_of_every_spelling_have_one_meaning(envelope: dict[str, Any], escaped: bool) -> None:
    assert_one_meaning(_encoded(envelope, escaped))


# a sentiment as JSON may write it: the structs and pydantic must parse it to the same float
_exponents = st.tuples(
    st.sampled_from("eE"),
    st.sampled_from(["", "-", "+"]),
    st.text(string.digits, min_size=1, max_size=3),
).map("".join)
_decimals = st.tuples(
    st.sampled_from(["", "-"]),
    st.sampled_from("01"),
    st.just("") | st.text(string.digits, min_size=1, max_size=40).map(lambda d: f".{d}"),
    st.just("") | _exponents,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(sentiment=_decimals)
def test_sentiments_of_every_spelling_have_one_meaning(sentiment: str) -> None:
    assert_one_meaning(_touch(b'"sentiment":' + sentiment.encode()))


Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value: keys of objects and items of arrays, outermost first."""
    found: list[Path] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found.append((*prefix, key))
        found.extend(_paths(item, (*prefix, key)))
    return found


def _at_path(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _parent(envelope: Any, path: Path) -> Any:
    return _at_path(envelope, path[:-1])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=_envelopes(), how=st.sampled_from(["replace", "add", "drop"]), data=st.data())
def test_mutated_events_have_one_meaning(
    envelope: dict[str, Any], how: str, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(_paths(envelope)), label="path")
    parent = _parent(envelope, path)
    if how == "replace":
        parent[path[-1]] = data.draw(_wide, label="value")
    elif how == "drop":
        del parent[path[-1]]
    else:
        inner = [_at_path(envelope, p) for p in _paths(envelope)]
        objects = [envelope, *(value for value in inner if isinstance(value, dict))]
        target = data.draw(st.sampled_from(objects), label="object")
        names = (
            st.text(max_size=8)
            | st.text(ALNUM, min_size=1, max_size=64)
            | st.sampled_from(["from_", "from", "to", "kind", "time", "traceparent"])
        )
        target[data.draw(names, label="name")] = data.draw(_wide, label="value")
    assert_one_meaning(_encoded(envelope, data.draw(st.booleans(), label="escaped")))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=_envelopes(), data=st.data())
def test_wild_text_has_one_meaning(envelope: dict[str, Any], data: st.DataObject) -> None:
    texts = [
        path
        for path in _paths(envelope)
        if isinstance(_at_path(envelope, path), str) and path not in {("type",), ("specversion",)}
    ]
    for path in data.draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3), label="paths"):
        _parent(envelope, path)[path[-1]] = data.draw(_wild, label="text")
    assert_one_meaning(_encoded(envelope, data.draw(st.booleans(), label="escaped")))


# -- every code point ---------------------------------------------------------------------------


def _code_points() -> list[str]:
    """Every character a Python string may hold but the surrogates (U+D800-U+DFFF)."""
    return [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]


def _refused_by_pydantic(field: Any, values: list[str]) -> set[str]:
    """The values pydantic refuses, read from one JSON array (it words every item's error)."""
    try:
        TypeAdapter(list[field]).validate_json(orjson.dumps(values))
    except ValidationError as exc:
        return {values[int(error["loc"][0])] for error in exc.errors(include_url=False)}
    return set()


def _refused_by_records(field: Any, values: list[str]) -> set[str]:
    """The values the structs refuse, read from JSON arrays (one by one where one fails)."""
    refused: set[str] = set()
    for start in range(0, len(values), 4096):
        chunk = values[start : start + 4096]
        try:
            msgspec.json.decode(orjson.dumps(chunk), type=list[field])
        except msgspec.ValidationError:
            for value in chunk:
                try:
                    msgspec.json.decode(orjson.dumps(value), type=field)
                except msgspec.ValidationError:
                    refused.add(value)
    return refused


@pytest.mark.parametrize(
    ("schema", "struct", "spell"),
    [
        pytest.param(fields.ShortText, records.ShortText, "{}", id="short text"),
        pytest.param(fields.ShortText, records.ShortText, "a{}b", id="short text inside"),
        pytest.param(data_models.Email, records.Email, "a{}b@example.com", id="email"),
    ],
)
def test_every_code_point_is_refused_alike(schema: Any, struct: Any, spell: str) -> None:
    values = [spell.format(c) for c in _code_points()]
    refused = _refused_by_pydantic(schema, values)
    assert refused == _refused_by_records(struct, values)
    assert refused  # the controls, at least


SPACES_AND_CONTROLS = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def _one_character_names() -> tuple[list[str], list[str]]:
    """Spaces, separators, controls and format characters; and a sample of the others.

    The unassigned and private-use code points (category `Cn`, `Co`: ~967 000) are sampled
    too: the exhaustive check above holds every one of them on the field types.
    """
    categories = {c: unicodedata.category(c) for c in _code_points()}
    chosen = [c for c, kind in categories.items() if c.isspace() or kind in SPACES_AND_CONTROLS]
    unassigned = [c for c, kind in categories.items() if kind in {"Cn", "Co"}]
    others = [c for c, kind in categories.items() if kind[0] not in "CZ"]
    rnd = random.Random(7)
    return chosen, rnd.sample(unassigned, 2_000) + rnd.sample(others, 2_000)


def _title(text: str) -> bytes:
    """A drafted proposal titled `text`, every non-ASCII character written as a JSON escape."""
    return json.dumps(event("proposal.drafted", data={"proposal_id": "p", "title": text})).encode()


def test_one_character_names_have_one_meaning() -> None:
    chosen, sampled = _one_character_names()
    assert len(chosen) > 200
    for c in chosen:
        assert_one_meaning(_name(c))
        assert_one_meaning(_title(f"{c}a{c}"))
    for c in sampled:
        assert_one_meaning(_name(c))

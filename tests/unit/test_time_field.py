"""The event time is checked inside pydantic-core now (no Python call per event): it must
accept and refuse exactly what the Python-checked definition it replaced did.

The oracle is that former definition, kept here as it was: a Python before-validator that
wants a string starting with a date and a time (never epoch seconds), then pydantic's lax
aware datetime, bounded to 1900..2199.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from events.fields import DATE_TIME_START, EARLIEST, LATEST, Rfc3339Time
from events.parsing import InvalidEvent, parse_event


def _written_as_date_time(value: object) -> object:
    if isinstance(value, str):
        if not DATE_TIME_START.match(value):
            raise PydanticCustomError("datetime_parsing", "not an RFC 3339 date-time")
    elif not isinstance(value, datetime):
        raise PydanticCustomError("datetime_type", "not an RFC 3339 date-time string")
    return value


FORMER = TypeAdapter(
    Annotated[
        AwareDatetime,
        BeforeValidator(_written_as_date_time),
        Field(ge=EARLIEST, lt=LATEST, strict=False),
    ],
    config=ConfigDict(strict=True),
)
NOW = TypeAdapter(Rfc3339Time, config=ConfigDict(strict=True))


def outcome(adapter: TypeAdapter[Any], raw: str) -> tuple[str, Any]:
    """("ok", the instant) or ("error", None): what a validator makes of one JSON value.

    Which error is named may differ when a value breaks two rules at once (a naive time in
    1800 is out of bounds first now, naive first before); each rule alone is worded as before
    (`test_events_word_a_bad_time_as_before`).
    """
    try:
        return "ok", adapter.validate_json(raw)
    except ValidationError:
        return "error", None


offsets = st.sampled_from(["Z", "z", "+00:00", "+01:00", "-05:30", "+14:00", "", "+2400"])
separators = st.sampled_from(["T", "t", " ", "_", "-", ""])
fractions = st.sampled_from(["", ".5", ".123456", ".123456789", "."])
written = st.builds(
    lambda moment, sep, fraction, offset: (
        moment.strftime("%Y-%m-%d") + sep + moment.strftime("%H:%M:%S") + fraction + offset
    ),
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2400, 1, 1)),
    separators,
    fractions,
    offsets,
)
anything = st.one_of(
    written,
    st.text(max_size=40),
    st.from_regex(r"\A[0-9.eE+-]{1,14}\Z"),  # numbers written as strings: never epoch seconds
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=600)
@given(anything)
@example("1700000000")
@example("0.5")
@example("2026-11-02T15:04:05Z\n")
@example("2026-02-30T10:00:00Z")
@example("1899-12-31T23:59:59Z")
@example("2199-12-31T23:59:59.999999Z")
@example("2200-01-01T00:00:00Z")
@example("2026-11-02T15:04:05+01:00")
def test_the_time_field_decides_as_before(value: Any) -> None:
    raw = json.dumps(value)
    assert outcome(NOW, raw) == outcome(FORMER, raw)


def test_a_time_given_as_an_object_is_still_taken_in_python() -> None:
    moment = datetime(2026, 11, 2, 15, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert NOW.validate_python(moment) == moment
    assert NOW.validate_python("2026-11-02T15:04:05+01:00") == moment
    assert NOW.dump_python(moment) == moment
    assert NOW.dump_json(moment) == b'"2026-11-02T15:04:05+01:00"'
    assert NOW.json_schema() == {"type": "string", "format": "date-time"}


def test_events_word_a_bad_time_as_before() -> None:
    base = {
        "specversion": "1.0",
        "id": "e1",
        "source": "s",
        "type": "rapport.interaction.recorded",
        "subject": "r1",
        "data": {"kind": "call", "direction": "inbound"},
    }
    said = []
    for time in ("1700000000", 1700000000, "2026-11-02T15:04:05", "1800-01-01T00:00:00Z"):
        try:
            parse_event(json.dumps({**base, "time": time}))
        except InvalidEvent as exc:
            said.append(str(exc))
    assert said == [
        "time: '1700000000' is not an RFC 3339 date-time with an offset "
        "(e.g. 2026-11-02T15:04:05Z or 2026-11-02T16:04:05+01:00)",
        "time: must be an RFC 3339 date-time string, got a number",
        "time: '2026-11-02T15:04:05' must carry an offset (Z or +hh:mm)",
        "time: 1800-01-01T00:00:00Z is outside the accepted years 1900..2199",
    ]
    assert parse_event(json.dumps({**base, "time": "2026-11-02T15:04:05Z"})).time == datetime(
        2026, 11, 2, 15, 4, 5, tzinfo=UTC
    )

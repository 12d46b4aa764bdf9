"""Schema evolution: an event stored in an older shape is read in the current one."""

from __future__ import annotations

import orjson
import pytest

from events import InteractionRecorded, InvalidEvent, parse_event
from events.parsing import parse_stored
from events.upcasting import declared_version, schema_uri
from tests.factories import event

V0 = event(
    "interaction.recorded",
    "r",
    {"channel": "phone", "initiated_by": "them", "rating": 4, "notes": "follow-up"},
    dataschema="urn:rapport:interaction.recorded:v0",
)


def test_v0_is_read_as_the_current_shape() -> None:
    parsed = parse_stored(orjson.dumps(V0))
    assert parsed.upcast_from == 0
    assert isinstance(parsed.event, InteractionRecorded)
    data = parsed.event.data
    assert (data.kind, data.direction, data.sentiment, data.notes) == (
        "call",
        "inbound",
        0.5,
        "follow-up",
    )
    assert parsed.event.dataschema == schema_uri("rapport.interaction.recorded", 1)


@pytest.mark.parametrize(
    ("initiated", "direction"), [("them", "inbound"), ("us", "outbound"), ("both", "mutual")]
)
def test_v0_directions(initiated: str, direction: str) -> None:
    envelope = {**V0, "data": {"channel": "video", "initiated_by": initiated}}
    parsed = parse_event(orjson.dumps(envelope))
    assert parsed.data.direction == direction  # type: ignore[union-attr]
    assert parsed.data.kind == "meeting"  # type: ignore[union-attr]


def test_current_events_are_untouched() -> None:
    plain = parse_stored(orjson.dumps(event("interaction.recorded")))
    assert plain.upcast_from is None
    declared = {
        **event("interaction.recorded"),
        "dataschema": "urn:rapport:interaction.recorded:v1",
    }
    assert parse_stored(orjson.dumps(declared)).upcast_from is None
    foreign = {**event("interaction.recorded"), "dataschema": "https://example.com/schema.json"}
    assert parse_stored(orjson.dumps(foreign)).upcast_from is None


def test_a_newer_shape_is_refused_clearly() -> None:
    newer = {**event("interaction.recorded"), "dataschema": "urn:rapport:interaction.recorded:v7"}
    with pytest.raises(InvalidEvent, match=r"v7 is newer than the v1 this Rapport reads"):
        parse_event(orjson.dumps(newer))


def test_a_bad_old_event_still_names_the_field() -> None:
    broken = {**V0, "data": {"channel": "carrier pigeon", "initiated_by": "them"}}
    with pytest.raises(InvalidEvent, match=r"data\.kind"):
        parse_event(orjson.dumps(broken))


@pytest.mark.parametrize(
    ("schema", "version"),
    [
        ("urn:rapport:interaction.recorded:v0", 0),
        ("https://rapport.dev/schemas/x/v3", 3),
        ("v2", None),
        (None, None),
    ],
)
def test_declared_version(schema: str | None, version: int | None) -> None:
    assert declared_version({"dataschema": schema}) == version

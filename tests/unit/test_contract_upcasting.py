"""Schema evolution: the v0 interaction shape, its defaults, and how upcasters chain."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import InteractionRecorded, InvalidEvent, StageChanged, parse_event, upcasting
from events.parsing import parse_stored
from events.upcasting import NewerShape, Upcaster, current_version, register, schema_uri, upcast
from tests.factories import event

V0_SCHEMA = "urn:rapport:interaction.recorded:v0"


def v0(data: Any) -> dict[str, Any]:
    return event("interaction.recorded", "r", data, dataschema=V0_SCHEMA)


def read_v0(data: Any) -> InteractionRecorded:
    parsed = parse_event(orjson.dumps(v0(data)))
    assert isinstance(parsed, InteractionRecorded)
    return parsed


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        ("phone", "call"),
        ("video", "meeting"),
        ("chat", "message"),
        ("in-person", "meeting"),
        ("email", "email"),  # a channel that already names a kind is kept
        ("social", "social"),
    ],
)
def test_v0_channels_are_kinds(channel: str, kind: str) -> None:
    assert read_v0({"channel": channel, "initiated_by": "them"}).data.kind == kind


@pytest.mark.parametrize(
    ("initiated", "direction"),
    [("them", "inbound"), ("us", "outbound"), ("both", "mutual"), ("mutual", "mutual")],
)
def test_v0_initiators_are_directions(initiated: str, direction: str) -> None:
    assert read_v0({"channel": "phone", "initiated_by": initiated}).data.direction == direction


@pytest.mark.parametrize(
    ("rating", "sentiment"),
    [(1, -1.0), (2, -0.5), (3, 0.0), (4, 0.5), (5, 1.0), (0, -1.0), (7, 1.0), (3.5, 0.25)],
)
def test_v0_ratings_of_1_to_5_are_sentiments_of_minus_1_to_1(
    rating: float, sentiment: float
) -> None:
    """(rating - 3) / 2, held within -1..1."""
    assert read_v0({"channel": "phone", "initiated_by": "us", "rating": rating}).data.sentiment == (
        sentiment
    )


@given(rating=st.integers(-20, 20) | st.floats(-20, 20, allow_nan=False))
def test_v0_any_numeric_rating_maps_and_is_held_within_bounds(rating: float) -> None:
    expected = max(-1.0, min(1.0, (rating - 3) / 2))
    data = read_v0({"channel": "phone", "initiated_by": "us", "rating": rating}).data
    assert data.sentiment == pytest.approx(expected)


def test_v0_defaults_are_an_other_touch_we_made_rated_3() -> None:
    data = read_v0({}).data
    assert (data.kind, data.direction, data.sentiment) == ("other", "outbound", 0.0)


@pytest.mark.parametrize("rating", [True, "5", None, [5]])
def test_v0_a_rating_that_is_no_number_says_nothing_of_tone(rating: Any) -> None:
    assert (
        read_v0({"channel": "phone", "initiated_by": "us", "rating": rating}).data.sentiment == 0.0
    )


def test_v0_other_fields_are_kept_and_the_shape_is_named() -> None:
    parsed = parse_stored(orjson.dumps(v0({"channel": "phone", "notes": "follow-up"})))
    assert parsed.upcast_from == 0
    assert isinstance(parsed.event, InteractionRecorded)
    assert parsed.event.data.notes == "follow-up"
    assert parsed.event.dataschema == "urn:rapport:interaction.recorded:v1"


def test_v0_sent_as_text_is_read_the_same() -> None:
    parsed = parse_stored(orjson.dumps(v0({"channel": "phone", "initiated_by": "them"})).decode())
    assert parsed.upcast_from == 0
    assert parsed.event.data.direction == "inbound"  # type: ignore[union-attr]


def test_v0_data_that_is_no_object_is_refused_in_words() -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_event(orjson.dumps(v0("phone call")))
    assert str(raised.value) == (
        "dataschema: cannot read it as 'urn:rapport:interaction.recorded:v0' "
        "(data: must be a JSON object, got str)"
    )


def test_schema_uris() -> None:
    assert schema_uri("rapport.interaction.recorded", 1) == "urn:rapport:interaction.recorded:v1"
    assert schema_uri("rapport.stage.changed", 0) == "urn:rapport:stage.changed:v0"


def test_current_versions() -> None:
    assert current_version("rapport.interaction.recorded") == 1
    assert current_version("rapport.stage.changed") == 1


def test_a_type_that_never_evolved_reads_its_v1_and_refuses_other_shapes() -> None:
    change = event("stage.changed", "r", {"to": "awareness"})
    same = parse_stored(orjson.dumps({**change, "dataschema": "urn:rapport:stage.changed:v1"}))
    assert isinstance(same.event, StageChanged)
    assert same.upcast_from is None
    with pytest.raises(InvalidEvent) as raised:
        parse_event(orjson.dumps({**change, "dataschema": "urn:rapport:stage.changed:v0"}))
    assert str(raised.value) == "dataschema: no upcaster from rapport.stage.changed v0"
    with pytest.raises(InvalidEvent) as raised:
        parse_event(orjson.dumps({**change, "dataschema": "urn:rapport:stage.changed:v2"}))
    assert str(raised.value) == (
        "dataschema: rapport.stage.changed v2 is newer than the v1 this Rapport reads"
    )


def test_upcasters_chain_from_the_stored_version_to_the_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A type at v3 with upcasters 0->1, 1->2, 2->3: each runs once, in order."""
    monkeypatch.setattr(upcasting, "REGISTRY", {})
    monkeypatch.setitem(upcasting.CURRENT_VERSION, "rapport.test.evolved", 3)

    def step(n: int) -> Upcaster:
        def add(envelope: dict[str, Any]) -> dict[str, Any]:
            return {**envelope, "steps": [*envelope.get("steps", []), n]}

        return Upcaster("rapport.test.evolved", n, add)

    for n in (0, 1, 2):
        assert register(step(n)) is upcasting.REGISTRY[("rapport.test.evolved", n)]
    stored = {"type": "rapport.test.evolved", "dataschema": "urn:x:v0"}
    assert upcast(stored) == ({**stored, "steps": [0, 1, 2]}, 0)
    middle = {"type": "rapport.test.evolved", "dataschema": "urn:x:v2"}
    assert upcast(middle) == ({**middle, "steps": [2]}, 2)
    current = {"type": "rapport.test.evolved", "dataschema": "urn:x:v3"}
    assert upcast(current) == (current, None)
    with pytest.raises(NewerShape, match=r"no upcaster from rapport\.test\.other v0"):
        upcast({"type": "rapport.test.other", "dataschema": "urn:x:v0"})


@pytest.mark.parametrize(
    "key", [rb'"\u0064ataschema"', rb'"datasch\u0065ma"', rb'"\u0044ataschema"']
)
def test_a_shape_is_read_by_its_key_however_the_json_spells_it(key: bytes) -> None:
    plain = orjson.dumps(v0({"channel": "phone", "initiated_by": "them", "rating": 5}))
    escaped = plain.replace(b'"dataschema"', key)
    assert escaped != plain
    if key == rb'"\u0044ataschema"':  # `Dataschema`: another attribute (names are lower-case)
        with pytest.raises(InvalidEvent):
            parse_stored(escaped)
        return
    read = parse_stored(escaped)
    assert read == parse_stored(plain)
    assert read.upcast_from == 0
    assert isinstance(read.event, InteractionRecorded)
    assert (read.event.data.kind, read.event.data.direction) == ("call", "inbound")

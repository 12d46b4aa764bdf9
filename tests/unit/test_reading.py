"""The one reader of the log: total, and exact about first copies, later copies and dead letters."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events.identity import digest
from events.reading import Copy, Dead, Fresh, StoredMessage, decode, read, read_in_order
from events.subjects import event_subject
from tests.factories import event

VALID = event("interaction.recorded", "r", event_id="e-1")
SUBJECT = event_subject("r", "rapport.interaction.recorded")


def stored(seq: int, envelope: dict[str, Any] | bytes, subject: str = SUBJECT) -> StoredMessage:
    data = envelope if isinstance(envelope, bytes) else orjson.dumps(envelope)
    return StoredMessage(seq, subject, data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from([*VALID, "dataschema", "extra"])


def dumps(value: Any) -> bytes:
    """JSON as any writer might send it (big integers, lone surrogates escaped)."""
    return json.dumps(value).encode()


_mutations = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda key, value: dumps({**VALID, key: value}), _fields, _json),
    st.builds(lambda key: dumps({k: v for k, v in VALID.items() if k != key}), _fields),
    st.builds(
        lambda data, version: dumps(
            {**VALID, "dataschema": f"urn:rapport:interaction.recorded:v{version}", "data": data}
        ),
        _json,
        st.integers(0, 3),
    ),
    st.builds(lambda text: text.encode("utf-8", errors="surrogatepass"), st.text(max_size=200)),
)


@settings(max_examples=400)
@given(data=_mutations, subject=st.sampled_from([SUBJECT, "rapport.ev.x.stage.changed", "x"]))
def test_the_reader_is_total(data: bytes, subject: str) -> None:
    """No bytes make it raise: whatever is stored is an event, a copy or a dead letter."""
    reading = read(StoredMessage(7, subject, data), None)
    assert isinstance(reading, Fresh | Dead)
    if isinstance(reading, Dead):
        assert reading.problem
        assert reading.seq == 7


def test_old_shapes_with_malformed_data_are_dead_not_errors() -> None:
    for data in ("str", 5, [1], None, {"channel": ["a"], "initiated_by": {}, "rating": "x"}):
        message = stored(3, {**VALID, "dataschema": "urn:x:v0", "data": data})
        reading = decode(message)
        assert isinstance(reading, Dead), data
        assert reading.invalid
        assert reading.reason.startswith("invalid event: ")


def test_an_event_filed_under_another_subject_is_dead() -> None:
    reading = decode(
        stored(1, VALID, subject=event_subject("other", "rapport.interaction.recorded"))
    )
    assert isinstance(reading, Dead)
    assert not reading.invalid
    assert reading.reason.startswith("subject mismatch: stored under rapport.ev.other.")


def test_the_first_copy_counts_and_later_ones_are_copies_or_conflicts() -> None:
    same_again = {**VALID, "source": "another-door", "time": VALID["time"].replace("+00:00", "Z")}
    other = event(
        "interaction.recorded", "r", {"kind": "call", "direction": "inbound"}, event_id="e-1"
    )
    readings = read_in_order(
        [decode(stored(seq, e)) for seq, e in ((4, VALID), (9, same_again), (12, other))], {}
    )
    first, copy, conflict = readings
    assert isinstance(first, Fresh)
    assert isinstance(copy, Copy)
    assert copy.original_seq == 4
    assert isinstance(conflict, Dead)
    assert conflict.reason == "conflict: id 'e-1' already used by another event at seq 4"


def test_what_an_index_knows_decides_for_an_id_read_before() -> None:
    event_digest = digest(decode(stored(1, VALID)).event)  # type: ignore[union-attr]
    assert isinstance(read(stored(20, VALID), (5, event_digest)), Copy)
    assert isinstance(read(stored(20, VALID), (5, b"another event")), Dead)
    # the index's first copy is this very message (or a later one): it is the first copy
    assert isinstance(read(stored(5, VALID), (5, event_digest)), Fresh)


def test_identity_ignores_how_an_event_is_spelled_but_not_what_it_says() -> None:
    def digest_of(envelope: dict[str, Any]) -> bytes:
        reading = decode(stored(1, envelope))
        assert isinstance(reading, Fresh)
        return reading.digest

    base = digest_of(VALID)
    assert digest_of({**VALID, "data": {**VALID["data"], "sentiment": 0.6, "notes": None}}) == base
    assert digest_of({**VALID, "actor": "someone", "ext": 1}) == base
    assert digest_of({**VALID, "data": {**VALID["data"], "sentiment": 0.5}}) != base
    assert digest_of({**VALID, "time": "2026-01-05T10:00:00+01:00"}) == base  # the same instant
    assert digest_of({**VALID, "time": "2026-01-05T10:00:00Z"}) != base
    assert digest_of({**VALID, "type": "rapport.interaction.recorded"}) == base

"""`rapport emit --file`: each line is sent as written, or refused with why, never a traceback."""

from __future__ import annotations

import orjson

from services.cli.emit import batches, envelope_of
from tests.factories import event

GOOD = orjson.dumps(event("interaction.recorded", "r", event_id="e-1"))


def test_a_line_is_sent_exactly_as_written() -> None:
    spaced = b'{ "big": 123456789012345678901234567890, ' + GOOD[1:]
    assert envelope_of(spaced) == spaced  # numbers and spelling kept: no re-encoding


def test_what_no_door_takes_is_refused_in_words() -> None:
    assert envelope_of(b"\xff\xfe{}") == "not valid UTF-8 (byte 0)"
    assert str(envelope_of(b"{not json")).startswith("not valid JSON")
    deep = b"[" * 5000 + b"]" * 5000
    assert envelope_of(b'{"a":' + deep + b"}") == "not valid JSON (nested too deeply)"
    assert envelope_of(b'"a string"') == (
        "must be a JSON object (one event) or an array of them (a batch)"
    )
    assert envelope_of(b"[" + GOOD + b"]") == (
        "a line holds one envelope (a JSON object), not an array"
    )


def test_batches_keep_line_numbers_and_collect_refusals() -> None:
    refused: list[tuple[int, str]] = []
    lines = [(1, GOOD), (2, b"\xff"), (3, GOOD), (4, b"{")]
    sent = list(batches(lines, 1, refused))
    assert sent == [[(1, GOOD)], [(3, GOOD)]]
    assert [number for number, _ in refused] == [2, 4]

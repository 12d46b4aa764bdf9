"""Turn raw bytes into a typed event, or into errors that name the field and the problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError

from events import records
from events.envelope import EVENT_TYPES
from events.envelope import Event as EventModel
from events.fields import (
    ATTRIBUTE_PATTERN,
    EVENT_ID_PATTERN,
    RELATIONSHIP_ID_PATTERN,
    SEARCH_PATTERN,
    SHORT_TEXT_PATTERN,
)
from events.upcasting import NewerShape, upcast

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from events.records import Event

# The public schema: what is refused, and the words of why (the structs read the rest).
EVENT_ADAPTER: TypeAdapter[EventModel] = TypeAdapter(EventModel)


class InvalidEvent(ValueError):
    """An event that breaks the contract; `problems` reads `field: problem`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Parsed:
    """A typed event, and the shape version it was stored in when that was not the current."""

    event: Event
    upcast_from: int | None


def parse_event(raw: bytes | str) -> Event:
    """Validate one JSON envelope (upcast to the current shape) into its typed event."""
    return parse_stored(raw).event


def parse_stored(raw: bytes | str) -> Parsed:
    """Like `parse_event`, saying also whether the event was stored in an older shape.

    Total: whatever the bytes, it returns or raises `InvalidEvent`, never anything else. The
    msgspec structs read an event in the usual spelling in one step; an event that names a
    shape (`dataschema`, however its key is spelled), or that the structs refuse, is read
    whole: upcast when older, then judged by the pydantic schema, which words every refusal.
    """
    event = _struct(raw)
    if event is not None and event.dataschema is None:
        return Parsed(event, None)  # the common path
    raw, upcast_from = _current_shape(raw)
    if upcast_from is not None:  # new bytes, in the current shape
        event = _struct(raw)
    if event is not None:
        return Parsed(event, upcast_from)
    # not in the usual spelling, or refused: pydantic has the last word
    try:
        model = EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc, raw)) from None
    return Parsed(records.from_model(model), upcast_from)


def _struct(raw: bytes | str) -> Event | None:
    """The event as the structs read it (None: they leave it to pydantic)."""
    try:
        return records.read(raw)
    except records.READ_ERRORS:
        return None


def _current_shape(raw: bytes | str) -> tuple[bytes | str, int | None]:
    """The bytes in the current shape, and the version they were upcast from (None: as is)."""
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw, None  # pydantic words what is wrong with it
    if not isinstance(envelope, dict):
        return raw, None
    try:
        envelope, upcast_from = upcast(envelope)
    except NewerShape as exc:
        raise InvalidEvent([str(exc)]) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # an older shape is read from outside too: whatever it holds, it is a refusal
        raise InvalidEvent(
            [f"dataschema: cannot read it as {envelope.get('dataschema')!r} ({exc})"]
        ) from None
    return (raw if upcast_from is None else orjson.dumps(envelope)), upcast_from


def describe(exc: ValidationError, raw: bytes | str | None = None) -> list[str]:
    """Word each validation error as `location: problem`."""
    return [_describe_one(error, raw) for error in exc.errors(include_url=False)]


def _describe_one(error: ErrorDetails, raw: bytes | str | None) -> str:
    kind = error["type"]
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in EVENT_TYPES:  # the union's tag is not a field
        loc = loc[1:]
    where = ".".join(loc) or "event"
    if kind == "json_invalid":
        if isinstance(raw, bytes):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"body: not valid UTF-8 ({exc.reason} at byte {exc.start})"
        detail = error.get("ctx", {}).get("error", error["msg"])
        if "recursion limit" in str(detail):
            return f"event: nested too deeply to read ({detail})"
        return f"body: not valid JSON ({detail})"
    if kind == "dict_type" and not loc:
        return f"event: must be a JSON object, got {_json_kind(error['input'])}"
    if kind == "union_tag_not_found":
        return "type: required field is missing (it names the event type)"
    if kind == "union_tag_invalid":
        got = error.get("ctx", {}).get("tag", "?")
        return f"type: unknown event type {got!r}; expected one of {', '.join(EVENT_TYPES)}"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind in _TIME_ERRORS or kind in _DATE_ERRORS:
        return f"{where}: {_word_time(kind, error.get('input'))}"
    if kind in {"greater_than_equal", "less_than"} and isinstance(error.get("input"), str):
        return f"{where}: {error['input'][:40]} is outside the accepted years 1900..2199"
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        worded = PATTERN_WORDS.get(pattern)
        got = error.get("input")
        if worded is not None:
            shown = f" (got {got[:60]!r})" if isinstance(got, str) else ""
            return f"{where}: {worded}{shown}"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if kind in {"literal_error", "enum", "string_pattern_mismatch"} and isinstance(got, str):
        message = f"{message} (got {got[:60]!r})"
    elif isinstance(got, bool | int | float) and kind not in {"missing"}:
        message = f"{message} (got {got!r})"
    return f"{where}: {message}"


PATTERN_WORDS = {
    SHORT_TEXT_PATTERN: "must hold some text (not only spaces) and no control characters",
    ATTRIBUTE_PATTERN: "must be text without control characters",
    RELATIONSHIP_ID_PATTERN: "must be 1-128 letters, digits, '_' or '-'",
    EVENT_ID_PATTERN: "must be 1-128 printable characters without spaces",
    SEARCH_PATTERN: "must hold a word to search for (a letter or digit) and no control characters",
}

_TIME_ERRORS = frozenset(
    {"datetime_type", "datetime_parsing", "datetime_from_date_parsing", "timezone_aware"}
)
_DATE_ERRORS = frozenset(
    {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
)


def _word_time(kind: str, got: Any) -> str:
    if kind in _DATE_ERRORS:
        if not isinstance(got, str):
            return f"must be a date written YYYY-MM-DD, got {_json_kind(got)}"
        return f"{got[:40]!r} is not a valid date written YYYY-MM-DD"
    if not isinstance(got, str):
        return f"must be an RFC 3339 date-time string, got {_json_kind(got)}"
    if kind == "timezone_aware":
        return f"{got[:40]!r} must carry an offset (Z or +hh:mm)"
    return (
        f"{got[:40]!r} is not an RFC 3339 date-time with an offset "
        "(e.g. 2026-11-02T15:04:05Z or 2026-11-02T16:04:05+01:00)"
    )


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number"}
    names[bool] = "a boolean"
    return names.get(type(value), "null" if value is None else type(value).__name__)

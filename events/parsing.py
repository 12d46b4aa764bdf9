"""Turn raw bytes into a typed event, or into errors that name the field and the problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from events.envelope import EVENT_TYPES, Event

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """An event that breaks the contract; `problems` reads `field: problem`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_event(raw: bytes | str) -> Event:
    """Validate one JSON envelope into its typed event."""
    try:
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc, raw)) from None


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
        return f"body: not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
    if kind == "dict_type" and not loc:
        return f"event: must be a JSON object, got {_json_kind(error['input'])}"
    if kind == "union_tag_not_found":
        return "type: required field is missing (it names the event type)"
    if kind == "union_tag_invalid":
        got = error.get("ctx", {}).get("tag", "?")
        return f"type: unknown event type {got!r}; expected one of {', '.join(EVENT_TYPES)}"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if kind in {"literal_error", "enum", "string_pattern_mismatch"} and isinstance(got, str):
        message = f"{message} (got {got[:60]!r})"
    elif isinstance(got, bool | int | float) and kind not in {"missing"}:
        message = f"{message} (got {got!r})"
    return f"{where}: {message}"


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number"}
    names[bool] = "a boolean"
    return names.get(type(value), "null" if value is None else type(value).__name__)

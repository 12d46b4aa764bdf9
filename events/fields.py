"""Field types of the contract: identifiers, RFC 3339 times, dates and bounded text.

Each type rejects with a message that names the problem in words; pydantic adds the
field's location, so an error reads `data.proposed_start: must be a date (YYYY-MM-DD)`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetPydanticSchema,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Identifiers: a relationship id is a NATS subject token, so no dots, spaces or wildcards.
RELATIONSHIP_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
EVENT_ID_PATTERN = r"^[!-~]{1,128}$"  # printable ASCII, no space

RelationshipId = Annotated[str, StringConstraints(pattern=RELATIONSHIP_ID_PATTERN)]
ProposalId = Annotated[str, StringConstraints(pattern=RELATIONSHIP_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]

# Where the contract names no bound, text is bounded anyway so one event cannot carry megabytes.
# A name, owner, title or tag holds some text (not only white space) and no control characters:
# checked by pydantic's own (Rust) regex, so no Python runs per field.
NO_CONTROL = r"[^\x00-\x1f\x7f]"
SHORT_TEXT_PATTERN = rf"^{NO_CONTROL}*[^\s\x00-\x1f\x7f]{NO_CONTROL}*$"
ATTRIBUTE_PATTERN = rf"^{NO_CONTROL}+$"
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=SHORT_TEXT_PATTERN)
]
LongText = Annotated[str, StringConstraints(max_length=4000)]
# What to search for: some letter or digit among at most 200 characters, no control characters
SEARCH_PATTERN = rf"^{NO_CONTROL}*\w{NO_CONTROL}*$"
SearchWords = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=SEARCH_PATTERN)
]
Tags = Annotated[tuple[ShortText, ...], Field(max_length=64)]

# Times outside these bounds are absurd for a relationship record (year 1, year 9999):
# they are refused instead of skewing every decay and every `as_of`.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _not_blank(value: str | None) -> str | None:
    return value if value is None or value.strip() else None


DATE_TIME_START_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]"
DATE_TIME_START = re.compile(DATE_TIME_START_PATTERN)


def _written_as_date_time(value: object) -> object:
    """A time is written as a date and a time: pydantic alone would read `"1700000000"` (or
    `"0.5"`) as seconds since 1970."""
    if isinstance(value, str):
        if not DATE_TIME_START.match(value):
            raise PydanticCustomError("datetime_parsing", "not an RFC 3339 date-time")
    elif not isinstance(value, datetime):
        raise PydanticCustomError("datetime_type", "not an RFC 3339 date-time string")
    return value


def _rfc3339_schema(_source: object, _handler: object) -> CoreSchema:
    """An aware date-time in 1900..2199, written as a date and a time, never epoch seconds.

    From JSON (every event and query on the hot path) the checks run in pydantic-core, with no
    Python call per value: a string, starting `YYYY-MM-DD` and `T` (or a space), then parsed
    and bounded. From Python objects a datetime is taken too. The error types are pydantic's
    own (`datetime_type`, `datetime_parsing`, `timezone_aware`, bounds), worded by
    `events.parsing.describe`.
    """
    bounded = core_schema.datetime_schema(
        tz_constraint="aware", ge=EARLIEST, lt=LATEST, strict=False
    )
    from_json = core_schema.chain_schema(
        [
            core_schema.custom_error_schema(
                core_schema.str_schema(strict=True),
                "datetime_type",
            ),
            core_schema.custom_error_schema(
                core_schema.str_schema(pattern=DATE_TIME_START_PATTERN),
                "datetime_parsing",
                custom_error_context={"error": "not an RFC 3339 date-time"},
            ),
            bounded,
        ]
    )
    from_python = core_schema.no_info_before_validator_function(_written_as_date_time, bounded)
    return core_schema.json_or_python_schema(
        json_schema=from_json,
        python_schema=from_python,
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda moment: moment, when_used="unless-none"
        ),
    )


# A string with an offset, never a number or a naive time, in 1900..2199.
Rfc3339Time = Annotated[
    AwareDatetime,
    GetPydanticSchema(_rfc3339_schema),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
CalendarDate = Annotated[date, Field(ge=EARLIEST.date(), lt=LATEST.date())]
# A reason of only spaces is no reason: the stage rules must see it as missing.
Reason = Annotated[LongText | None, AfterValidator(_not_blank)]

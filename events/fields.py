"""Field types of the contract: identifiers, RFC 3339 times, dates and bounded text.

Each type rejects with a message that names the problem in words; pydantic adds the
field's location, so an error reads `data.proposed_start: must be a date (YYYY-MM-DD)`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

# Identifiers: a relationship id is a NATS subject token, so no dots, spaces or wildcards.
RELATIONSHIP_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
EVENT_ID_PATTERN = r"^[!-~]{1,128}$"  # printable ASCII, no space

RelationshipId = Annotated[str, StringConstraints(pattern=RELATIONSHIP_ID_PATTERN)]
ProposalId = Annotated[str, StringConstraints(pattern=RELATIONSHIP_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]

# Where the contract names no bound, text is bounded anyway so one event cannot carry megabytes.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
LongText = Annotated[str, StringConstraints(max_length=4000)]
Tags = Annotated[tuple[ShortText, ...], Field(max_length=64)]

# Times outside these bounds are absurd for a relationship record (year 1, year 9999):
# they are refused instead of skewing every decay and every `as_of`.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_rfc3339(value: Any) -> datetime:
    """Parse an RFC 3339 date-time that carries an offset; refuse anything else."""
    if isinstance(value, datetime):
        moment = value
    elif not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 date-time string, got {type(value).__name__}")
    elif not _RFC3339.match(value):
        raise ValueError(
            f"{value[:40]!r} is not an RFC 3339 date-time with an offset "
            "(e.g. 2026-11-02T15:04:05Z or 2026-11-02T16:04:05+01:00)"
        )
    else:
        try:
            # fromisoformat takes at most 6 fraction digits; RFC 3339 allows more
            text = re.sub(r"(\.\d{6})\d+", r"\1", value)
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError as exc:
            raise ValueError(f"{value[:40]!r} is not a valid date-time: {exc}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry an offset (Z or +hh:mm)")
    if not EARLIEST <= moment < LATEST:
        raise ValueError(
            f"{moment.isoformat()} is outside the accepted range {EARLIEST.year}..{LATEST.year - 1}"
        )
    return moment


def parse_date(value: Any) -> date:
    """Parse a calendar date written YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"must be a date written YYYY-MM-DD, got {value!r:.40}")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date: {exc}") from None
    if not EARLIEST.year <= day.year < LATEST.year:
        raise ValueError(
            f"{value} is outside the accepted years {EARLIEST.year}..{LATEST.year - 1}"
        )
    return day


def _not_blank(value: str | None) -> str | None:
    return value if value is None or value.strip() else None


# `strict=False` lets the validator's own datetime pass the model's strict mode.
Rfc3339Time = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(parse_rfc3339)]
CalendarDate = Annotated[date, Field(strict=False), BeforeValidator(parse_date)]
# A reason of only spaces is no reason: the stage rules must see it as missing.
Reason = Annotated[LongText | None, AfterValidator(_not_blank)]

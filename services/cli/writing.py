"""How a command writes one event: checked here first (errors name the option), then ingested.

An event is validated with the contract's own parser before it is sent, so a bad `--email`
is refused as `--email: …`, not as the ingest's `data.counterpart.email: …`.
"""

from __future__ import annotations

import getpass
import re
import uuid
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import orjson

from events.envelope import new_envelope
from events.parsing import InvalidEvent, parse_event
from services.cli.asking import QueryFailed, ask_on
from services.config.failures import Failure
from services.ingest.client import request_ingest

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

SOURCE = "rapport-cli"
# how pydantic words a mismatch of the contract's email pattern (events.data.Email)
EMAIL_PATTERN_SAID = "String should match pattern '^[^@\\s]+@[^@\\s]+$'"
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LIST_QUERY = {"proposals": "pending"}  # the cheapest query of each projection (else `list`)


class Refused(Failure):
    """The event was refused, by the contract's parser here or by the ingest; says why."""


def event(
    event_type: str,
    relationship_id: str,
    data: dict[str, Any],
    *,
    at: datetime | str | None = None,
    event_id: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """An envelope from this command line: a new UUID, now, the user at this machine."""
    return new_envelope(
        event_type,
        relationship_id,
        data,
        event_id=event_id or str(uuid.uuid4()),
        time=at or datetime.now(UTC).replace(microsecond=0),
        source=SOURCE,
        actor=actor or getpass.getuser(),
    )


def problems(envelope: dict[str, Any], options: dict[str, str]) -> list[str]:
    """What breaks the contract in an envelope, each worded with the option that set it."""
    try:
        parse_event(orjson.dumps(envelope))
    except InvalidEvent as exc:
        return [_worded(problem, options) for problem in exc.problems]
    return []


def _worded(problem: str, options: dict[str, str]) -> str:
    """`data.counterpart.email: …` as `--email: …` when an option set that field."""
    where, sep, why = problem.partition(": ")
    why = why.replace(EMAIL_PATTERN_SAID, "must be an email address (name@domain)")
    for field in sorted(options, key=len, reverse=True):
        if where == field or where.startswith(f"{field}."):
            return f"{options[field]}: {why}" if sep else problem
    return problem


def parse_time(text: str, option: str) -> datetime:
    """An RFC 3339 time with an offset, or a date (noon UTC that day); else `Refused`."""
    try:
        if DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), time(12), UTC)
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Refused(
            f"{option}: {text!r} is not a time: give RFC 3339 with an offset "
            "(2026-11-02T15:04:05Z) or a date (2026-11-02)"
        )
    return parsed


async def send(nc: NATS, settings: Settings, envelope: dict[str, Any]) -> dict[str, Any]:
    """Ingest one event; its `accepted` entry (`seq`, maybe `duplicate`), or `Refused`."""
    reply = await request_ingest(nc, orjson.dumps(envelope), settings.publish_timeout * 2)
    if reply.get("accepted"):
        entry: dict[str, Any] = reply["accepted"][0]
        return entry
    if reply.get("rejected"):
        raise Refused(f"rejected: {reply['rejected'][0]['error']}")
    error = reply.get("error") or {}
    raise Refused(f"rejected: {error.get('message', reply)}")


async def caught_up(
    nc: NATS, settings: Settings, projection: str, seq: int, wait_ms: int = 2000
) -> bool:
    """Wait until a projection has applied `seq`, so the next command sees the write."""
    payload = {"limit": 1, "min_seq": seq, "wait_ms": wait_ms}
    try:
        await ask_on(nc, settings, projection, LIST_QUERY.get(projection, "list"), payload)
    except QueryFailed:
        return False  # written all the same: it shows once the projection catches up
    return True

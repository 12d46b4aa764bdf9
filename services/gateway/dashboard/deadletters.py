"""The dead letters: what a projection could not apply, with why, newest first.

Read from `RAPPORT_DLQ` with direct gets (the gateway's role may read both streams), a
window at a time from the newest sequence back: no consumer is made. Each letter is the
original bytes under `rapport.dlq.<projection>.<seq>` with the headers the projection's
applier wrote (`Rapport-Reason`, `Rapport-Seq`, `Rapport-Projection`, `Rapport-Subject`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from nats.errors import Error as NatsError

from events.fields import RELATIONSHIP_ID_PATTERN
from events.subjects import DLQ_FILTER, DLQ_STREAM, SubjectError, dlq_filter, parse_event_subject
from services.config.roster import PROJECTIONS
from services.gateway.dashboard.answers import Answer, sentence
from services.gateway.dashboard.listing import whole
from services.gateway.dashboard.rendering import render
from services.gateway.params import MAX_SEQ
from services.nats.log_reader import DirectReader, LogReadError

if TYPE_CHECKING:
    from events.reading import StoredMessage

PAGE = 25
WINDOW = 200  # sequences read back at a time
SCANNED_AT_MOST = 10_000  # sequences one page may read through before it offers "older"
PREVIEW = 300  # characters of the original bytes shown
_RELATIONSHIP_ID = re.compile(RELATIONSHIP_ID_PATTERN, re.ASCII)
_NANOSECONDS = re.compile(r"(\.\d{6})\d+")

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter as the page shows it."""

    seq: int  # in RAPPORT_DLQ
    stored_at: datetime | None
    projection: str
    reason: str
    log_seq: int | None  # in RAPPORT_EVENTS
    subject: str  # where the original was stored
    relationship_id: str | None
    event_type: str | None
    event_id: str | None
    preview: str


def dead_letter(message: StoredMessage) -> DeadLetter:
    """What a stored dead letter says (total: any headers, any bytes)."""
    headers = message.headers
    subject = headers.get("Rapport-Subject", "")
    payload: Any = None
    try:
        payload = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        pass
    fields = payload if isinstance(payload, dict) else {}
    return DeadLetter(
        seq=message.seq,
        stored_at=_stored_at(headers.get("Nats-Time-Stamp")),
        # the subject says it too: rapport.dlq.<projection>.<seq>
        projection=headers.get("Rapport-Projection") or "".join(message.subject.split(".")[2:3]),
        reason=headers.get("Rapport-Reason", "") or "no reason recorded",
        log_seq=int(seq) if (seq := headers.get("Rapport-Seq", "")).isdigit() else None,
        subject=subject,
        relationship_id=_relationship(subject, fields.get("subject")),
        event_type=_short(fields.get("type")),
        event_id=_short(fields.get("id")),
        preview=message.data[: PREVIEW * 4].decode("utf-8", errors="replace")[:PREVIEW],
    )


def _stored_at(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:  # NATS writes nanoseconds: Python reads six digits
        return datetime.fromisoformat(_NANOSECONDS.sub(r"\1", stamp))
    except ValueError:
        return None


def _relationship(subject: str, named: object) -> str | None:
    try:
        found, _ = parse_event_subject(subject)
    except SubjectError:
        found = named if isinstance(named, str) else ""
    return found if _RELATIONSHIP_ID.fullmatch(found) else None


def _short(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


async def newest(request: Request, projection: str | None, before: int | None) -> Answer:
    """A page of dead letters (of one projection), newest first, below sequence `before`."""
    settings = request.app.state.settings
    nc = request.app.state.nc
    try:
        info = await nc.jetstream(timeout=settings.request_timeout).stream_info(DLQ_STREAM)
    except NatsError as exc:
        why = f"stream {DLQ_STREAM} could not be read ({exc.__class__.__name__}: {exc})"
        return Answer(problem=sentence(why), code="unavailable")
    first, last = max(1, info.state.first_seq), info.state.last_seq
    upper = min(last, before - 1) if before is not None else last
    reader = DirectReader(nc, stream=DLQ_STREAM, timeout=settings.request_timeout * 2)
    subject_filter = dlq_filter(projection) if projection else DLQ_FILTER
    found: list[StoredMessage] = []
    try:
        scanned = 0
        while info.state.messages and upper >= first and len(found) <= PAGE:
            if scanned >= SCANNED_AT_MOST:
                break
            lower = max(first, upper - WINDOW + 1)
            page, _ = await reader.read_page(subject_filter, lower, upper - lower + 1)
            found.extend(reversed([message for message in page if message.seq <= upper]))
            scanned += upper - lower + 1
            upper = lower - 1
    except (LogReadError, NatsError) as exc:
        return Answer(problem=sentence(f"the dead letters could not be read: {exc}"))
    finally:
        await reader.close()
    letters = [dead_letter(message) for message in found[:PAGE]]
    older: int | None = None
    if len(found) > PAGE:
        older = letters[-1].seq
    elif info.state.messages and upper >= first:
        older = upper + 1
    return Answer(data={"letters": letters, "older": older, "total": info.state.messages})


@router.get("/dead-letters", response_class=HTMLResponse, name="dead_letters")
async def dead_letters(
    request: Request, projection: str | None = None, before: str | None = None
) -> Response:
    """Every dead letter, newest first, with why; of one projection when asked."""
    chosen = projection if projection in PROJECTIONS else None
    below = whole(before, MAX_SEQ)
    answer = await newest(request, chosen, below)
    return render(
        request,
        "dead_letters.html",
        {
            "projection": chosen,
            "projections": PROJECTIONS,
            "letters": answer,
            "before": below,
        },
    )

"""The dashboard's reads: NATS queries to the projection services, and a relationship's log.

Through the one `ask` (services.queries.ask), but a failure is a sentence for the page instead
of an error response: one service down greys out one panel, not the whole page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nats.errors import Error as NatsError

from events.subjects import AUDIT_SUBJECT, query_subject
from services.nats.log_reader import DirectReader, LogReadError
from services.queries.ask import ask as ask_projection
from services.queries.history import identity_over_nats, newest_page

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fastapi import Request


STAGE_GET = query_subject("stage", "get")
STAGE_LIST = query_subject("stage", "list")
OWNERS = query_subject("stage", "owners")
FUNNEL = query_subject("stage", "funnel")
AUDIT = AUDIT_SUBJECT  # the contract's subject, answered by the stage service
HEALTH_GET = query_subject("health", "get")
HEALTH_LIST = query_subject("health", "list")
HEALTH_SUMMARY = query_subject("health", "summary")
HEALTH_CURVE = query_subject("health", "curve")
PROPOSALS = query_subject("proposals", "pending")


@dataclass(frozen=True, slots=True)
class Answer:
    """What one panel of a page shows: its data, or a sentence saying why there is none."""

    data: Any = None
    problem: str | None = None
    code: str | None = None  # the contract's error code, when there is no data

    @property
    def ok(self) -> bool:
        """The service answered with data."""
        return self.problem is None


def sentence(text: str) -> str:
    """A problem as a sentence on a page: capital first, full stop last."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


async def ask(request: Request, subject: str, payload: dict[str, Any]) -> Answer:
    """One query over NATS, through the one `ask`; a failure becomes a sentence."""
    timeout: float = request.app.state.settings.request_timeout
    answer = await ask_projection(request.app.state.nc, subject, payload, within=timeout)
    if answer.ok:
        return Answer(data=answer.data)
    return Answer(problem=sentence(answer.problem or "no answer"), code=answer.code)


async def stored_events(
    request: Request,
    relationship_id: str,
    before: int | None,
    limit: int,
    event_type: str | None = None,
) -> Answer:
    """A page of a relationship's newest stored messages (of one type, when given), read
    through the one reader (a `NewestPage`)."""
    settings = request.app.state.settings
    nc = request.app.state.nc
    reader = DirectReader(nc, timeout=settings.request_timeout * 2)
    try:
        first_copies = identity_over_nats(nc, settings.request_timeout)
        page = await newest_page(reader, relationship_id, before, limit, first_copies, event_type)
    except (LogReadError, NatsError) as exc:
        return Answer(
            problem=sentence(f"the event log could not be read: {exc}"), code="unavailable"
        )
    finally:
        await reader.close()
    return Answer(data=page)


async def owners(request: Request) -> list[str]:
    """Everyone who holds a relationship (`stage.owners`), in order; none when unknown."""
    answer = await ask(request, OWNERS, {})
    return list(answer.data["owners"]) if answer.ok else []


async def names(request: Request, relationship_ids: Iterable[str]) -> dict[str, str]:
    """The counterparts' names of these relationships (`stage.get` each), where known."""
    wanted = sorted(set(relationship_ids))
    answers = await asyncio.gather(
        *(ask(request, STAGE_GET, {"relationship_id": rel}) for rel in wanted)
    )
    found = {}
    for rel, answer in zip(wanted, answers, strict=True):
        name = (answer.data.get("counterpart") or {}).get("name") if answer.ok else None
        if name:
            found[rel] = str(name)
    return found

"""The dashboard's reads: NATS queries to the projection services, and a relationship's log.

Like the HTTP API's `ask`, but a failure is an `Answer` with a sentence for the page instead
of an error response: one service down greys out one panel, not the whole page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from services.nats.log_reader import DirectReader, LogReadError
from services.queries.history import identity_over_nats, read_relationship

if TYPE_CHECKING:
    from fastapi import Request
    from nats.aio.client import Client as NATS

    from events.reading import Reading


@dataclass(frozen=True, slots=True)
class Answer:
    """A query's reply, or why there is none (`code` is the contract's error code)."""

    data: Any = None
    problem: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        """The service answered with data."""
        return self.problem is None


def service_of(subject: str) -> str:
    """The service answering a query subject (`rapport.q.audit` is the stage service's)."""
    parts = subject.split(".")
    return "stage" if parts[2:] == ["audit"] else parts[2]


async def ask(request: Request, subject: str, payload: dict[str, Any]) -> Answer:
    """One query over NATS; no answer or an error reply becomes a readable `problem`."""
    nc: NATS = request.app.state.nc
    timeout: float = request.app.state.settings.request_timeout
    service = service_of(subject)
    body = orjson.dumps({key: value for key, value in payload.items() if value is not None})
    try:
        message = await nc.request(subject, body, timeout=timeout)
    except NoRespondersError:
        return Answer(
            problem=f"The {service} service is not running: nobody answers {subject}.",
            code="unavailable",
        )
    except NatsTimeout:
        return Answer(
            problem=f"The {service} service did not answer {subject} within {timeout:g} s.",
            code="unavailable",
        )
    except NatsError as exc:  # e.g. the connection to NATS is closed
        return Answer(problem=f"NATS is not reachable ({exc}).", code="unavailable")
    reply = orjson.loads(message.data)
    error = reply.get("error") if isinstance(reply, dict) else None
    if error:
        code = str(error.get("code", "unavailable"))
        return Answer(problem=str(error.get("message", code)), code=code)
    return Answer(data=reply)


async def stored_events(request: Request, relationship_id: str) -> Answer:
    """A relationship's stored messages, read (oldest first), through the one reader."""
    settings = request.app.state.settings
    nc = request.app.state.nc
    reader = DirectReader(nc, timeout=settings.request_timeout * 2)
    try:
        first_copies = identity_over_nats(nc, settings.request_timeout)
        events: list[Reading] = await read_relationship(reader, relationship_id, first_copies)
    except (LogReadError, NatsError) as exc:
        return Answer(problem=f"The event log could not be read: {exc}", code="unavailable")
    finally:
        await reader.close()
    return Answer(data=events)

"""How a command asks the projections: over one connection, whole lists, names, owners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from events.subjects import query_subject
from services.cli.common import console, run
from services.cli.tables import holds, name_of, owners_hint
from services.config.failures import Failure

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

T = TypeVar("T")
PAGE = 1000  # items asked for at once when a command reads a whole list
MAX_LIMIT = 1000  # the most items one query answers
COUNT_CAP = 5000  # "N more" counts at most this many
NAMES_AT_ONCE = 64  # name look-ups in flight together


class QueryFailed(Failure):
    """A query came back with an error or not at all; `code` is the contract's error code."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[NATS]:
    """One NATS connection for the queries of one command."""
    from services.nats.connection import connect

    nc = await connect(settings, "cli", retry_forever=False)
    try:
        yield nc
    finally:
        await nc.close()


async def ask_on(
    nc: NATS,
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Any:
    """One query on an open connection, through the one `ask`; errors become `QueryFailed`."""
    from services.queries.ask import ask as ask_projection

    subject = subject or query_subject(projection, name)
    answer = await ask_projection(nc, subject, payload, within=settings.request_timeout * 2)
    if answer.ok:
        return answer.data
    if answer.data is None:  # nobody answered
        raise QueryFailed(f"{answer.problem}; is `rapport up` running?", answer.code)
    raise QueryFailed(f"{answer.code}: {answer.problem}", answer.code)


async def ask(
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Any:
    """One query to a projection service on a connection of its own."""
    async with connected(settings) as nc:
        return await ask_on(nc, settings, projection, name, payload, subject)


async def every_item(
    nc: NATS,
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    *,
    cursor: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every item of a paged list, following `next_cursor` from `cursor` to the end."""
    while True:
        page = {**payload, "limit": PAGE, "cursor": cursor}
        reply = await ask_on(nc, settings, projection, name, page)
        for item in reply["items"]:
            yield item
        cursor = reply.get("next_cursor")
        if not cursor:
            return


async def count_from(
    nc: NATS, settings: Settings, projection: str, name: str, payload: dict[str, Any], cursor: str
) -> str:
    """How many items a list holds from `cursor` on, in words ("12", or "5000+" past a cap)."""
    count = 0
    async for _ in every_item(nc, settings, projection, name, payload, cursor=cursor):
        count += 1
        if count >= COUNT_CAP:
            return f"{COUNT_CAP}+"
    return str(count)


async def owners_of(nc: NATS, settings: Settings) -> dict[str, int]:
    """Who holds relationships, and how many each (`stage.owners`)."""
    reply = await ask_on(nc, settings, "stage", "owners", {})
    return dict(reply["owners"])


async def names_of(nc: NATS, settings: Settings, ids: Iterable[str]) -> dict[str, str]:
    """The counterpart's name of each relationship (asked together; unknown ones left out)."""

    async def one(relationship_id: str) -> tuple[str, str | None]:
        try:
            view = await ask_on(nc, settings, "stage", "get", {"relationship_id": relationship_id})
        except QueryFailed as exc:
            if exc.code == "not_found":
                return relationship_id, None
            raise
        return relationship_id, name_of(view)

    wanted = sorted(set(ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), NAMES_AT_ONCE):
        chunk = wanted[start : start + NAMES_AT_ONCE]
        for relationship_id, name in await asyncio.gather(*(one(i) for i in chunk)):
            if name is not None:
                found[relationship_id] = name
    return found


def query(
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Any:
    """`ask`, run to completion, failing the command with the reason."""
    return run_query(ask(settings, projection, name, payload, subject))


def run_query(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine of queries; a failed one fails the command with its reason (`run`)."""
    result: T = run(coroutine)
    return result


def emit_json(payload: Any) -> None:
    """Print JSON for scripts."""
    console.print_json(orjson.dumps(payload).decode())


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a list, and what to say under it."""

    reply: dict[str, Any]
    owner: str | None  # the owner filter asked for
    owners: dict[str, int] | None  # who does hold relationships, when that owner holds none
    more: str | None  # how many items follow the page, in words

    @property
    def items(self) -> list[dict[str, Any]]:
        """The page's items."""
        return list(self.reply["items"])

    def enough(self, shown: int) -> int:
        """A `--limit` that would show every item (at most the largest a query takes)."""
        more = int(self.more.rstrip("+")) if self.more else 0
        return min(MAX_LIMIT, shown + more)

    def notes(self, what: str, next_step: str) -> list[str]:
        """The lines under the table: why it is empty, or how many more there are."""
        if self.owner and self.owners is not None:
            return [owners_hint(self.owner, self.owners, what)]
        if self.more is not None:
            return [f"{self.more} more — {next_step}"]
        return []


async def listing(
    settings: Settings, projection: str, name: str, payload: dict[str, Any]
) -> Listing:
    """A page of a list; the owners when an owner filter found nothing; how many follow."""
    async with connected(settings) as nc:
        reply = await ask_on(nc, settings, projection, name, payload)
        owner = payload.get("owner")
        owners = None
        if owner and not reply["items"] and not payload.get("cursor"):
            known = await owners_of(nc, settings)
            owners = None if holds(owner, known) else known
        more = None
        if reply.get("next_cursor"):
            more = await count_from(nc, settings, projection, name, payload, reply["next_cursor"])
    return Listing(reply, owner, owners, more)

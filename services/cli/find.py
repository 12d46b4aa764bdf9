"""`rapport find WORDS`: relationships by their counterpart's name, organization, email or tags.

The same search says who `WHO` is for `rapport log` (an id, or words that match one
relationship), and whether an id exists before the CLI writes to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from events.fields import RELATIONSHIP_ID_PATTERN
from services.cli.asking import (
    Listing,
    QueryFailed,
    ask_on,
    emit_json,
    listing,
    run_query,
)
from services.cli.common import (
    DataDir,
    Json,
    Limit,
    NatsUrl,
    Owner,
    app,
    console,
    fail,
    load_settings,
)
from services.cli.tables import (
    Wide,
    day,
    id_column,
    name_column,
    name_of,
    owner_column,
    owner_text,
    print_table,
    short_column,
    table,
    text_column,
)
from services.config.settings import Settings

RELATIONSHIP_ID = re.compile(RELATIONSHIP_ID_PATTERN)
MATCHES_SHOWN = 10  # an ambiguous WHO lists at most this many matches


class SearchRefused(Exception):
    """The words cannot be searched for; the message says why (as the stage service said)."""


def refusal(exc: QueryFailed) -> str | None:
    """Why the stage service refused the search words (`q`), or None for another failure."""
    if exc.code == "invalid" and "q: " in str(exc):
        return str(exc).split("q: ", 1)[1]
    return None


@dataclass(frozen=True, slots=True)
class Who:
    """What `WHO` names: exactly one relationship, several, or none."""

    matches: list[dict[str, Any]]
    more: bool  # more matches than listed
    by_id: bool  # WHO was the id of a relationship
    refused: str | None = None  # why WHO's words cannot be searched for

    @property
    def one(self) -> dict[str, Any] | None:
        """The relationship, when WHO names exactly one."""
        return self.matches[0] if len(self.matches) == 1 and not self.more else None


async def exists(nc: Any, settings: Settings, relationship_id: str) -> dict[str, Any] | None:
    """The stage view of a relationship, or None when no event names it yet."""
    try:
        view: dict[str, Any] = await ask_on(
            nc, settings, "stage", "get", {"relationship_id": relationship_id}
        )
    except QueryFailed as exc:
        if exc.code == "not_found":
            return None
        raise
    return view


async def search(
    nc: Any, settings: Settings, words: str, limit: int, owner: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Relationships whose counterpart matches the words; `SearchRefused` when none can."""
    try:
        reply = await ask_on(
            nc, settings, "stage", "list", {"q": words, "limit": limit, "owner": owner}
        )
    except QueryFailed as exc:
        why = refusal(exc)
        if why is not None:
            raise SearchRefused(why) from None
        raise
    return list(reply["items"]), reply.get("next_cursor")


async def resolve(nc: Any, settings: Settings, who: str) -> Who:
    """The relationship WHO names: by id first, else by its words."""
    if RELATIONSHIP_ID.match(who):
        view = await exists(nc, settings, who)
        if view is not None:
            return Who([view], more=False, by_id=True)
    try:
        items, next_cursor = await search(nc, settings, who, MATCHES_SHOWN)
    except SearchRefused as exc:
        return Who([], more=False, by_id=False, refused=str(exc))
    return Who(items, more=next_cursor is not None, by_id=False)


def matches_table(items: list[dict[str, Any]], wide: bool = False) -> Table:
    """Relationships as `find` lists them: id, name, organization, stage, owner."""
    columns = [id_column(), name_column(items), text_column("organization"), short_column("stage")]
    columns.append(owner_column(items, wide=wide))
    if wide:
        columns += [text_column("email"), text_column("tags"), short_column("since")]
    rows = table(*columns)
    for item in items:
        counterpart = item.get("counterpart") or {}
        cells = [
            item["relationship_id"],
            name_of(item),
            counterpart.get("organization") or "-",
            item["stage"],
            owner_text(item.get("owner"), wide=wide),
        ]
        if wide:
            cells += [
                counterpart.get("email") or "-",
                ", ".join(counterpart.get("tags") or []) or "-",
                day(item.get("since")),
            ]
        rows.add_row(*cells)
    return rows


@app.command()
def find(
    words: Annotated[
        list[str], typer.Argument(help="the start of a name, organization, email or tag")
    ],
    owner: Owner = None,
    limit: Limit = 20,
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Find relationships: every word starts a word of the name, organization, email or tags."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    query = " ".join(words)
    found = run_query(_find(settings, {"q": query, "owner": owner, "limit": limit}))
    if isinstance(found, str):
        fail(f"WORDS: {found}", 2)
    if as_json:
        emit_json(found.reply)
        return
    if found.items:
        print_table(console, matches_table(found.items, wide), wide)
    elif not found.owners:
        console.print(f"Nobody matches “{query}”. Open a relationship: rapport new NAME")
    whose = f" --owner {owner}" if owner else ""
    next_step = f"rapport find {query} --limit {found.enough(limit)}{whose}"
    for line in found.notes("relationships", next_step):
        console.print(line, highlight=False)


async def _find(settings: Settings, payload: dict[str, Any]) -> Listing | str:
    """The matches, or why the words cannot be searched for."""
    try:
        return await listing(settings, "stage", "list", payload)
    except QueryFailed as exc:
        why = refusal(exc)
        if why is None:
            raise
        return why

"""`rapport export relationships|due|proposals`: every item, page after page, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer

from events.stages import Stage
from services.cli.advice import action_for, first_to_fix, why
from services.cli.asking import (
    MAX_LIMIT,
    QueryFailed,
    ask_on,
    connected,
    every_item,
    names_of,
    run_query,
)
from services.cli.common import DataDir, Json, NatsUrl, Owner, app, err_console, fail, load_settings
from services.cli.find import refusal
from services.config.settings import Settings

What = Literal["relationships", "due", "proposals"]
COLUMNS: dict[str, tuple[str, ...]] = {
    "relationships": (
        "relationship_id", "name", "kind", "organization", "email", "tags", "stage", "level",
        "since", "owner", "implicit", "opened_at",
    ),
    "due": (
        "relationship_id", "name", "stage", "owner", "score", "band", "next_touch_due", "why",
        "action",
    ),
    "proposals": (
        "proposal_id", "relationship_id", "name", "title", "status", "age_days", "readiness",
        "first_to_fix", "owner",
    ),
}  # fmt: skip


def relationship_row(item: dict[str, Any]) -> dict[str, Any]:
    """A stage item, its counterpart flattened."""
    counterpart = item.get("counterpart") or {}
    return {
        **item,
        "name": counterpart.get("name"),
        "kind": counterpart.get("kind"),
        "organization": counterpart.get("organization"),
        "email": counterpart.get("email"),
        "tags": ";".join(counterpart.get("tags") or []),
    }


def due_row(item: dict[str, Any]) -> dict[str, Any]:
    """A health item with its first reason and the action that answers it."""
    return {**item, "why": why(item), "action": action_for(item)}


def proposal_row(item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A proposal with its partner's name, readiness score and first thing to fix."""
    return {
        **item,
        "name": names.get(item["relationship_id"]),
        "readiness": item["readiness"]["score"],
        "first_to_fix": first_to_fix(item["readiness"]) or "",
    }


async def gather(settings: Settings, what: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of the list asked for, as rows (JSON keeps what the rows add)."""
    async with connected(settings) as nc:
        if what == "relationships":
            found = every_item(nc, settings, "stage", "list", filters)
            return [relationship_row(item) async for item in found]
        if what == "due":
            found = every_item(nc, settings, "health", "list", filters)
            return [due_row(item) async for item in found]
        reply = await ask_on(nc, settings, "proposals", "pending", {**filters, "limit": MAX_LIMIT})
        names = await names_of(nc, settings, (i["relationship_id"] for i in reply["items"]))
        return [proposal_row(item, names) for item in reply["items"]]


async def searched(settings: Settings, what: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """`gather`, with search words the stage service cannot take refused as `--search: …`."""
    try:
        return await gather(settings, what, filters)
    except QueryFailed as exc:
        problem = refusal(exc)
        if problem is None:
            raise
        fail(f"--search: {problem}", 2)


def as_csv(what: str, rows: list[dict[str, Any]]) -> str:
    """Rows as CSV with a header row; empty cells for what a row lacks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS[what])
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in COLUMNS[what]])
    return buffer.getvalue()


def cell(value: Any) -> str:
    """A CSV cell: empty for nothing, `true`/`false` for a flag (as in the JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def filters_for(
    what: str, owner: str | None, stage: Stage | None, search: str | None, status: str | None
) -> dict[str, Any]:
    """The query's filters; a filter the list does not take is refused in words."""
    if stage is not None and what != "relationships":
        fail("--stage: only `export relationships` takes it", 2)
    if search is not None and what != "relationships":
        fail("--search: only `export relationships` takes it", 2)
    if status is not None and what != "proposals":
        fail("--status: only `export proposals` takes it", 2)
    filters: dict[str, Any] = {"owner": owner}
    if what == "relationships":
        filters.update(stage=stage.value if stage else None, q=search)
    elif what == "due":
        filters["due_before"] = datetime.now(UTC).isoformat()
    else:
        filters["status"] = status or "pending"
    return filters


@app.command()
def export(
    what: Annotated[What, typer.Argument(help="relationships, due or proposals")],
    fmt: Annotated[Literal["csv", "json"], typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: standard output)")
    ] = None,
    owner: Owner = None,
    stage: Annotated[
        Stage | None, typer.Option("--stage", help="relationships at this stage")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="relationships matching these words")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="proposals: pending, drafted, … or all")
    ] = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write a whole list out: relationships, who is due, or proposals (every page)."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    filters = filters_for(what, owner, stage, search, status)
    rows = run_query(searched(settings, what, filters))
    if as_json or fmt == "json":
        text = orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        text = as_csv(what, rows)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--output: cannot write {output} ({exc.strerror})", 2)
    err_console.print(f"wrote {len(rows)} {what} to {output}", highlight=False)

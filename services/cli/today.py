"""`rapport today`: who to touch today or this week, why, and the one thing that fixes it.

Yours by default (`rapport config owner EMAIL`, or `--owner`), everyone's with `--all`.
Closed relationships are never due: the health projection expects nothing of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from services.cli.advice import action_for, why
from services.cli.asking import emit_json, listing, run_query
from services.cli.common import DataDir, Json, Limit, NatsUrl, app, console, fail, load_settings
from services.cli.config import configured_owner
from services.cli.tables import (
    Wide,
    id_column,
    name_column,
    owner_text,
    print_table,
    short_column,
    table,
    text_column,
)

WEEK = timedelta(days=7)


def when(due: datetime, now: datetime) -> str:
    """When a touch is due, in a word: `12d late`, `today`, `in 3d`."""
    if due <= now:
        late = (now - due).days
        return f"{late}d late" if late else "today"
    ahead = (due - now).days
    return f"in {ahead}d" if ahead else "today"


def today_table(items: list[dict[str, Any]], now: datetime, wide: bool) -> Table:
    """Due relationships: when, who (id and name), why, and what to do."""
    if not wide:
        return compact_table(items, now)
    columns = [short_column("when"), id_column(), name_column(items)]
    columns += [short_column("stage"), text_column("owner"), short_column("health")]
    rows = table(*columns, text_column("why → do", ratio=2))
    for item in items:
        due = datetime.fromisoformat(item["next_touch_due"])
        cells = [when(due, now), item["relationship_id"], item.get("name") or "-"]
        cells += [item["stage"], owner_text(item.get("owner"), wide=True)]
        cells.append(f"{item['score']} {item['band']}")
        rows.add_row(*cells, f"{why(item)}\n[bold]→ {action_for(item)}[/]")
    return rows


def compact_table(items: list[dict[str, Any]], now: datetime) -> Table:
    """Each due relationship in three lines: id and name; why; what to do (fits 80 columns)."""
    rows = table(short_column("when"), text_column("who, why → what to do"))
    for item in items:
        due = datetime.fromisoformat(item["next_touch_due"])
        # the id never wraps: it leads its own line, whole, with the name after it
        who = f"[bold]{item['relationship_id']}[/]  {item.get('name') or '-'}"
        rows.add_row(when(due, now), f"{who}\n{why(item)}\n→ {action_for(item)}")
    return rows


def as_json(items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The items with the action and when, for scripts."""
    return [
        {
            **item,
            "when": when(datetime.fromisoformat(item["next_touch_due"]), now),
            "action": action_for(item),
        }
        for item in items
    ]


@app.command()
def today(
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="whose (default: yours, `rapport config owner EMAIL`)"),
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="everyone's, not only yours")] = False,
    limit: Limit = 20,
    wide: Wide = False,
    json_output: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """What to do today: who is due for a touch this week, most overdue first, and how."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir, owner=owner)
    if everyone and owner:
        fail("--all and --owner: give one of them", 2)
    whose = None if everyone else configured_owner(settings)
    now = datetime.now(UTC)
    payload = {"due_before": (now + WEEK).isoformat(), "owner": whose, "limit": limit}
    found = run_query(listing(settings, "health", "list", payload))
    if json_output:
        reply = {**found.reply, "owner": whose, "items": as_json(found.items, now)}
        emit_json({**reply, "more": found.more})
        return
    heading = f"Today, for {whose}" if whose else "Today, for everyone"
    console.print(f"[bold]{heading}[/]: {len(found.items)} to touch this week", highlight=False)
    if found.items:
        print_table(console, today_table(found.items, now, wide), wide)
        console.print("[dim]log a touch: rapport log ID KIND --in|--out|--mutual --note …[/]")
    elif not found.owners:
        console.print("Nothing is due this week.")
    said = " --all" if everyone else (f" --owner {owner}" if owner else "")
    next_step = f"rapport today --limit {found.enough(limit)}{said}"
    for line in found.notes("relationships", next_step):
        console.print(line, highlight=False)
    if not whose and not everyone:
        console.print("[dim]yours only: rapport config owner EMAIL[/]")

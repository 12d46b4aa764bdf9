"""`rapport show|list|funnel|due|proposals`: the projections as tables (or `--json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, get_args

import typer
from rich.panel import Panel
from rich.table import Table

from events.queries import Band
from events.stages import Stage
from services.cli.advice import first_to_fix, why
from services.cli.asking import (
    ask_on,
    connected,
    emit_json,
    listing,
    names_of,
    owners_of,
    query,
    run_query,
)
from services.cli.common import (
    AsOfOption,
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
    holds,
    id_column,
    name_column,
    name_of,
    owner_column,
    owner_text,
    owners_hint,
    print_table,
    short_column,
    table,
    text_column,
)
from services.config.settings import Settings

BANDS: tuple[str, ...] = get_args(Band)
BAND_STYLE = {
    "thriving": "bold green",
    "healthy": "green",
    "cooling": "yellow",
    "at-risk": "red",
    "dormant": "bold red",
}


WHO_WIDTH = 24  # the name and title of a proposal's partner, in the compact layout


def score_text(item: dict[str, Any]) -> str:
    """A score coloured by its band."""
    return f"[{BAND_STYLE.get(item['band'], '')}]{item['score']} {item['band']}[/]"


@app.command()
def show(
    relationship_id: Annotated[str, typer.Argument(help="relationship id")],
    as_of: AsOfOption = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """One relationship: stage, health with its reasons, and open proposals."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    request = {"relationship_id": relationship_id, "as_of": as_of}
    stage = query(settings, "stage", "get", request)
    health = query(settings, "health", "get", request)
    proposals = query(
        settings, "proposals", "pending", {"relationship_id": relationship_id, "as_of": as_of}
    )
    if as_json:
        emit_json({"stage": stage, "health": health, "proposals": proposals["items"]})
        return
    counterpart = stage.get("counterpart") or {}
    title = f"[bold]{relationship_id}[/]  {counterpart.get('name', '')}"
    lines = [
        f"stage      [bold]{stage['stage']}[/] ({stage['level']}) since {day(stage['since'])}"
        + ("  [dim](opened implicitly)[/]" if stage["implicit"] else ""),
        f"owner      {stage.get('owner') or '-'}",
        f"health     {score_text(health)}   next touch due {day(health['next_touch_due'])}",
        *component_lines(health["components"]),
    ]
    lines += [f"  - {reason}" for reason in health["reasons"]]
    for item in proposals["items"]:
        lines.append(
            f"proposal   {item['proposal_id']} “{item['title']}” {item['status']}, "
            f"readiness {item['readiness']['score']}"
        )
    console.print(Panel("\n".join(lines), title=title, title_align="left", expand=False))


def component_lines(components: dict[str, float]) -> list[str]:
    """The six components, three to a line, aligned under the label (fits 80 columns)."""
    said = [f"{name} {value:.2f}" for name, value in components.items()]
    lines = ["  ".join(said[start : start + 3]) for start in range(0, len(said), 3)]
    return [f"{'components' if i == 0 else '':<10} {line}" for i, line in enumerate(lines)]


@app.command(name="list")
def list_(
    stage: Annotated[Stage | None, typer.Option("--stage", help="only this stage")] = None,
    band: Annotated[str | None, typer.Option("--band", help="thriving … dormant")] = None,
    owner: Owner = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next page")] = None,
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Relationships, filtered by stage, health band or owner."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if band is not None and band not in BANDS:
        fail(f"--band: {band!r} is not one of {', '.join(BANDS)}", 2)
    if band is not None and stage is not None:
        fail("--stage and --band cannot be combined", 2)
    page = {"owner": owner, "limit": limit, "cursor": cursor}
    if band is not None:
        found = run_query(listing(settings, "health", "list", {**page, "band": band}))
        rows = health_table(found.items, wide)
    else:
        found = run_query(
            listing(settings, "stage", "list", {**page, "stage": stage.value if stage else None})
        )
        rows = stage_table(found.items, wide)
    if as_json:
        emit_json(found.reply)
        return
    if found.items:
        print_table(console, rows, wide)
    elif not found.owners:
        console.print(
            "No relationships match." if owner or stage or band else "No relationships yet."
        )
    next_page = f"next page: --cursor {found.reply.get('next_cursor')}"
    for line in found.notes("relationships", next_page):
        console.print(line)


def stage_table(items: list[dict[str, Any]], wide: bool) -> Table:
    """Relationships with their counterpart, stage and owner."""
    if wide:
        rows = table(
            id_column(), name_column(items), text_column("organization"),
            text_column("email"), short_column("stage"), short_column("since"),
            text_column("owner"), text_column("tags"),
        )  # fmt: skip
    else:
        owners = owner_column(items, wide=False)
        rows = table(id_column(), name_column(items), short_column("stage"), owners)
    for item in items:
        counterpart = item.get("counterpart") or {}
        owner = owner_text(item.get("owner"), wide=wide)
        if wide:
            rows.add_row(
                item["relationship_id"], name_of(item), counterpart.get("organization") or "-",
                counterpart.get("email") or "-", item["stage"], day(item["since"]), owner,
                ", ".join(counterpart.get("tags") or []) or "-",
            )  # fmt: skip
        else:
            rows.add_row(item["relationship_id"], name_of(item), item["stage"], owner)
    return rows


def health_table(items: list[dict[str, Any]], wide: bool) -> Table:
    """Relationships with their health and its first reason."""
    columns = [id_column(), name_column(items), short_column("health")]
    if wide:
        columns += [short_column("stage"), text_column("owner"), short_column("next touch")]
    rows = table(*columns, text_column("why", ratio=2))
    for item in items:
        cells = [item["relationship_id"], item.get("name") or "-", score_text(item)]
        if wide:
            cells += [item["stage"], owner_text(item.get("owner"), wide=True)]
            cells.append(day(item["next_touch_due"]))
        rows.add_row(*cells, why(item))
    return rows


@app.command()
def funnel(
    owner: Owner = None, as_json: Json = False, nats_url: NatsUrl = None, data_dir: DataDir = None
) -> None:
    """The pipeline: how many are at each stage, ever reached it, and converted onward."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    reply = query(settings, "stage", "funnel", {"owner": owner})
    if as_json:
        emit_json(reply)
        return
    rows = table(
        "stage", "now", "ever reached", "→ next", title=f"Funnel{' of ' + owner if owner else ''}"
    )
    conversions = list(reply["conversion"].values())
    for index, (stage_name, reached) in enumerate(reply["reached"].items()):
        ratio = conversions[index] if index < len(conversions) else None
        rows.add_row(
            stage_name,
            str(reply["stages"][stage_name]),
            str(reached),
            f"{ratio:.0%}" if ratio is not None else "-",
        )
    rows.add_row("closed", str(reply["stages"].get("closed", 0)), "-", "-")
    console.print(rows)


@app.command()
def due(
    owner: Owner = None,
    limit: Limit = 50,
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Who is due for a touch, most overdue first, with the reason."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    now = datetime.now(UTC)
    payload = {"due_before": now.isoformat(), "owner": owner, "limit": limit}
    found = run_query(listing(settings, "health", "list", payload))
    if as_json:
        emit_json(found.reply)
        return
    columns = [id_column(), name_column(found.items), short_column("late")]
    if wide:
        columns += [short_column("stage"), text_column("owner"), short_column("health")]
    rows = table(*columns, text_column("why", ratio=2), title="Due for a touch")
    for item in found.items:
        late = now - datetime.fromisoformat(item["next_touch_due"])
        cells = [item["relationship_id"], item.get("name") or "-", f"{late.days}d"]
        if wide:
            cells += [item["stage"], owner_text(item.get("owner"), wide=True), score_text(item)]
        rows.add_row(*cells, why(item))
    if found.items:
        print_table(console, rows, wide)
    elif not found.owners:
        console.print("Nobody is due: no relationship has passed its next touch.")
    whose = f" --owner {owner}" if owner else ""
    next_step = f"rapport due --limit {found.enough(limit)}{whose}"
    for line in found.notes("relationships", next_step):
        console.print(line)


@app.command()
def proposals(
    owner: Owner = None,
    rel: Annotated[str | None, typer.Option("--rel", help="one relationship")] = None,
    status: Annotated[str, typer.Option("--status", help="pending, drafted, … or all")] = "pending",
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Partnership proposals with their readiness, most ready first."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    payload = {"owner": owner, "relationship_id": rel, "status": status}
    reply, names, owners = run_query(_proposals(settings, payload))
    if as_json:
        emit_json(reply)
        return
    if not reply["items"]:
        console.print(
            owners_hint(owner, owners, "proposals") if owner and owners else "No proposals."
        )
        return
    print_table(console, proposals_table(reply["items"], names, wide), wide)


async def _proposals(
    settings: Settings, payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], dict[str, int] | None]:
    """The proposals, their counterparts' names, and the owners when an owner has none."""
    async with connected(settings) as nc:
        reply = await ask_on(nc, settings, "proposals", "pending", payload)
        names = await names_of(nc, settings, (i["relationship_id"] for i in reply["items"]))
        owners = None
        if payload.get("owner") and not reply["items"]:
            known = await owners_of(nc, settings)
            owners = None if holds(payload["owner"], known) else known
    return reply, names, owners


def proposals_table(items: list[dict[str, Any]], names: dict[str, str], wide: bool) -> Table:
    """Proposals: the whole id, with whom and what, how ready, and the first thing to fix."""
    columns = [id_column("proposal")]
    if wide:
        columns += [
            id_column("relationship"), text_column("who"), text_column("title"),
            short_column("status"), short_column("age"), text_column("owner"),
        ]  # fmt: skip
    else:
        columns.append(text_column("with / title", max_width=WHO_WIDTH))
    rows = table(*columns, short_column("ready"), text_column("first thing to fix"))
    for item in items:
        readiness = item["readiness"]
        who = names.get(item["relationship_id"], "-")
        if wide:
            cells = [
                item["proposal_id"], item["relationship_id"], who, item["title"], item["status"],
                f"{item['age_days']}d", owner_text(item.get("owner"), wide=True),
            ]  # fmt: skip
        else:
            cells = [item["proposal_id"], f"{who}\n[dim]{item['title']}[/]"]
        fix = first_to_fix(readiness) or "[green]nothing: ready[/]"
        rows.add_row(*cells, str(readiness["score"]), fix)
    return rows

"""`rapport show|list|funnel|due|proposals`: the projections as Rich tables (or `--json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, get_args

import orjson
import typer
from rich.panel import Panel
from rich.table import Table

from events.queries import Band
from events.stages import Stage
from events.subjects import query_subject
from services.cli.common import DataDir, NatsUrl, app, console, fail, load_settings, run
from services.config.failures import Failure
from services.config.settings import Settings

Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
Owner = Annotated[str | None, typer.Option("--owner", help="only this owner's relationships")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="RFC 3339 instant (default: now)", show_default=False)
]
BANDS: tuple[str, ...] = get_args(Band)
BAND_STYLE = {
    "thriving": "bold green",
    "healthy": "green",
    "cooling": "yellow",
    "at-risk": "red",
    "dormant": "bold red",
}


class QueryFailed(Failure):
    """A query came back with an error or not at all."""


async def ask(
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Any:
    """One query to a projection service, through the one `ask`; errors become messages."""
    from services.nats.connection import connect
    from services.queries.ask import ask as ask_projection

    subject = subject or query_subject(projection, name)
    nc = await connect(settings, "cli", retry_forever=False)
    try:
        answer = await ask_projection(nc, subject, payload, within=settings.request_timeout * 2)
    finally:
        await nc.close()
    if answer.ok:
        return answer.data
    if answer.data is None:  # nobody answered
        raise QueryFailed(f"{answer.problem}; is `rapport up` running?")
    raise QueryFailed(f"{answer.code}: {answer.problem}")


def query(
    settings: Settings,
    projection: str,
    name: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Any:
    """`ask`, run to completion, failing the command with the reason."""
    try:
        return run(ask(settings, projection, name, payload, subject))
    except QueryFailed as exc:
        fail(str(exc))


def emit_json(payload: Any) -> None:
    """Print JSON for scripts."""
    console.print_json(orjson.dumps(payload).decode())


def day(value: str | None) -> str:
    """A timestamp as a calendar day (or a dash)."""
    return value[:10] if value else "-"


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
        "components "
        + "  ".join(f"{name} {value:.2f}" for name, value in health["components"].items()),
    ]
    lines += [f"  - {reason}" for reason in health["reasons"]]
    for item in proposals["items"]:
        lines.append(
            f"proposal   {item['proposal_id']} “{item['title']}” {item['status']}, "
            f"readiness {item['readiness']['score']}"
        )
    console.print(Panel("\n".join(lines), title=title, title_align="left", expand=False))


@app.command(name="list")
def list_(
    stage: Annotated[Stage | None, typer.Option("--stage", help="only this stage")] = None,
    band: Annotated[str | None, typer.Option("--band", help="thriving … dormant")] = None,
    owner: Owner = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next page")] = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Relationships, filtered by stage, health band or owner."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if band is not None and band not in BANDS:
        fail(f"--band: {band!r} is not one of {', '.join(BANDS)}", 2)
    if band is not None:
        if stage is not None:
            fail("--stage and --band cannot be combined", 2)
        reply = query(
            settings,
            "health",
            "list",
            {"band": band, "owner": owner, "limit": limit, "cursor": cursor},
        )
        if as_json:
            emit_json(reply)
            return
        table = Table("relationship", "stage", "owner", "health", "next touch", "why")
        for item in reply["items"]:
            table.add_row(
                item["relationship_id"],
                item["stage"],
                item.get("owner") or "-",
                score_text(item),
                day(item["next_touch_due"]),
                (item["reasons"] or [""])[0],
            )
    else:
        reply = query(
            settings,
            "stage",
            "list",
            {
                "stage": stage.value if stage else None,
                "owner": owner,
                "limit": limit,
                "cursor": cursor,
            },
        )
        if as_json:
            emit_json(reply)
            return
        table = Table("relationship", "counterpart", "stage", "since", "owner")
        for item in reply["items"]:
            table.add_row(
                item["relationship_id"],
                (item.get("counterpart") or {}).get("name", "-"),
                item["stage"],
                day(item["since"]),
                item.get("owner") or "-",
            )
    console.print(table)
    if reply.get("next_cursor"):
        console.print(f"[dim]more: --cursor {reply['next_cursor']}[/]")


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
    table = Table(
        "stage", "now", "ever reached", "→ next", title=f"Funnel{' of ' + owner if owner else ''}"
    )
    conversions = list(reply["conversion"].values())
    for index, (stage_name, reached) in enumerate(reply["reached"].items()):
        ratio = conversions[index] if index < len(conversions) else None
        table.add_row(
            stage_name,
            str(reply["stages"][stage_name]),
            str(reached),
            f"{ratio:.0%}" if ratio is not None else "-",
        )
    table.add_row("closed", str(reply["stages"].get("closed", 0)), "-", "-")
    console.print(table)


@app.command()
def due(
    owner: Owner = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Who is due for a touch, most overdue first, with the reason."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    now = datetime.now(UTC)
    reply = query(
        settings,
        "health",
        "list",
        {"due_before": now.isoformat(), "owner": owner, "limit": limit},
    )
    if as_json:
        emit_json(reply)
        return
    table = Table(
        "relationship", "owner", "stage", "overdue", "health", "why", title="Due for a touch"
    )
    for item in reply["items"]:
        overdue = now - datetime.fromisoformat(item["next_touch_due"])
        table.add_row(
            item["relationship_id"],
            item.get("owner") or "-",
            item["stage"],
            f"{overdue.days} days",
            score_text(item),
            (item["reasons"] or [""])[0],
        )
    console.print(table)
    if not reply["items"]:
        console.print("Nobody is due: every relationship was touched within its cadence.")


@app.command()
def proposals(
    owner: Owner = None,
    rel: Annotated[str | None, typer.Option("--rel", help="one relationship")] = None,
    status: Annotated[str, typer.Option("--status", help="pending, drafted, … or all")] = "pending",
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Partnership proposals with their readiness, most ready first."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    reply = query(
        settings, "proposals", "pending", {"owner": owner, "relationship_id": rel, "status": status}
    )
    if as_json:
        emit_json(reply)
        return
    table = Table(
        "proposal", "relationship", "title", "status", "age", "readiness", "first thing to fix"
    )
    for item in reply["items"]:
        table.add_row(
            item["proposal_id"],
            item["relationship_id"],
            item["title"],
            item["status"],
            f"{item['age_days']}d",
            str(item["readiness"]["score"]),
            (item["readiness"]["reasons"] or [""])[0],
        )
    console.print(table)

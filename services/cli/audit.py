"""`rapport audit` and `rapport history`: stage changes with verdicts, and the raw events."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from events.subjects import AUDIT_SUBJECT
from services.cli.common import DataDir, NatsUrl, app, console, fail, load_settings, run
from services.cli.queries import AsOfOption, Json, emit_json, query
from services.config.settings import Settings

CSV_COLUMNS = ("seq", "time", "from", "to", "accepted", "flags", "reason", "actor", "source")


@app.command()
def audit(
    relationship_id: Annotated[str, typer.Argument(help="relationship id")],
    as_of: AsOfOption = None,
    output: Annotated[
        Literal["table", "json", "csv"], typer.Option("--format", help="table, json or csv")
    ] = "table",
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Every stage change of a relationship: verdict, flags, who and why (as of an instant)."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    request = {"relationship_id": relationship_id, "as_of": as_of}
    reply = query(settings, "stage", "audit", request, subject=AUDIT_SUBJECT)
    if output == "json":
        emit_json(reply)
        return
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for change in reply["changes"]:
            row = {**change, "flags": " ".join(change["flags"])}
            writer.writerow(
                [row.get(column) if row.get(column) is not None else "" for column in CSV_COLUMNS]
            )
        typer.echo(buffer.getvalue(), nl=False)
        return
    when = f" as of {reply['as_of']}" if reply.get("as_of") else ""
    table = Table(
        "seq", "time", "from → to", "verdict", "flags", "reason", "actor / source",
        title=f"{relationship_id}: now {reply['stage']}{when}",
    )  # fmt: skip
    for change in reply["changes"]:
        verdict = "[green]accepted[/]" if change["accepted"] else "[red]rejected[/]"
        if not change["accepted"] and change.get("rejected_because"):
            verdict += f"\n[dim]{change['rejected_because']}[/]"
        table.add_row(
            str(change["seq"]),
            change["time"][:19].replace("T", " "),
            f"{change['from']} → {change['to']}",
            verdict,
            " ".join(change["flags"]) or "-",
            change.get("reason") or "-",
            f"{change.get('actor') or '-'} / {change['source']}",
        )
    console.print(table)
    if not reply["changes"]:
        console.print("No stage changes recorded: the relationship is still at its opening stage.")


async def _history(settings: Settings, relationship_id: str) -> list[dict[str, Any]]:
    from services.nats.connection import connect
    from services.nats.log_reader import DirectReader
    from services.queries.history import history_item, history_page, identity_over_nats

    nc = await connect(settings, "cli", retry_forever=False)
    reader = DirectReader(nc)
    items: list[dict[str, Any]] = []
    try:
        after, more = 0, True
        while more:
            first_copies = identity_over_nats(nc, settings.request_timeout * 2)
            page, more = await history_page(reader, relationship_id, after, 1000, first_copies)
            items.extend(history_item(item) for item in page)
            if page:
                after = page[-1].seq
    finally:
        await reader.close()
        await nc.close()
    return items


def _summary(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    parts = [f"{key}={value}" for key, value in data.items() if not isinstance(value, dict | list)]
    return ", ".join(parts)[:80]


@app.command()
def history(
    relationship_id: Annotated[str, typer.Argument(help="relationship id")],
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The stored events of a relationship with their stream sequence, oldest first."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    items = run(_history(settings, relationship_id))
    if not items:
        fail(f"not_found: relationship {relationship_id} has no stored events")
    if as_json:
        emit_json({"relationship_id": relationship_id, "items": items})
        return
    table = Table("seq", "time", "type", "actor / source", "data", title=relationship_id)
    for item in items:
        event = item["event"]
        if event is None:
            table.add_row(str(item["seq"]), "-", "[red]unreadable[/]", "-", item["error"][:80])
            continue
        kind = event["type"].removeprefix("rapport.")
        if "upcast_from" in item:
            kind += f" [dim](stored as v{item['upcast_from']})[/]"
        table.add_row(
            str(item["seq"]),
            event["time"][:19].replace("T", " "),
            kind,
            f"{event.get('actor') or '-'} / {event['source']}",
            _summary(event),
        )
    console.print(table)

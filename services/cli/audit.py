"""`rapport audit` and `rapport history`: stage changes with verdicts, and the raw events."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import typer
from rich.table import Column, Table

from events.subjects import AUDIT_SUBJECT
from services.cli.asking import ask_on, connected, emit_json, names_of, run_query
from services.cli.common import (
    AsOfOption,
    DataDir,
    Json,
    NatsUrl,
    app,
    console,
    fail,
    load_settings,
    run,
)
from services.cli.tables import Wide, print_table, short_column, table, text_column
from services.config.settings import Settings

CSV_COLUMNS = ("seq", "time", "from", "to", "accepted", "flags", "reason", "actor", "source")
Format = Literal["table", "json", "csv"]
SUMMARY = 120  # characters of an event's data in the table (all of it: --json)
TYPE_WIDTH = len("interaction.recorded")  # the longest type; "(stored as v0)" wraps under it


@app.command()
def audit(
    relationship_id: Annotated[str, typer.Argument(help="relationship id")],
    as_of: AsOfOption = None,
    output: Annotated[
        Format, typer.Option("--format", help="table, json or csv (--json: json)")
    ] = "table",
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Every stage change of a relationship: verdict, flags, who and why (as of an instant)."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    request = {"relationship_id": relationship_id, "as_of": as_of}
    reply, name = run_query(_audit(settings, request))
    if as_json or output == "json":
        emit_json(reply)
    elif output == "csv":
        typer.echo(audit_csv(reply["changes"]), nl=False)
    else:
        stage = (
            f"{reply['stage']} as of {reply['as_of']}"
            if reply.get("as_of")
            else (f"now {reply['stage']}")
        )
        title = f"{relationship_id} {name or ''}: {stage}"
        print_table(console, audit_table(reply["changes"], title, wide), wide)
        if not reply["changes"]:
            console.print("No stage changes recorded: it is still at its opening stage.")


async def _audit(settings: Settings, request: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The audit of a relationship and its counterpart's name."""
    async with connected(settings) as nc:
        reply = await ask_on(nc, settings, "stage", "audit", request, subject=AUDIT_SUBJECT)
        names = await names_of(nc, settings, [request["relationship_id"]])
    return reply, names.get(request["relationship_id"])


def audit_csv(changes: list[dict[str, Any]]) -> str:
    """The stage changes as CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for change in changes:
        row = {**change, "flags": " ".join(change["flags"])}
        writer.writerow(
            [row.get(column) if row.get(column) is not None else "" for column in CSV_COLUMNS]
        )
    return buffer.getvalue()


def audit_table(changes: list[dict[str, Any]], title: str, wide: bool) -> Table:
    """Stage changes: when, from → to, the verdict with its flags, and the reason."""
    columns = [short_column("seq"), short_column("time" if wide else "day")]
    flags = [flag for change in changes for flag in change["flags"]]
    # a flag is one word: the verdict column holds the longest whole, never cut mid-flag
    verdict_width = max((len(flag) for flag in flags), default=len("rejected"))
    columns += [text_column("change"), Column("verdict", min_width=verdict_width)]
    if wide:
        columns.append(text_column("actor / source"))
    rows = table(*columns, text_column("reason", ratio=2), title=title)
    for change in changes:
        verdict = "[green]accepted[/]" if change["accepted"] else "[red]rejected[/]"
        if change["flags"]:
            verdict += "\n[dim]" + " ".join(change["flags"]) + "[/]"
        reason = change.get("reason") or "-"
        if not change["accepted"] and change.get("rejected_because"):
            # why it was refused, in words: the flags alone say what, not why
            refused = f"[red]rejected: {change['rejected_because']}[/]"
            reason = f"{change['reason']}\n{refused}" if change.get("reason") else refused
        when = change["time"][:19].replace("T", " ") if wide else change["time"][:10]
        cells = [str(change["seq"]), when, f"{change['from']} → {change['to']}", verdict]
        if wide:
            cells.append(f"{change.get('actor') or '-'} / {change['source']}")
        rows.add_row(*cells, reason)
    return rows


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
    """The event's data in a line: plain fields, a list's words, a nested object's name."""
    data = event.get("data") or {}
    parts = []
    for key, value in data.items():
        if isinstance(value, dict):
            if value.get("name"):  # the counterpart of a handshake: who it was with
                parts.append(f"{key}={value['name']}")
        elif isinstance(value, list):
            parts.append(f"{key}={', '.join(str(v) for v in value)}")
        else:
            parts.append(f"{key}={value}")
    summary = ", ".join(parts)
    return summary if len(summary) <= SUMMARY else summary[: SUMMARY - 1] + "…"


@app.command()
def history(
    relationship_id: Annotated[str, typer.Argument(help="relationship id")],
    wide: Wide = False,
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
    columns = [short_column("seq"), text_column("time"), text_column("type", max_width=TYPE_WIDTH)]
    if wide:
        columns.append(text_column("actor / source"))
    rows = table(*columns, text_column("data", ratio=2), title=relationship_id)
    for item in items:
        event = item["event"]
        if event is None:
            cells = [str(item["seq"]), "-", "[red]unreadable[/]"] + ["-"] * wide
            rows.add_row(*cells, item["error"][:160])
            continue
        kind = event["type"].removeprefix("rapport.")
        if "upcast_from" in item:
            kind += f" [dim](stored as v{item['upcast_from']})[/]"
        cells = [str(item["seq"]), event["time"][:19].replace("T", " "), kind]
        if wide:
            cells.append(f"{event.get('actor') or '-'} / {event['source']}")
        rows.add_row(*cells, _summary(event))
    print_table(console, rows, wide)

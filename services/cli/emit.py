"""`rapport emit`: publish one event, or a file of envelopes, through the validated ingest."""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from events import EVENT_TYPES
from events.envelope import new_envelope
from services.cli.common import DataDir, NatsUrl, app, console, fail, load_settings, run
from services.cli.find import exists
from services.cli.tables import short_column, table, text_column
from services.cli.writing import caught_up
from services.config.roster import PROJECTIONS
from services.ingest.body import BodyError, split_body
from services.ingest.client import IngestUnavailable, request_ingest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from services.config.settings import Settings

# A request stays well under NATS's default 1 MiB payload limit and the ingest body limit.
MAX_REQUEST_BYTES = 512 * 1024
OPENING = "rapport.connection.made"  # the one event that may open a relationship by itself


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value); the value is JSON when it parses, else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"{text!r} is not key=value", param_hint="--set")
    try:
        value: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def build_data(assignments: list[str]) -> dict[str, Any]:
    """Nest `--set` assignments into the event's data object."""
    data: dict[str, Any] = {}
    for assignment in assignments:
        path, value = parse_assignment(assignment)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise typer.BadParameter(f"{'.'.join(path)} conflicts with an earlier value")
            node = child
        node[path[-1]] = value
    return data


def full_type(name: str) -> str:
    """Accept `interaction.recorded` or `rapport.interaction.recorded`."""
    event_type = name if name.startswith("rapport.") else f"rapport.{name}"
    if event_type not in EVENT_TYPES:
        short = ", ".join(t.removeprefix("rapport.") for t in EVENT_TYPES)
        raise typer.BadParameter(f"unknown event type {name!r}; one of: {short}")
    return event_type


def envelope(
    event_type: str,
    relationship: str,
    data: dict[str, Any],
    *,
    event_id: str | None,
    at: str | None,
    source: str,
    actor: str | None,
) -> dict[str, Any]:
    """A CloudEvents envelope with sensible defaults (new UUID, now, the current user)."""
    return new_envelope(
        event_type,
        relationship,
        data,
        event_id=event_id or str(uuid.uuid4()),
        time=at or datetime.now(UTC).replace(microsecond=0),
        source=source,
        actor=actor,
    )


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines of a file (or stdin for `-`), as the bytes they hold."""
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    with stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line.strip()


def envelope_of(line: bytes) -> bytes | str:
    """The envelope a line holds, exactly as written, or why no door of Rapport takes it."""
    try:
        items, batch = split_body(line, 1)
    except BodyError as exc:
        return str(exc).removeprefix("body: ")
    if batch:
        return "a line holds one envelope (a JSON object), not an array"
    return items[0]


def batches(
    lines: list[tuple[int, bytes]], size: int, rejected: list[tuple[int, str]]
) -> Iterator[list[tuple[int, bytes]]]:
    """Group the lines that hold envelopes into requests bounded by count and bytes."""
    batch: list[tuple[int, bytes]] = []
    used = 2
    for number, line in lines:
        raw = envelope_of(line)
        if isinstance(raw, str):
            rejected.append((number, raw))
            continue
        if batch and (len(batch) >= size or used + len(raw) + 1 > MAX_REQUEST_BYTES):
            yield batch
            batch, used = [], 2
        batch.append((number, raw))
        used += len(raw) + 1
    if batch:
        yield batch


async def emit_file(
    settings: Settings, path: Path, batch_size: int
) -> tuple[int, int, list[tuple[int, str]]]:
    """Send every line of a JSONL file; return accepted, duplicates, rejected (line, why)."""
    from services.nats.connection import connect

    lines = list(read_lines(path))
    rejected: list[tuple[int, str]] = []
    accepted = duplicates = 0
    nc = await connect(settings, "emit", retry_forever=False)
    columns = (
        TextColumn("[bold]emit"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} ev/s"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task("emit", total=len(lines), rate="")
            for batch in batches(lines, batch_size, rejected):
                body = b"[" + b",".join(raw for _, raw in batch) + b"]"
                reply = await request_ingest(nc, body, within=settings.publish_timeout * 2)
                if "error" in reply and not reply.get("rejected"):
                    rejected.extend((n, reply["error"]["message"]) for n, _ in batch)
                else:
                    for entry in reply.get("rejected", []):
                        index = entry.get("index", 0)
                        rejected.append((batch[index][0], entry["error"]))
                    accepted += len(reply.get("accepted", []))
                    duplicates += sum(1 for e in reply.get("accepted", []) if e.get("duplicate"))
                progress.advance(task, len(batch))
                elapsed = progress.tasks[0].elapsed or 0
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f}" if elapsed else "")
            progress.update(task, completed=len(lines))
    finally:
        await nc.close()
    rejected.sort()
    return accepted, duplicates, rejected


@app.command()
def emit(
    event_type: Annotated[
        str | None,
        typer.Argument(help="event type, e.g. interaction.recorded", show_default=False),
    ] = None,
    rel: Annotated[str | None, typer.Option("--rel", help="relationship id")] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="data field: key=value (JSON values; a.b=x nests)"),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="JSONL file of envelopes ('-' for stdin)"),
    ] = None,
    event_id: Annotated[str | None, typer.Option("--id", help="default: a UUID")] = None,
    at: Annotated[str | None, typer.Option("--time", help="RFC 3339 time (default: now)")] = None,
    source: Annotated[str, typer.Option("--source")] = "rapport-cli",
    actor: Annotated[str | None, typer.Option("--actor", help="default: $USER")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=1000)] = 500,
    open_new: Annotated[
        bool,
        typer.Option("--new", help="the id is new: let this event open it (with no name)"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the reply as JSON")] = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Publish one event through the validated ingest, or a JSONL file of envelopes."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if file is not None:
        if event_type or rel:
            fail("give either TYPE --rel ID, or --file, not both", 2)
        if str(file) != "-" and not file.is_file():
            fail(f"{file}: no such file", 2)
        try:
            accepted, duplicates, rejected = run(emit_file(settings, file, batch_size))
        except IngestUnavailable as exc:
            fail(str(exc))
        _summarise(console, accepted, duplicates, rejected, as_json)
        if rejected:
            raise typer.Exit(1)
        return
    if not event_type or not rel:
        fail("give an event TYPE and --rel ID (or --file FILE.jsonl)", 2)
    event = envelope(
        full_type(event_type),
        rel,
        build_data(assignments or []),
        event_id=event_id,
        at=at,
        source=source,
        actor=actor or getpass.getuser(),
    )
    # only a handshake names who is on the other side: anything else would open a ghost
    must_exist = event["type"] != OPENING and not open_new
    reply = run(_emit_one(settings, event, must_exist))
    if as_json:
        console.print_json(orjson.dumps(reply).decode())
    elif reply.get("accepted"):
        entry = reply["accepted"][0]
        note = " (duplicate: already stored)" if entry.get("duplicate") else ""
        console.print(f"accepted {entry['id']} as seq {entry['seq']}{note}")
    if reply.get("rejected"):
        if not as_json:
            fail(f"rejected: {reply['rejected'][0]['error']}")
        raise typer.Exit(1)


async def _emit_one(settings: Settings, event: dict[str, Any], must_exist: bool) -> dict[str, Any]:
    from services.nats.connection import connect

    nc = await connect(settings, "emit", retry_forever=False)
    try:
        if must_exist and await exists(nc, settings, event["subject"]) is None:
            fail(
                f"--rel: there is no relationship {event['subject']} yet, and this event would "
                "open one without a name. Open it with `rapport new NAME` (or "
                "`rapport emit connection.made`), or add --new to open it with this event"
            )
        reply = await request_ingest(nc, orjson.dumps(event), settings.publish_timeout * 2)
        if reply.get("accepted"):
            # the next command may read or write it at once: let every projection apply it
            # first (bounded: past the wait it shows once they catch up)
            seq = reply["accepted"][0]["seq"]
            await asyncio.gather(*(caught_up(nc, settings, name, seq) for name in PROJECTIONS))
        return reply
    except IngestUnavailable as exc:
        fail(str(exc))
    finally:
        await nc.close()


def _summarise(
    console: Any, accepted: int, duplicates: int, rejected: list[tuple[int, str]], as_json: bool
) -> None:
    if as_json:
        payload = {
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": [{"line": line, "error": error} for line, error in rejected],
        }
        console.print_json(orjson.dumps(payload).decode())
        return
    console.print(
        f"[green]{accepted} accepted[/] ({duplicates} duplicates), "
        f"[{'red' if rejected else 'green'}]{len(rejected)} rejected[/]"
    )
    if rejected:
        rows = table(short_column("line"), text_column("why it was rejected"))
        for line, error in rejected[:50]:
            rows.add_row(str(line), error)
        console.print(rows)
        if len(rejected) > 50:
            console.print(f"... and {len(rejected) - 50} more (use --json for all)")

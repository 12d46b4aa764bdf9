"""`rapport import FILE`: contacts in as connections, once each, however often it is run.

CSV (with `--map field=Column`), LinkedIn's `Connections.csv` and vCard. A progress bar while
it sends, then a summary: created, already there, and each skipped line with why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.cli.asking import connected, emit_json, run_query
from services.cli.common import DataDir, Json, NatsUrl, app, console, fail, load_settings
from services.cli.config import configured_owner
from services.cli.contacts import (
    FORMATS,
    Contact,
    Contacts,
    ContactsRefused,
    Skipped,
    parse_mapping,
)
from services.cli.import_plan import Plan, plan, read_file, stored_now
from services.cli.tables import short_column, table, text_column
from services.cli.writing import caught_up
from services.config.settings import Settings
from services.ingest.client import request_ingest

BATCH = 200  # contacts sent in one ingest request
CATCH_UP_MS = 30_000  # how long the stage projection may take to show what was imported


@dataclass(slots=True)
class Outcome:
    """What an import did."""

    created: list[tuple[Contact, str]] = field(default_factory=list)
    there: list[tuple[Contact, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def reply(self, dry_run: bool) -> dict[str, Any]:
        """The outcome as JSON for scripts."""
        return {
            "dry_run": dry_run,
            "created": [_said(contact, rel) for contact, rel in self.created],
            "already_there": [_said(contact, rel) for contact, rel in self.there],
            "skipped": [
                {"line": s.line, "name": s.name, "why": s.why}
                for s in sorted(self.skipped, key=lambda s: s.line)
            ],
        }


def _said(contact: Contact, relationship_id: str) -> dict[str, Any]:
    return {"line": contact.line, "name": contact.name, "relationship_id": relationship_id}


async def run_import(
    settings: Settings,
    contacts: Contacts,
    owner: str | None,
    channel: str | None,
    *,
    dry_run: bool,
    quiet: bool,
) -> Outcome:
    """Plan against what is stored, then send the new handshakes in batches."""
    async with connected(settings) as nc:
        todo = plan(contacts, owner, await stored_now(nc, settings), channel)
        outcome = Outcome(there=list(todo.there), skipped=list(todo.skipped))
        if dry_run:
            outcome.created = [(c, e["subject"]) for c, e in todo.create]
            return outcome
        last = await send_all(nc, settings, todo, outcome, quiet)
        if last:
            await caught_up(nc, settings, "stage", last, wait_ms=CATCH_UP_MS)
    return outcome


async def send_all(nc: Any, settings: Settings, todo: Plan, outcome: Outcome, quiet: bool) -> int:
    """Send the handshakes; sort each reply into the outcome; the last sequence stored."""
    last = 0
    columns = (TextColumn("[bold]import"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, disable=quiet or not todo.create) as progress:
        task = progress.add_task("import", total=len(todo.create))
        for start in range(0, len(todo.create), BATCH):
            batch = todo.create[start : start + BATCH]
            body = orjson.dumps([envelope for _, envelope in batch])
            reply = await request_ingest(nc, body, settings.publish_timeout * 2)
            last = max([last, *sort_reply(reply, batch, outcome)])
            progress.advance(task, len(batch))
    return last


def sort_reply(
    reply: dict[str, Any], batch: list[tuple[Contact, dict[str, Any]]], outcome: Outcome
) -> list[int]:
    """Created, already there (a known id: a duplicate, or a conflict with an earlier import),
    or skipped with the ingest's reason; the sequences of what was stored now."""
    by_id = {envelope["id"]: (contact, envelope["subject"]) for contact, envelope in batch}
    stored: list[int] = []
    for entry in reply.get("accepted", []):
        contact, relationship_id = by_id[entry["id"]]
        if entry.get("duplicate"):
            outcome.there.append((contact, relationship_id))
        else:
            outcome.created.append((contact, relationship_id))
            stored.append(int(entry["seq"]))
    for entry in reply.get("rejected", []):
        contact, relationship_id = by_id[entry["id"]]
        if entry.get("code") == "conflict":  # this id was imported before, with other details
            outcome.there.append((contact, relationship_id))
        else:
            outcome.skipped.append(Skipped(contact.line, entry["error"], contact.name))
    if "error" in reply and not reply.get("accepted") and not reply.get("rejected"):
        why = reply["error"].get("message", "refused")
        outcome.skipped.extend(Skipped(c.line, why, c.name) for c, _ in batch)
    return stored


def summary(outcome: Outcome, dry_run: bool) -> None:
    """Counts, then each skipped line with why."""
    verb = "would create" if dry_run else "created"
    console.print(
        f"[green]{verb} {len(outcome.created)}[/], already there {len(outcome.there)}, "
        f"skipped {len(outcome.skipped)}",
        highlight=False,
    )
    if outcome.skipped:
        rows = table(short_column("line"), text_column("who"), text_column("why skipped", ratio=2))
        for skipped in sorted(outcome.skipped, key=lambda s: s.line):
            rows.add_row(str(skipped.line), skipped.name or "-", skipped.why)
        console.print(rows)


@app.command(name="import")
def import_(
    file: Annotated[Path, typer.Argument(help="contacts: .csv, LinkedIn's Connections.csv, .vcf")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, linkedin or vcard (default: guessed)")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=Column for CSV: name, email, organization, …"),
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="who holds them (default: `rapport config owner`)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what it would do; store nothing")
    ] = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Bring contacts in as connections; importing the same file again stores nothing new."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir, owner=owner)
    if fmt is not None and fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}", 2)
    if not file.is_file():
        fail(f"FILE: {file} is not a file", 2)
    try:
        contacts = read_file(file, fmt, parse_mapping(mapping or []))
    except ContactsRefused as exc:
        fail(f"{file}: {exc}", 2)
    except OSError as exc:
        fail(f"{file}: cannot read it ({exc.strerror})", 2)
    holder = configured_owner(settings)
    if not holder and any(contact.owner is None for contact in contacts.found):
        fail("--owner: say whose these relationships are (or once: rapport config owner EMAIL)", 2)
    channel = (
        "linkedin" if (fmt or "") == "linkedin" or any(c.profile for c in contacts.found) else None
    )
    outcome = run_query(
        run_import(settings, contacts, holder, channel, dry_run=dry_run, quiet=as_json)
    )
    if as_json:
        emit_json(outcome.reply(dry_run))
    else:
        summary(outcome, dry_run)

"""`rapport dlq`: the dead letters, newest first: which event, which projection, and why.

Read from `RAPPORT_DLQ` with direct gets, a window of sequences at a time from the newest
back (no consumer is made). Each letter is the original bytes under
`rapport.dlq.<projection>.<seq>`, with the headers the projection's applier wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from nats.errors import Error as NatsError
from rich.table import Table

from events.subjects import DLQ_FILTER, DLQ_STREAM, dlq_filter
from services.cli.asking import connected, emit_json, run_query
from services.cli.common import DataDir, Json, Limit, NatsUrl, app, console, fail, load_settings
from services.cli.tables import Wide, print_table, short_column, table, text_column
from services.config.failures import Failure
from services.config.roster import PROJECTIONS
from services.config.settings import Settings
from services.nats.log_reader import DirectReader, LogReadError

if TYPE_CHECKING:
    from events.reading import StoredMessage

WINDOW = 500  # sequences read back at a time
REASON_SHOWN = 110  # characters of a reason in the compact layout (all of it: --wide, --json)


class DeadLettersUnreadable(Failure):
    """The dead-letter stream could not be read."""


def letter(message: StoredMessage) -> dict[str, Any]:
    """What one stored dead letter says (total: any headers, any bytes)."""
    headers = message.headers
    seq = headers.get("Rapport-Seq", "")
    return {
        "seq": int(seq) if seq.isdigit() else None,
        # the subject says it too: rapport.dlq.<projection>.<seq>
        "projection": headers.get("Rapport-Projection") or "".join(message.subject.split(".")[2:3]),
        "subject": headers.get("Rapport-Subject", ""),
        "reason": headers.get("Rapport-Reason") or "no reason recorded",
        "dlq_seq": message.seq,
        "stored_at": headers.get("Nats-Time-Stamp"),
        "data": message.data.decode("utf-8", errors="replace"),
    }


async def newest(settings: Settings, projection: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` dead letters (of one projection), newest first."""
    async with connected(settings) as nc:
        try:
            info = await nc.jetstream(timeout=settings.request_timeout).stream_info(DLQ_STREAM)
        except NatsError as exc:
            raise DeadLettersUnreadable(
                f"stream {DLQ_STREAM} could not be read ({exc.__class__.__name__}: {exc})"
            ) from None
        reader = DirectReader(nc, stream=DLQ_STREAM, timeout=settings.request_timeout * 2)
        try:
            found = await read_back(
                reader, dlq_filter(projection) if projection else DLQ_FILTER,
                max(1, info.state.first_seq), info.state.last_seq, limit,
            )  # fmt: skip
        except LogReadError as exc:
            raise DeadLettersUnreadable(str(exc)) from None
        finally:
            await reader.close()
    # newest event first: projections file their copies of one event at different moments,
    # so the dead-letter stream's own order interleaves them
    letters = [letter(message) for message in found]
    return sorted(letters, key=lambda item: (item["seq"] or 0, item["dlq_seq"]), reverse=True)


async def read_back(
    reader: DirectReader, subject_filter: str, first: int, last: int, limit: int
) -> list[StoredMessage]:
    """Messages of a filter from sequence `last` back to `first`, newest first, at most `limit`."""
    found: list[StoredMessage] = []
    upper = last
    while upper >= first and len(found) < limit:
        lower = max(first, upper - WINDOW + 1)
        page, _ = await reader.read_page(subject_filter, lower, WINDOW)
        found += sorted((m for m in page if m.seq <= upper), key=lambda m: -m.seq)
        upper = lower - 1
    return found[:limit]


def grouped(letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Letters of one event with one reason, as one row naming every projection that kept it."""
    rows: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for item in letters:
        key = (item["seq"], item["subject"], item["reason"])
        if key in rows:
            rows[key]["projections"].append(item["projection"])
        else:
            rows[key] = {**item, "projections": [item["projection"]]}
    return list(rows.values())


def letters_table(letters: list[dict[str, Any]], wide: bool) -> Table:
    """Dead letters: the event's sequence, the projections, where it was stored, and why."""
    columns = [
        short_column("seq"),
        text_column("projection", max_width=len("projection")),
    ]
    if wide:
        columns += [short_column("dlq seq"), text_column("stored at")]
    rows = table(*columns, text_column("subject / why", ratio=2))
    for item in grouped(letters):
        reason = item["reason"]
        if not wide and len(reason) > REASON_SHOWN:
            reason = reason[: REASON_SHOWN - 1] + "…"
        cells = [str(item["seq"] or "-"), " ".join(sorted(item["projections"]))]
        if wide:
            cells += [str(item["dlq_seq"]), (item["stored_at"] or "-")[:19].replace("T", " ")]
        rows.add_row(*cells, f"{item['subject'] or '-'}\n[dim]{reason}[/]")
    return rows


@app.command()
def dlq(
    projection: Annotated[
        str | None, typer.Option("--projection", help=f"only one: {', '.join(PROJECTIONS)}")
    ] = None,
    limit: Limit = 20,
    wide: Wide = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Dead letters, newest first: events a projection could not apply, with why."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if projection is not None and projection not in PROJECTIONS:
        fail(f"--projection: {projection!r} is not one of {', '.join(PROJECTIONS)}", 2)
    letters = run_query(newest(settings, projection, limit))
    if as_json:
        emit_json({"items": letters})
        return
    if not letters:
        console.print("No dead letters: every stored event was applied.")
        return
    print_table(console, letters_table(letters, wide), wide)
    console.print("[dim]the event itself: rapport dlq --json[/]")

"""`rapport notices`: the notices as they happen, read from RAPPORT_NOTICES over NATS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer

from events.fields import RELATIONSHIP_ID_PATTERN
from events.notices import KINDS
from services.cli.common import DataDir, Json, NatsUrl, Owner, app, fail, load_settings, run
from services.config.settings import Settings

Kinds = Annotated[
    list[str] | None,
    typer.Option("--kind", help=f"only these kinds (repeat): {', '.join(KINDS)}"),
]


def summary(kind: str, data: dict[str, Any]) -> str:
    """One notice in words (the dashboard's live feed says the same)."""
    reasons = data.get("reasons") or []
    first = f": {reasons[0]}" if reasons else ""
    if kind == "stage.changed":
        moved = f"from {data.get('from')} to {data.get('to')}"
        if data.get("accepted"):
            said = f"moved {moved}"
        else:
            said = f"a move {moved} was rejected" + (f": {data['why']}" if data.get("why") else "")
        if data.get("flags"):
            said += f" [{', '.join(data['flags'])}]"
        return said
    if kind == "health.band.changed":
        score = f"(score {data.get('score')})"
        return f"health went from {data.get('from')} to {data.get('to')} {score}{first}"
    if kind == "touch.due":
        return f"a touch fell due{first}"
    if kind == "proposal.decided":
        return f"proposal {data.get('proposal_id')} was {data.get('decision')}"
    return ""


def when(time: str) -> str:
    """A notice's time to the second, `2026-12-01 19:12:02` (UTC), or as it came."""
    try:
        return datetime.fromisoformat(time).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return time


@app.command("notices")
def notices(
    kind: Kinds = None,
    owner: Owner = None,
    rel: Annotated[str | None, typer.Option("--rel", help="only this relationship")] = None,
    from_seq: Annotated[
        int | None,
        typer.Option("--from-seq", min=1, help="start at this notice sequence (default: the next)"),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="stop after this many notices")
    ] = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Follow the notices as they happen (Ctrl-C stops): stage changes, band changes, touches
    falling due, decided proposals."""
    import re

    from services.notices.feed import NoticeFilter

    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        fail(f"--kind: {unknown[0]!r} is not one of {', '.join(KINDS)}", 2)
    if rel is not None and not re.match(RELATIONSHIP_ID_PATTERN, rel):
        fail("--rel: a relationship id is 1-128 letters, digits, _ or -", 2)
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    wanted = NoticeFilter(frozenset(kind or ()), owner, rel)
    run(_follow(settings, wanted, from_seq, count, as_json))


async def _follow(
    settings: Settings, wanted: Any, from_seq: int | None, count: int | None, as_json: bool
) -> None:
    from services.nats.connection import connect
    from services.notices.feed import follow, next_seq

    nc = await connect(settings, "cli", retry_forever=False)
    try:
        start = from_seq or await next_seq(nc, settings.request_timeout)
        if not as_json:
            typer.echo(f"following notices from seq {start} (Ctrl-C stops)", err=True)
        shown = 0
        async for fed in follow(nc, wanted, start, within=settings.request_timeout * 2):
            notice = fed.notice
            if as_json:
                typer.echo(orjson.dumps({"seq": fed.seq, "notice": orjson.loads(fed.body)}))
            else:
                typer.echo(
                    f"{fed.seq:>7}  {when(notice.time)}  {notice.kind:<19}  {notice.subject}  "
                    f"{summary(notice.kind, notice.data)}"
                )
            shown += 1
            if count is not None and shown >= count:
                return
    finally:
        await nc.close()

"""`rapport replay PROJECTION|all`: rebuild from the log, without downtime, with a progress bar."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.cli.common import DataDir, NatsUrl, app, console, fail, load_settings, run
from services.cli.tables import table as compact_table
from services.projection.registry import SPECS

if TYPE_CHECKING:
    from services.config.settings import Settings
    from services.projection.replay import ReplayReport


@app.command()
def replay(
    projection: Annotated[str, typer.Argument(help="stage, health, proposals or all")],
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    progress_lines: Annotated[
        bool, typer.Option("--progress-lines", hidden=True, help="progress as JSON lines")
    ] = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Rebuild projections from sequence 1 into fresh stores, then swap them in.

    `all` rebuilds the three at once, each in its own process (every core works).
    """
    # each dead letter is counted in the summary; one log line apiece would bury the bar
    logging.getLogger("rapport.projector").setLevel(logging.ERROR)
    names = list(SPECS) if projection == "all" else [projection]
    if any(name not in SPECS for name in names):
        fail(f"unknown projection {projection!r}; choose {', '.join(SPECS)} or all", 2)
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if progress_lines:
        _one_as_lines(settings, names[0])
        return
    started = time.perf_counter()
    with Progress(*COLUMNS, console=console, disable=as_json) as bar:
        if len(names) == 1:
            reports = [_one_with_bar(settings, names[0], bar)]
        else:
            reports = run(_all_at_once(settings, names, bar))
    seconds = time.perf_counter() - started
    if as_json:
        figures = {r["projection"]: r for r in reports}
        if len(reports) > 1:
            events = max(r["events"] for r in reports)
            figures["all"] = {"events": events, "seconds": round(seconds, 3),
                              "eps": round(events / seconds) if seconds else 0}  # fmt: skip
        console.print_json(data=figures)
        return
    table = compact_table("projection", "events", "seconds", "events/s", "dead", "store", "swapped")
    for r in reports:
        table.add_row(
            r["projection"],
            f"{r['events']:,}",
            f"{r['seconds']:.2f}",
            f"{r['eps']:,.0f}",
            f"{r['dead_lettered']:,}",
            Path(r["store"]).name,
            "live" if r["swapped_live"] else "offline",
        )
    notes = ["live: adopted by the running service; offline: nothing was running"]
    if len(reports) > 1:
        notes.insert(0, f"all three at once in {seconds:.2f} s")
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    console.print(table)


COLUMNS = (
    TextColumn("[bold]{task.description:<9}"),
    BarColumn(),
    MofNCompleteColumn(),
    TaskProgressColumn(),
    TextColumn("{task.fields[rate]:>10} ev/s"),
    TimeElapsedColumn(),
    TimeRemainingColumn(),
)


def _figures(report: ReplayReport) -> dict[str, Any]:
    return {
        "projection": report.projection,
        "events": report.events,
        "seconds": round(report.seconds, 3),
        "eps": round(report.eps),
        "applied_seq": report.applied_seq,
        "store": str(report.store),
        "swapped_live": report.swapped_live,
        "dead_lettered": report.dead_lettered,
    }


def _one_with_bar(settings: Settings, name: str, bar: Progress) -> dict[str, Any]:
    """One projection, in this process."""
    from services.projection.replay import ReplayFailed, replay

    task = bar.add_task(name, total=None, rate="")

    def advance(done: int, total: int) -> None:
        elapsed = bar.tasks[task].elapsed or 0
        rate = f"{done / elapsed:,.0f}" if elapsed else ""
        bar.update(task, completed=done, total=total, rate=rate)

    try:
        report = run(replay(settings, name, advance))
    except ReplayFailed as exc:
        fail(str(exc))
    bar.update(task, completed=report.events, total=report.events, rate=f"{report.eps:,.0f}")
    return _figures(report)


def _one_as_lines(settings: Settings, name: str) -> None:
    """One projection, saying its progress as JSON lines (for `replay all`'s parent)."""
    from services.projection.replay import ReplayFailed, replay

    said = [0.0]

    def advance(done: int, total: int) -> None:
        if time.monotonic() - said[0] >= 0.2:
            said[0] = time.monotonic()
            typer.echo(json.dumps({"done": done, "total": total}))

    try:
        report = run(replay(settings, name, advance))
    except ReplayFailed as exc:
        fail(str(exc))
    typer.echo(json.dumps({"report": _figures(report)}))


async def _all_at_once(settings: Settings, names: list[str], bar: Progress) -> list[dict[str, Any]]:
    """Each projection in its own process at the same time; their bars here."""
    environment = {**os.environ, **child_settings(settings)}
    children = []
    for name in names:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services", "replay", name, "--progress-lines",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment,
        )  # fmt: skip
        children.append((name, process, bar.add_task(name, total=None, rate="")))

    async def follow(name: str, process: asyncio.subprocess.Process, task: TaskID) -> Any:
        assert process.stdout is not None
        assert process.stderr is not None
        said_wrong = asyncio.create_task(process.stderr.read())  # read as it comes: no stall
        report = None
        async for line in process.stdout:
            said = json.loads(line)
            if "report" in said:
                report = said["report"]
                bar.update(task, completed=report["events"], total=report["events"],
                           rate=f"{report['eps']:,.0f}")  # fmt: skip
            else:
                elapsed = bar.tasks[task].elapsed or 0
                rate = f"{said['done'] / elapsed:,.0f}" if elapsed else ""
                bar.update(task, completed=said["done"], total=said["total"], rate=rate)
        problem = (await said_wrong).decode().strip()
        if await process.wait() != 0 or report is None:
            return f"{name}: {problem.removeprefix('error:').strip() or 'failed'}"
        return report

    outcomes = await asyncio.gather(*(follow(*child) for child in children))
    failed = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if failed:
        fail("replay failed for " + "; ".join(failed))
    return list(outcomes)


def child_settings(settings: Settings) -> dict[str, str]:
    """What a child replay needs to reach the same NATS as this one, as environment."""
    found = {"RAPPORT_NATS_URL": settings.resolved_nats_url,
             "RAPPORT_DATA_DIR": str(settings.data_dir)}  # fmt: skip
    for key, value in settings.nats_auth().items():
        name = {"user": "USER", "password": "PASSWORD", "token": "TOKEN",
                "nkeys_seed": "NKEY_SEED", "user_credentials": "CREDS"}[key]  # fmt: skip
        found[f"RAPPORT_NATS_{name}"] = value
    return found

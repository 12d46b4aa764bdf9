"""`rapport replay PROJECTION|all`: rebuild from the log, without downtime, with a progress bar."""

from __future__ import annotations

import logging
from typing import Annotated

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
from rich.table import Table

from services.cli.common import DataDir, NatsUrl, app, console, fail, load_settings, run
from services.projection.registry import SPECS


@app.command()
def replay(
    projection: Annotated[str, typer.Argument(help="stage, health, proposals or all")],
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Rebuild projections from sequence 1 into fresh stores, then swap them in."""
    from services.projection.replay import ReplayFailed, ReplayReport, replay

    # each dead letter is counted in the summary; one log line apiece would bury the bar
    logging.getLogger("rapport.projector").setLevel(logging.ERROR)
    names = list(SPECS) if projection == "all" else [projection]
    if any(name not in SPECS for name in names):
        fail(f"unknown projection {projection!r}; choose {', '.join(SPECS)} or all", 2)
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    reports: list[ReplayReport] = []
    columns = (
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:>10} ev/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=as_json) as bar:
        for name in names:
            task = bar.add_task(name, total=None, rate="")

            def advance(done: int, total: int, task: TaskID = task) -> None:
                elapsed = bar.tasks[task].elapsed or 0
                rate = f"{done / elapsed:,.0f}" if elapsed else ""
                bar.update(task, completed=done, total=total, rate=rate)

            try:
                report = run(replay(settings, name, advance))
            except ReplayFailed as exc:
                fail(str(exc))
            bar.update(
                task, completed=report.events, total=report.events, rate=f"{report.eps:,.0f}"
            )
            reports.append(report)
    if as_json:
        console.print_json(
            data={
                r.projection: {
                    "events": r.events,
                    "seconds": round(r.seconds, 3),
                    "eps": round(r.eps),
                    "applied_seq": r.applied_seq,
                    "store": str(r.store),
                    "swapped_live": r.swapped_live,
                    "dead_lettered": r.dead_lettered,
                }
                for r in reports
            }
        )
        return
    table = Table("projection", "events", "seconds", "events/s", "dead letters", "store", "swapped")
    for r in reports:
        table.add_row(
            r.projection,
            f"{r.events:,}",
            f"{r.seconds:.2f}",
            f"{r.eps:,.0f}",
            f"{r.dead_lettered:,}",
            r.store.name,
            "live, by the running service" if r.swapped_live else "offline",
        )
    console.print(table)

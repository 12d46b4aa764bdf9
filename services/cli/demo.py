"""`rapport demo`: fill a running Rapport with a realistic, reproducible dataset."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from services.cli.asking import emit_json
from services.cli.common import DataDir, Json, NatsUrl, app, console, fail, load_settings, run
from services.demo.data import DEFAULT_SEED
from services.demo.seed import seed_demo
from services.ingest.client import IngestUnavailable


@app.command()
def demo(
    relationships: Annotated[
        int, typer.Option("--relationships", min=1, max=999, help="how many relationships")
    ] = 300,
    seed: Annotated[
        int, typer.Option("--seed", help="the same seed on the same day gives the same data")
    ] = DEFAULT_SEED,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Seed demo relationships (3 owners, 18 months) through the validated ingest."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    # with --json the progress bar stays quiet: standard output holds the JSON alone
    shown = Console(quiet=True) if as_json else console
    try:
        report = run(seed_demo(settings, shown, relationships=relationships, seed=seed))
    except IngestUnavailable as exc:
        fail(str(exc))
    if as_json:
        emit_json(asdict(report))
        if report.rejected:
            raise typer.Exit(1)
        return
    console.print(report.summary())
    for event_id, error in report.rejected[:20]:
        console.print(f"  [red]refused[/] {event_id}: {error}")
    if not report.caught_up:
        console.print("[yellow]the projections have not applied it all yet: give them a moment[/]")
    if report.rejected:
        raise typer.Exit(1)

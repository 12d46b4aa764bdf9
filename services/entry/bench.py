"""`rapport bench`: measure Rapport against the raw NATS limit and the alternatives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from services.cli.common import app, console, err_console, fail


@app.command()
def bench(
    events: Annotated[int, typer.Option("--events", min=1000)] = 1_000_000,
    relationships: Annotated[int, typer.Option("--relationships", min=10)] = 100_000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    quick: Annotated[bool, typer.Option("--quick", help="20 000 events: a CI-sized run")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="where the temporary servers and stores go")
    ] = None,
) -> None:
    """Publish a seeded workload, then measure projectors, replay, end to end and queries.

    Progress goes to stderr as each phase starts (with `--json`, stdout holds only the JSON).
    """
    import asyncio

    try:
        from benchmarks.bench import Options, run
    except ImportError as exc:
        fail(f"the benchmark needs the repository's benchmarks/ package ({exc})")
    options = (
        Options.quick()
        if quick
        else Options(events=events, relationships=relationships, seed=seed, workdir=workdir)
    )
    if quick and workdir is not None:
        options = Options(**{**options.__dict__, "workdir": workdir})
    if workdir is not None:
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--workdir {workdir}: cannot use it as a folder ({exc.strerror or exc})")

    def say(message: str) -> None:
        err_console.print(f"[dim]· {message}[/]", highlight=False)

    result = asyncio.run(run(options, say))
    if as_json:
        console.print_json(data=result)
        return
    console.print(table(result))


def table(result: dict[str, Any]) -> Table:
    """The figures as a Rich table."""
    out = Table("measure", "figure", title=f"rapport bench: {result['events']:,} events, "
                f"{result['relationships']:,} relationships")  # fmt: skip
    out.add_row("publish (async, Nats-Msg-Id)", f"{result['publish_eps']:,} ev/s")
    out.add_row("end to end, three projections", f"{result['e2e_eps']:,} ev/s")
    for name, eps in result["projector_eps"].items():
        out.add_row(f"projector {name}, live", f"{eps:,} ev/s")
    for name, eps in result["replay_eps"].items():
        out.add_row(f"replay {name}", f"{eps:,} ev/s")
    out.add_row("replay all (three processes at once)", f"{result['replay_all_eps']:,} ev/s")
    out.add_row(
        "raw pipeline (publishers + 3 raw consumers)", f"{result['raw_pipeline_eps']:,} ev/s"
    )
    out.add_row("raw pull fetch + ack (the limit)", f"{result['raw_fetch_ack_eps']:,} ev/s")
    out.add_row("raw ordered consumer, read only", f"{result['raw_ordered_eps']:,} ev/s")
    out.add_row("FastStream per-message default", f"{result['faststream_default_eps']:,} ev/s")
    peer = result.get("eventsourcing_eps")
    out.add_row("eventsourcing library peer", f"{peer:,} ev/s" if peer else "not installed")
    q = result["query_ms"]
    out.add_row("query p50 / p99, NATS", f"{q['nats_p50']} / {q['nats_p99']} ms")
    busy = [key for key in q if key.endswith("_clients_p50")]
    for key in busy:
        clients = key.split("_")[1]
        p99 = q[key.replace("p50", "p99")]
        out.add_row(f"query p50 / p99, NATS ({clients} clients)", f"{q[key]} / {p99} ms")
    out.add_row("query p50 / p99, HTTP (20 clients)", f"{q['http_p50']} / {q['http_p99']} ms")
    http = result.get("http")
    if http:
        out.add_row(
            "HTTP GET /v1/relationships/{id} (wrk, 20 connections)", f"{http['rps']:,} req/s"
        )
        out.add_row(
            f"HTTP p50 / p99 at {http['at_rps']:,} req/s (hey)",
            f"{http['p50_ms']} / {http['p99_ms']} ms",
        )
        out.add_row(
            f"the same, arrivals spread out (wrk, {http['spread_rps']:,} req/s)",
            f"{http['spread_p50_ms']} / {http['spread_p99_ms']} ms",
        )
    board = result.get("dashboard")
    if board:
        out.add_row(
            "dashboard overview p50 / p99 (hey)",
            f"{board['overview_p50_ms']} / {board['overview_p99_ms']} ms",
        )
        out.add_row(
            "dashboard relationship page p50 / p99 (hey)",
            f"{board['relationship_p50_ms']} / {board['relationship_p99_ms']} ms",
        )
    for key, label in (("search", "search (stage.list q)"), ("health_summary", "health.summary")):
        if result.get(key):
            figure = result[key]
            out.add_row(f"{label} p50 / p99, NATS", f"{figure['p50_ms']} / {figure['p99_ms']} ms")
    if result.get("upkeep_s") is not None:
        out.add_row("upkeep after catching up (bands, ceilings)", f"{result['upkeep_s']} s")
    out.add_row("validated ingest, batches of 1 000", f"{result['ingest_eps']:,} ev/s")
    out.add_row(
        "validated ingest, JetStream's window only", f"{result['ingest_eps_window_only']:,} ev/s"
    )
    for name, mb in result["rss_mb"].items():
        out.add_row(f"peak RSS {name}", f"{mb} MB")
    for name, mb in result["store_mb"].items():
        out.add_row(f"store {name}", f"{mb} MB")
    indicative = " (indicative)" if "ratios_note" in result else ""
    for name, value in result["ratios"].items():
        out.add_row(f"ratio {name}{indicative}", "-" if value is None else f"{value}")
    if indicative:
        out.caption = result["ratios_note"]
    for skipped in result.get("skipped", []):
        out.add_row("skipped", skipped)
    return out

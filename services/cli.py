"""The `rapport` command line (Typer + Rich): `up`, `service` and the command modules."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from services import (  # noqa: F401  (they register their commands)
    cli_audit,
    cli_bench,
    cli_demo,
    cli_emit,
    cli_queries,
    cli_replay,
    cli_tokens,
)
from services.cli_common import (
    DataDir,
    HttpHost,
    HttpPort,
    NatsPort,
    NatsUrl,
    app,
    console,
    fail,
    load_settings,
    run,
)

if TYPE_CHECKING:
    from services.settings import Settings


@app.command()
def up(
    data_dir: DataDir = None,
    nats_url: NatsUrl = None,
    http_host: HttpHost = None,
    http_port: HttpPort = None,
    nats_port: NatsPort = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="once ready, seed the demo data (as `rapport demo`)")
    ] = False,
) -> None:
    """Run everything: embedded NATS (unless --nats-url), the streams, every service, HTTP."""
    from services.runtime import Runtime

    settings = load_settings(
        data_dir=data_dir,
        nats_url=nats_url,
        http_host=http_host,
        http_port=http_port,
        nats_port=nats_port,
    )
    run(Runtime(settings, console, demo=demo).run())


SERVICE_NAMES = ("stage", "health", "proposals", "ingest", "gateway")


@app.command()
def service(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICE_NAMES)}")],
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
    http_host: HttpHost = None,
    http_port: HttpPort = None,
) -> None:
    """Run one service alone, for scaling out."""
    from services.hosting import configure_logging

    if name not in SERVICE_NAMES:
        fail(f"unknown service {name!r}; choose one of: {', '.join(SERVICE_NAMES)}", 2)
    settings = load_settings(
        nats_url=nats_url, data_dir=data_dir, http_host=http_host, http_port=http_port
    )
    configure_logging(settings.log_level, name)
    run(_run_service(name, settings))


async def _run_service(name: str, settings: Settings) -> None:
    from services.hosting import serve

    if name == "gateway":
        from services.gateway import serve_gateway

        await serve_gateway(settings)
        return
    if name == "ingest":
        from services.ingest_service import IngestService

        await serve(IngestService(settings))
        return
    from services.projection_service import ProjectionService
    from services.specs import SPECS

    await serve(ProjectionService(settings, SPECS[name]))


def main() -> None:
    """Entry point of the `rapport` console script."""
    try:
        app()
    except BrokenPipeError:  # e.g. `rapport history x | head`
        sys.exit(0)

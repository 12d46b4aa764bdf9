"""`rapport up` and `rapport service NAME`: the commands that run Rapport's processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import (
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
from services.config.roster import SERVICES

if TYPE_CHECKING:
    from services.config.settings import Settings


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
    from services.supervisor.runtime import Runtime

    settings = load_settings(
        find_running=False,
        data_dir=data_dir,
        nats_url=nats_url,
        http_host=http_host,
        http_port=http_port,
        nats_port=nats_port,
    )
    run(Runtime(settings, console, demo=demo).run())


@app.command()
def service(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICES)}")],
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
    http_host: HttpHost = None,
    http_port: HttpPort = None,
) -> None:
    """Run one service alone, for scaling out."""
    from services.nats.process import configure_logging

    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of: {', '.join(SERVICES)}", 2)
    settings = load_settings(
        find_running=False,
        nats_url=nats_url,
        data_dir=data_dir,
        http_host=http_host,
        http_port=http_port,
    )
    configure_logging(settings.log_level, name)
    run(_run_service(name, settings))


async def _run_service(name: str, settings: Settings) -> None:
    from services.nats.process import serve

    if name == "gateway":
        from services.gateway.app import serve_gateway

        await serve_gateway(settings)
        return
    if name == "ingest":
        from services.ingest.service import IngestService

        await serve(IngestService(settings))
        return
    if name == "webhooks":
        from services.webhooks.service import WebhooksService

        await serve(WebhooksService(settings))
        return
    from services.projection.registry import SPECS
    from services.projection.service import ProjectionService

    await serve(ProjectionService(settings, SPECS[name]))

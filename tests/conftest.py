"""Shared fixtures: a real nats-server per test on a free loopback port, with a temp store."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import nats
import pytest
import uvicorn

from services.config.settings import Settings
from services.gateway.app import create_app
from services.ingest.service import IngestService
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from services.webhooks.service import WebhooksService

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from nats.aio.client import Client as NATS


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A JetStream nats-server of its own for one test."""
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), name=f"test-{tmp_path.name}")
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    """A client connected to the test's server, with the contract's streams in place."""
    client = await nats.connect(nats_server.url)
    await ensure_streams(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def settings(nats_server: EmbeddedNats, tmp_path: Path) -> Settings:
    """Settings pointing at the test's server and a temp data dir."""
    return Settings(nats_url=nats_server.url, data_dir=tmp_path / "data", http_port=free_port())


@pytest.fixture
async def services(
    settings: Settings, nc: NATS
) -> AsyncIterator[dict[str, ProjectionService[Any]]]:
    """Every projection service, started on the test's server."""
    started = {name: ProjectionService(settings, spec) for name, spec in SPECS.items()}
    for service in started.values():
        await service.start()
    try:
        yield started
    finally:
        for service in started.values():
            await service.stop()


@pytest.fixture
async def ingest_service(
    settings: Settings, services: dict[str, ProjectionService[Any]]
) -> AsyncIterator[IngestService]:
    """The ingest service, answering `rapport.ingest` (the projections index the ids)."""
    service = IngestService(settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def gateway(settings: Settings, ingest_service: IngestService) -> AsyncIterator[str]:
    """The HTTP gateway under uvicorn on a free loopback port (POST asks the ingest service),
    with every other service of `rapport up` running too (the webhooks service answers its
    routes, and /healthz names any service that does not answer)."""
    webhooks = WebhooksService(settings)
    await webhooks.start()
    try:
        async with running_gateway(settings) as url:
            yield url
    finally:
        await webhooks.stop()


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[str]:
    """Serve the gateway app in this event loop until the block ends."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.http_port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, what="the gateway to start")
    try:
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], *, within: float = 10.0, what: str = "it"
) -> None:
    """Poll a condition until it holds; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)

"""`rapport service gateway`: the HTTP face of Rapport (FastAPI), answered over NATS."""

from __future__ import annotations

import contextlib
import logging
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from nats.js.errors import NotFoundError

from events.subjects import DLQ_STREAM, EVENTS_STREAM, ping_subject
from services.config.failures import Failure
from services.config.tokens import TokenRegistry, http_host_for
from services.gateway.auth import TokenGuard
from services.gateway.dashboard.routes import router as web_router
from services.gateway.events import json_response
from services.gateway.events import router as events_router
from services.gateway.login import login_routes
from services.gateway.metrics import Metrics, ping_all
from services.gateway.queries import router as queries_router
from services.nats.connection import connect
from services.nats.embedded import port_is_free
from services.nats.log_reader import DirectReader
from services.nats.process import settle_memory

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg

    from services.config.settings import Settings

log = logging.getLogger("rapport.gateway")

DESCRIPTION = """Rapport tracks professional relationships from first handshake to partnership.

Post CloudEvents to `/v1/events`; read the projections under `/v1/relationships`,
`/v1/funnel` and `/v1/proposals`. The public contract is the same over NATS.
"""


def create_app(settings: Settings) -> FastAPI:
    """The gateway app; NATS is connected in its lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(settings, "gateway")
        app.state.nc = nc
        app.state.reader = DirectReader(nc, timeout=settings.request_timeout * 2)

        async def ping(msg: Msg) -> None:
            status = {"service": "gateway", "pid": os.getpid()}
            status["http"] = f"http://{settings.http_host}:{settings.http_port}"
            await msg.respond(orjson.dumps(status))

        await nc.subscribe(ping_subject("gateway"), cb=ping)
        settle_memory()
        try:
            yield
        finally:
            await app.state.reader.close()
            with contextlib.suppress(Exception):
                await nc.drain()

    app = FastAPI(
        title="Rapport",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    registry = TokenRegistry.from_settings(settings)
    app.state.tokens = registry
    metrics = Metrics()
    app.add_middleware(TokenGuard, registry=registry)
    app.add_middleware(metrics.middleware)
    for method, path, endpoint in login_routes(registry):
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    if settings.cors_origins:  # off unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.include_router(events_router)
    app.include_router(queries_router)
    app.include_router(web_router)
    app.add_api_route("/healthz", healthz, methods=["GET"], summary="Is Rapport able to work")
    app.add_api_route("/metrics", metrics.scrape, methods=["GET"], summary="Prometheus metrics")
    return app


async def healthz(request: Request) -> Response:
    """NATS connected, both streams present, no projection stopped: 200; else 503 and why."""
    nc: NATS = request.app.state.nc
    streams: dict[str, Any] = {}
    problems: list[str] = []
    if not nc.is_connected:
        problems.append("not connected to NATS")
    else:
        js = nc.jetstream(timeout=request.app.state.settings.request_timeout)
        for name in (EVENTS_STREAM, DLQ_STREAM):
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                problems.append(f"stream {name} is missing")
                continue
            except Exception as exc:
                problems.append(f"stream {name} did not answer ({exc.__class__.__name__})")
                continue
            streams[name] = {"messages": info.state.messages, "last_seq": info.state.last_seq}
    services: dict[str, Any] = {}
    if nc.is_connected:
        for name, status in (await ping_all(nc)).items():
            failure = status.get("failure") if status else None
            services[name] = {"up": status is not None, "failure": failure}
            if failure:  # a bug stopped it: it answers from what it applied, and moves no more
                problems.append(f"projection {name} stopped: {failure}")
    payload = {
        "status": "degraded" if problems else "ok",
        "nats": {
            "connected": nc.is_connected,
            "url": nc.connected_url.geturl() if nc.connected_url else None,
        },
        "streams": streams,
        "services": services,
        "problems": problems,
    }
    return json_response(payload, 503 if problems else 200)


async def serve_gateway(settings: Settings) -> None:
    """Serve HTTP until SIGINT or SIGTERM (uvicorn handles the signals)."""
    if settings.http_port and not port_is_free("127.0.0.1", settings.http_port):
        raise Failure(
            f"HTTP port {settings.http_port} on {settings.http_host} is already in use; "
            "choose another with --http-port / RAPPORT_HTTP_PORT"
        )
    app = create_app(settings)
    host, notice = http_host_for(settings, app.state.tokens)
    if notice:
        log.warning(notice)
    config = uvicorn.Config(
        app,
        host=host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()

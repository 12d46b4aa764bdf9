"""`rapport service gateway`: the HTTP face of Rapport (FastAPI), answered over NATS."""

from __future__ import annotations

import contextlib
import logging
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import orjson
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse

from events.subjects import ping_subject
from services.config.failures import Failure
from services.config.tokens import TokenRegistry, http_host_for
from services.gateway import errors
from services.gateway.auth import TokenGuard
from services.gateway.binary import SPECVERSION_HEADER
from services.gateway.dashboard.routes import router as web_router
from services.gateway.events import router as events_router
from services.gateway.healthz import HEALTHZ_RESPONSES, healthz
from services.gateway.login import login_routes
from services.gateway.metrics import METRICS_RESPONSES, Metrics
from services.gateway.notices import router as notices_router
from services.gateway.openapi import finish
from services.gateway.queries import router as queries_router
from services.gateway.sessions import Sessions
from services.nats.connection import connect
from services.nats.embedded import port_is_free
from services.nats.log_reader import DirectReader
from services.nats.process import settle_memory

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.msg import Msg

    from services.config.settings import Settings

log = logging.getLogger("rapport.gateway")

DESCRIPTION = """Rapport tracks professional relationships from first handshake to partnership.

Post CloudEvents to `/v1/events`; read the projections under `/v1/relationships`,
`/v1/funnel` and `/v1/proposals`. The public contract is the same over NATS. Every error is
`{"error": {"code", "message"}}`.
"""
# CloudEvents binary mode from another origin (CORS) sends its attributes as headers
CE_HEADERS = [SPECVERSION_HEADER] + [
    f"ce-{name}" for name in ("id", "source", "type", "subject", "time", "dataschema", "actor")
]


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
        docs_url=None,  # the dashboard serves /docs from packaged files, not from a CDN
        redirect_slashes=False,  # `/v1/relationships/` is no route: a 404, not a redirect
    )
    app.state.settings = settings
    registry = TokenRegistry.from_settings(settings)
    app.state.tokens = registry
    sessions = Sessions()
    origins = [o.strip() for o in (settings.cors_origins or "").split(",") if o.strip()]
    metrics = Metrics()
    errors.install(app)
    app.add_middleware(TokenGuard, registry=registry, sessions=sessions, allowed_origins=origins)
    app.add_middleware(metrics.middleware)
    for method, path, endpoint in login_routes(registry, sessions, secure=settings.cookie_secure):
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    if origins:  # off unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", *CE_HEADERS],
        )
    app.add_middleware(errors.LastResort)  # outermost: whatever fails inside is answered
    app.include_router(events_router)
    app.include_router(queries_router)
    app.include_router(notices_router)  # GET /v1/notices (SSE), /v1/webhooks (admin)
    app.include_router(web_router)
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        summary="Is Rapport able to work",
        response_model=None,
        responses=HEALTHZ_RESPONSES,
    )
    app.add_api_route(
        "/metrics",
        metrics.scrape,
        methods=["GET"],
        summary="Prometheus metrics",
        response_model=None,
        response_class=PlainTextResponse,
        responses=METRICS_RESPONSES,
    )
    finish(app, locked=registry.enabled)
    return app


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

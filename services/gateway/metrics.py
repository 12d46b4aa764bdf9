"""GET /metrics: Prometheus text for events applied, lag, dead letters and request latency."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from events.subjects import DLQ_STREAM, EVENTS_STREAM
from services.config.roster import PROJECTIONS, SERVICES
from services.gateway.openapi import UNAUTHORIZED, json_errors
from services.nats.broker import status_of

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text: events applied, lag, dead letters, latency"},
    **json_errors({401: UNAUTHORIZED, 403: "only a token with the `admin` scope may scrape"}),
}


class Metrics:
    """The gateway's registry; service figures are gathered when scraped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "rapport_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, text, labels, registry=self.registry)

        self.applied = gauge("rapport_events_applied", "Events applied", ("projection",))
        self.applied_seq = gauge(
            "rapport_applied_seq", "Last stream sequence applied", ("projection",)
        )
        self.lag = gauge(
            "rapport_projection_lag", "Stream last sequence - applied", ("projection",)
        )
        self.dead = gauge("rapport_dead_lettered", "Events dead-lettered by", ("projection",))
        self.failed = gauge(
            "rapport_projection_failed", "1 when a bug stopped the projection", ("projection",)
        )
        self.up = gauge("rapport_service_up", "1 when the service answered", ("service",))
        self.trouble = gauge(
            "rapport_service_problem",
            "1 while the service reports a problem (a full disk, JetStream refusing writes)",
            ("service",),
        )
        self.stream_last = gauge("rapport_stream_last_seq", "Last sequence of RAPPORT_EVENTS")
        self.stream_messages = gauge("rapport_stream_messages", "Events stored")
        self.dlq = gauge("rapport_dlq_messages", "Messages in RAPPORT_DLQ")

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware timing every request under its route template (plain ASGI: cheap)."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def note_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, note_status)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                self.latency.labels(scope["method"], route, str(status[0])).observe(
                    time.perf_counter() - started
                )

        return timed

    async def scrape(self, request: Request) -> Response:
        """Gather stream and service figures, then render everything."""
        nc: NATS = request.app.state.nc
        last_seq = 0
        with contextlib.suppress(Exception):
            js = nc.jetstream(timeout=1)
            info = await js.stream_info(EVENTS_STREAM)
            last_seq = info.state.last_seq
            self.stream_last.set(last_seq)
            self.stream_messages.set(info.state.messages)
            self.dlq.set((await js.stream_info(DLQ_STREAM)).state.messages)
        statuses = await ping_all(nc)
        for name, status in statuses.items():
            self.up.labels(name).set(1 if status is not None else 0)
            self.trouble.labels(name).set(1 if status and status.get("problem") else 0)
            if name in PROJECTIONS and status is not None:
                self.applied.labels(name).set(status.get("events_applied", 0))
                self.applied_seq.labels(name).set(status.get("applied_seq", 0))
                self.dead.labels(name).set(status.get("dead_lettered", 0))
                self.failed.labels(name).set(1 if status.get("failure") else 0)
                self.lag.labels(name).set(max(0, last_seq - status.get("applied_seq", 0)))
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


SUPERVISOR = "up"  # `rapport up` answers a ping too, when it runs the services


async def ping_all(nc: NATS) -> dict[str, dict[str, Any] | None]:
    """Every service's status, and the supervisor's (None: it did not answer)."""
    names = (*SERVICES, SUPERVISOR)
    statuses = await asyncio.gather(*(status_of(nc, name) for name in names))
    return dict(zip(names, statuses, strict=True))

"""GET /healthz: can Rapport work? NATS, the three streams, and no projection stopped by a bug."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict

from events.replies import Problem
from events.subjects import DLQ_STREAM, EVENTS_STREAM, NOTICES_STREAM
from services.gateway.metrics import SUPERVISOR, ping_all
from services.gateway.responses import json_response

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class NatsStatus(_Part):
    """The gateway's connection to NATS."""

    connected: bool
    url: str | None


class StreamStatus(_Part):
    """A stream's size."""

    messages: int
    last_seq: int


class ServiceStatus(_Part):
    """Whether a service answered its ping, the bug that stopped it, what keeps it from work."""

    up: bool
    failure: str | None
    problem: str | None = None


class Healthz(_Part):
    """What /healthz answers: `ok`, or `degraded` with the problems in words."""

    status: str
    nats: NatsStatus
    streams: dict[str, StreamStatus]
    services: dict[str, ServiceStatus]
    problems: list[str]


class HealthzDegraded(Healthz):
    """A degraded answer is an error too: `error` says it in the contract's shape."""

    error: Problem


HEALTHZ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Healthz, "description": "Rapport can work"},
    503: {"model": HealthzDegraded, "description": "something stops it: `problems` says what"},
}


async def healthz(request: Request) -> Response:
    """NATS connected, the streams present, no projection stopped: 200; else 503 and why."""
    nc: NATS = request.app.state.nc
    streams: dict[str, Any] = {}
    problems: list[str] = []
    if not nc.is_connected:
        problems.append("not connected to NATS")
    else:
        js = nc.jetstream(timeout=request.app.state.settings.request_timeout)
        for name in (EVENTS_STREAM, DLQ_STREAM, NOTICES_STREAM):
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
        statuses = await ping_all(nc)
        for name, status in statuses.items():
            if status is None:
                if name != SUPERVISOR:  # services may run without `rapport up`
                    services[name] = {"up": False, "failure": None}
                    problems.append(f"service {name} does not answer (down, or restarting)")
                continue
            failure, problem = status.get("failure"), status.get("problem")
            services[name] = {"up": True, "failure": failure, "problem": problem}
            if failure:  # a bug stopped it: it answers from what it applied, and moves no more
                problems.append(f"projection {name} stopped: {failure}")
            if problem:  # a full disk, JetStream refusing writes...: it heals when that goes
                who = "rapport up" if name == SUPERVISOR else name
                problems.append(f"{who}: {problem}")
    payload: dict[str, Any] = {
        "status": "degraded" if problems else "ok",
        "nats": {
            "connected": nc.is_connected,
            "url": nc.connected_url.geturl() if nc.connected_url else None,
        },
        "streams": streams,
        "services": services,
        "problems": problems,
    }
    if problems:
        payload["error"] = {"code": "unavailable", "message": "; ".join(problems)}
    return json_response(payload, 503 if problems else 200)

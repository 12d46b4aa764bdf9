"""The FastStream broker every service answers requests with, and the ping every service answers."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import orjson
from faststream.nats import (
    NatsBroker,
    NatsCredentials,
    NatsMessage,
    NatsNKey,
    NatsSecurity,
    NatsToken,
    NatsUserPassword,
)

from events.subjects import ping_subject
from services.nats.connection import flush

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.nats.process import Service


def make_broker(settings: Settings, name: str) -> NatsBroker:
    """A FastStream broker for request-reply handlers, reconnecting forever."""
    return NatsBroker(
        settings.nats_servers,
        name=f"rapport-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        logger=_quiet(logging.getLogger(f"rapport.{name}.broker")),
        # FastStream logs every message at this level: keep access logs out of INFO
        log_level=logging.DEBUG,
        graceful_timeout=5.0,
        security=broker_security(settings),
        inbox_prefix=settings.inbox_prefix,
    )


def _quiet(logger: logging.Logger) -> logging.Logger:
    """The broker's logger, errors only: its connection's drops and returns are said once, by
    the service's own connection (`services.nats.connection`), not again with a traceback."""
    logger.setLevel(logging.ERROR)
    return logger


def broker_security(settings: Settings) -> NatsSecurity | None:
    """The same NATS credentials as `Settings.nats_auth`, in FastStream's terms."""
    auth = settings.nats_auth()
    if "token" in auth:
        return NatsToken(auth["token"])
    if "user" in auth:
        return NatsUserPassword(auth["user"], auth.get("password", ""))
    if "user_credentials" in auth:
        return NatsCredentials.from_file(auth["user_credentials"])
    if "nkeys_seed" in auth:
        return NatsNKey(auth["nkeys_seed"])
    return None


async def start_broker(broker: NatsBroker) -> None:
    """Start answering, and return only once the server knows every subscription."""
    await broker.start()
    await flush(broker.connection)  # a request racing the SUBs would find no responders


def add_ping(broker: NatsBroker, service: Service) -> None:
    """Answer `rapport.ctl.<name>.ping` with the service's status (every instance answers)."""
    started = time.time()

    @broker.subscriber(ping_subject(service.name))
    async def ping(msg: NatsMessage) -> bytes:
        status = {"service": service.name, "pid": os.getpid(), "uptime_s": time.time() - started}
        status.update(service.status())
        return orjson.dumps(status)


async def status_of(nc: NATS, name: str, within: float = 0.5) -> dict[str, Any] | None:
    """What service `name` says of itself on its ping (None: it did not answer in time)."""
    try:
        reply = await nc.request(ping_subject(name), b"", timeout=within)
    except Exception:
        return None
    status: dict[str, Any] = orjson.loads(reply.data)
    return status

"""What every Rapport service process shares: its FastStream broker, signals and a ping."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any, Protocol

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

from events.subjects import CONTROL_PREFIX
from services.connection import flush

if TYPE_CHECKING:
    from services.settings import Settings

log = logging.getLogger("rapport")


class Service(Protocol):
    """A long-running process: started, stopped, and able to say how it is."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


def ping_subject(service: str) -> str:
    """Subject every instance of a service answers with its status."""
    return f"{CONTROL_PREFIX}.{service}.ping"


def swap_subject(projection: str, instance: str) -> str:
    """Subject a running projection instance takes a rebuilt store on (`rapport replay`)."""
    return f"{CONTROL_PREFIX}.{projection}.{instance}.swap"


def make_broker(settings: Settings, name: str) -> NatsBroker:
    """A FastStream broker for request-reply handlers, reconnecting forever."""
    return NatsBroker(
        settings.nats_servers,
        name=f"rapport-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        logger=logging.getLogger(f"rapport.{name}.broker"),
        # FastStream logs every message at this level: keep access logs out of INFO
        log_level=logging.DEBUG,
        graceful_timeout=5.0,
        security=broker_security(settings),
    )


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


def reply(payload: dict[str, Any]) -> bytes:
    """Serialise a reply the same way in every handler."""
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def error_reply(code: str, message: str, **extra: Any) -> bytes:
    """The contract's error reply: `{"error": {"code", "message"}}`, `error` first.

    The gateway tells an error from an answer by that first key, without parsing the reply.
    """
    return reply({"error": {"code": code, "message": message}, **extra})


def settle_memory() -> None:
    """After start-up: keep what was loaded out of the collector's way, collect less often.

    A service allocates many short-lived objects per event or request; with the default
    thresholds the cyclic collector runs thousands of times a second and rescans the
    long-lived objects (modules, caches) each time.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


async def serve(service: Service) -> None:
    """Run a service until SIGINT or SIGTERM, then stop it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    settle_memory()
    log.info("%s ready", service.name)
    try:
        await stop.wait()
    finally:
        log.info("%s stopping", service.name)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(service.stop(), 15)


def configure_logging(level: str, service: str) -> None:
    """One log format for every process, naming the service."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {service:<9} %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("nats").setLevel(logging.WARNING)

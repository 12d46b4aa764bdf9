"""What every service process shares: its lifecycle protocol, signals, memory settings, logs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Any, Protocol

log = logging.getLogger("rapport")


class Service(Protocol):
    """A long-running process: started, stopped, and able to say how it is."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


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

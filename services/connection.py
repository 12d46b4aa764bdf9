"""Connect to NATS the same way in every service and command."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import nats
from nats.errors import NoServersError

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.settings import Settings

log = logging.getLogger("rapport.nats")


class NatsUnavailable(RuntimeError):
    """No NATS server answered at the configured URL."""


async def connect(settings: Settings, name: str, *, retry_forever: bool = True) -> NATS:
    """Open a connection that reconnects by itself after the server comes back."""

    client: list[NATS] = []

    def closing() -> bool:
        return bool(client) and (client[0].is_closed or client[0].is_draining)

    async def on_error(exc: Exception) -> None:
        if not closing():
            log.warning("NATS error on %s: %s", name, exc)

    async def on_disconnect() -> None:
        if not closing():
            log.warning("%s disconnected from NATS; reconnecting", name)

    async def on_reconnect() -> None:
        log.info("%s reconnected to NATS", name)

    url = settings.resolved_nats_url
    try:
        nc = await nats.connect(
            url,
            name=f"rapport-{name}",
            connect_timeout=2,
            max_reconnect_attempts=-1 if retry_forever else 0,
            reconnect_time_wait=0.5,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            # big batches of pending publishes must not trip the client's flusher
            pending_size=64 * 1024 * 1024,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        raise NatsUnavailable(
            f"cannot reach NATS at {url} ({exc.__class__.__name__}). Is `rapport up` running? "
            "Point at another server with --nats-url / RAPPORT_NATS_URL."
        ) from None
    client.append(nc)
    return nc

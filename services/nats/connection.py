"""Connect to NATS the same way in every service and command."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, TypeVar

import nats
from nats.errors import AuthorizationError, NoRespondersError, NoServersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import ServiceUnavailableError

from services.config.failures import Failure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

log = logging.getLogger("rapport.nats")

T = TypeVar("T")


class NatsUnavailable(Failure):
    """No NATS server answered at the configured URL."""


CONNECT_WITHIN = 5.0  # seconds a command tries to reach NATS before it says it cannot


async def connect(settings: Settings, name: str, *, retry_forever: bool = True) -> NATS:
    """Open a connection that reconnects by itself after the server comes back.

    A service (`retry_forever`) also keeps trying to connect in the first place; a command
    gives up after `CONNECT_WITHIN` seconds and says why, in one sentence.
    """

    client: list[NATS] = []

    def closing() -> bool:
        return bool(client) and (client[0].is_closed or client[0].is_draining)

    async def on_error(exc: Exception) -> None:
        # before the first connection, a refusal is the answer, not a warning to repeat; while
        # reconnecting, each refused attempt is not news (the disconnect was said, once)
        if client and not closing() and not client[0].is_reconnecting:
            log.warning("NATS error on %s: %s", name, exc)

    async def on_disconnect() -> None:
        if not closing():
            log.warning("%s disconnected from NATS; reconnecting", name)

    async def on_reconnect() -> None:
        log.info("%s reconnected to NATS", name)

    url = settings.resolved_nats_url
    opening = nats.connect(
        settings.nats_servers,
        name=f"rapport-{name}",
        connect_timeout=2,
        allow_reconnect=retry_forever,
        max_reconnect_attempts=-1 if retry_forever else 2,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        # big batches of pending publishes must not trip the client's flusher
        pending_size=64 * 1024 * 1024,
        inbox_prefix=settings.inbox_prefix,
        **settings.nats_auth(),
    )
    try:
        if retry_forever:
            nc = await opening
        else:
            nc = await asyncio.wait_for(opening, CONNECT_WITHIN)
    except (NoServersError, OSError, TimeoutError) as exc:
        raise NatsUnavailable(
            f"cannot reach NATS at {url} ({exc.__class__.__name__}). Is `rapport up` running? "
            "Point at another server with --nats-url / RAPPORT_NATS_URL."
        ) from None
    except (AuthorizationError, NatsError) as exc:
        if "authorization" not in str(exc).lower():
            raise NatsUnavailable(f"cannot connect to NATS at {url}: {exc}") from None
        raise NatsUnavailable(
            f"NATS at {url} refused the credentials (authorization violation); set "
            "RAPPORT_NATS_USER/RAPPORT_NATS_PASSWORD, RAPPORT_NATS_TOKEN, RAPPORT_NATS_NKEY_SEED "
            "or RAPPORT_NATS_CREDS"
        ) from None
    client.append(nc)
    return nc


async def flush(nc: NATS, within: int = 5) -> None:
    """Return once the server has processed everything this client wrote before.

    `Client.flush()` alone does not promise that in nats-py 2.16: it writes its PING straight
    to the socket, ahead of the SUBs and PUBs still waiting for the client's flusher task, so
    the PONG can come back before the server has seen a new subscription (a request racing
    it then finds "no responders"). Hand the buffer to the flusher first, then ping.
    """
    push = getattr(nc, "_flush_pending", None)
    if push is not None and nc.is_connected:
        await push(force_flush=True)
    await nc.flush(timeout=within)


# what JetStream's API says while a cluster elects a leader (after losing a node, or its meta
# leader): the request times out, nobody answers, or "temporarily unavailable"
NOT_YET = (NatsTimeout, NoRespondersError, ServiceUnavailableError)


async def patiently(what: str, call: Callable[[], Awaitable[T]], within: float) -> T:
    """`call()`, again with backoff while JetStream cannot answer yet; past `within` s, its error.

    For the few setup requests a start or a replay cannot do without (stream info, consumer
    create and delete): a leader election takes seconds and must not fail them for nothing.
    """
    deadline = time.monotonic() + within
    backoff = 0.2
    while True:
        try:
            return await call()
        except NOT_YET as exc:
            if time.monotonic() + backoff >= deadline:
                raise
            log.warning("JetStream cannot %s yet (%s); retrying", what, exc.__class__.__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

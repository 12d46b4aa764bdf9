"""How the CLI, the gateway and the demo ask the ingest service: one request, its reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import NoRespondersError, TimeoutError

from events.subjects import INGEST_SUBJECT
from services.config.failures import Failure

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


async def request_ingest(nc: NATS, body: bytes, within: float) -> dict[str, Any]:
    """Send a body to `rapport.ingest` and decode the reply."""
    try:
        reply = await nc.request(INGEST_SUBJECT, body, timeout=within)
    except NoRespondersError:
        raise IngestUnavailable(
            f"the ingest service is not running (nobody answers {INGEST_SUBJECT}); "
            "is `rapport up` running?"
        ) from None
    except TimeoutError:
        raise IngestUnavailable(
            f"the ingest service did not answer within {within:g} s; retry with the same ids "
            "(retries are deduplicated)"
        ) from None
    decoded: dict[str, Any] = orjson.loads(reply.data)
    return decoded


class IngestUnavailable(Failure):
    """Nobody answered on `rapport.ingest`."""

"""One attempt at a delivery: the notice POSTed, signed per the Standard Webhooks specification.

Headers `webhook-id` (the notice id: the same on every retry, the receiver's idempotency key),
`webhook-timestamp` (seconds since 1970, when this attempt was signed) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the webhook's secret), by the
`standardwebhooks` library. A 2xx answer delivers; anything else, a timeout, a refused
connection or a redirect (never followed) is a failed attempt.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from services.webhooks.store import DELIVERED, Attempt
from services.webhooks.targets import BadTarget, check_target

if TYPE_CHECKING:
    from services.webhooks.targets import Allowed

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A signing secret, as Standard Webhooks writes them: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(secret: str, message_id: str, body: bytes, at: float) -> dict[str, str]:
    """The three Standard Webhooks headers (and the content type) for `body` sent at `at`."""
    moment = datetime.fromtimestamp(int(at), UTC)
    signature = Signer(secret).sign(message_id, moment, body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": signature,
        "user-agent": "rapport-webhooks",
    }


async def attempt(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
    *,
    allowed: Allowed,
    within: float,
) -> Attempt:
    """POST the notice once; what came of it (never raises for what the receiver does)."""
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        await check_target(url, allowed)  # again: the name may point elsewhere now
    except BadTarget as exc:
        return Attempt("refused", None, elapsed(), str(exc))
    headers = signed_headers(secret, message_id, body, time.time())
    try:
        # the whole attempt is bounded, however slowly a receiver trickles its answer
        response = await asyncio.wait_for(client.post(url, content=body, headers=headers), within)
    except (TimeoutError, httpx.TimeoutException):
        return Attempt("timeout", None, elapsed(), f"no answer within {within:g} s")
    except httpx.HTTPError as exc:
        return Attempt("error", None, elapsed(), f"{exc.__class__.__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Attempt(DELIVERED, response.status_code, elapsed(), None)
    return Attempt("failed", response.status_code, elapsed(), response.reason_phrase or None)

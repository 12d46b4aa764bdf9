"""How the CLI and the gateway ask the webhooks service (`rapport.ctl.webhooks.<verb>`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events.subjects import webhooks_subject
from services.queries.ask import Answer, ask

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

VERBS = ("add", "list", "remove", "deliveries", "resend")


async def ask_webhooks(nc: NATS, verb: str, payload: dict[str, Any], *, within: float) -> Answer:
    """One request to the webhooks service; no answer is an `unavailable` Answer."""
    return await ask(nc, webhooks_subject(verb), payload, within=within)

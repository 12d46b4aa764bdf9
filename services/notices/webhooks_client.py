"""How the CLI and the gateway ask the webhooks service (`rapport.ctl.webhooks.<verb>`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from events.subjects import webhooks_subject
from services.queries.ask import Answer

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

VERBS = ("add", "list", "remove", "deliveries", "resend")


async def ask_webhooks(nc: NATS, verb: str, payload: dict[str, Any], *, within: float) -> Answer:
    """One request to the webhooks service; no answer is an `unavailable` Answer."""
    subject = webhooks_subject(verb)
    try:
        message = await nc.request(subject, orjson.dumps(payload), timeout=within)
    except NoRespondersError:
        problem = f"the webhooks service is not running (nobody answers {subject})"
        return Answer(code="unavailable", problem=problem)
    except NatsTimeout:
        problem = f"the webhooks service did not answer {subject} within {within:g} s"
        return Answer(code="unavailable", problem=problem)
    except NatsError as exc:
        return Answer(code="unavailable", problem=f"NATS is not reachable ({exc})")
    reply = orjson.loads(message.data)
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "unavailable"))
        return Answer(
            data=reply, code=code, problem=str(error.get("message", code)), raw=message.data
        )
    return Answer(data=reply, raw=message.data)

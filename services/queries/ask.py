"""The one way to ask a service (a projection, or the webhooks service): a NATS request, its
reply, and what went wrong, in words.

The HTTP API turns an `Answer` into a response, the dashboard into a panel (or a sentence in
its place), the CLI into a table (or an error). A reply is an error when it says so in the
contract's shape, `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from events.subjects import AUDIT_SUBJECT, CONTROL_PREFIX, IDENTITY_SUBJECT, QUERY_PREFIX

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


@dataclass(frozen=True, slots=True)
class Answer:
    """A query's reply, or why there is none (`code` is the contract's error code)."""

    data: dict[str, Any] | None = None
    code: str | None = None
    problem: str | None = None
    raw: bytes = b""  # the reply as it came, to pass on unchanged

    @property
    def ok(self) -> bool:
        """The service answered with data."""
        return self.problem is None

    def value(self) -> dict[str, Any]:
        """The reply's data (only when `ok`)."""
        assert self.data is not None, self.problem
        return self.data


def service_of(subject: str) -> str:
    """The service answering a query subject (`rapport.q.audit` is the stage service's)."""
    if subject == AUDIT_SUBJECT:
        return "stage"
    if subject == IDENTITY_SUBJECT:
        return "projection"
    if subject.startswith(f"{CONTROL_PREFIX}."):  # rapport.ctl.<service>.<verb>
        return subject.removeprefix(f"{CONTROL_PREFIX}.").split(".")[0]
    return subject.removeprefix(f"{QUERY_PREFIX}.").split(".")[0]


async def ask(nc: NATS, subject: str, payload: dict[str, Any], *, within: float) -> Answer:
    """One query over NATS (`None` values left out); no answer is an `unavailable` Answer.

    A query that waits for `min_seq` is given its `wait_ms` on top of `within` seconds.
    """
    body = {key: value for key, value in payload.items() if value is not None}
    within += body.get("wait_ms", 2000) / 1000 if "min_seq" in body else 0
    service = service_of(subject)
    try:
        message = await nc.request(subject, orjson.dumps(body), timeout=within)
    except NoRespondersError:
        problem = f"the {service} service is not running (nobody answers {subject})"
        return Answer(code="unavailable", problem=problem)
    except NatsTimeout:
        problem = f"the {service} service did not answer {subject} within {within:g} s"
        return Answer(code="unavailable", problem=problem)
    except NatsError as exc:  # e.g. the connection to NATS is closed
        return Answer(code="unavailable", problem=f"NATS is not reachable ({exc})")
    reply = orjson.loads(message.data)
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "unavailable"))
        return Answer(
            data=reply, code=code, problem=str(error.get("message", code)), raw=message.data
        )
    return Answer(data=reply, raw=message.data)

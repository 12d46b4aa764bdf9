"""GET /v1/notices (server-sent events) and /v1/webhooks (administrators), over NATS.

`GET /v1/notices?kind=&owner=&relationship_id=` streams the notices as they are published:
each event's `id` is the notice's `RAPPORT_NOTICES` sequence, its `event` the kind, its `data`
the CloudEvent. A client that reconnects with `Last-Event-ID` (browsers do it by themselves;
`?last_event_id=` for one that cannot set the header) resumes right after the last one it had:
nothing missed, nothing twice. Without it, the stream
starts with the next notice published. Comments (`: ping`) every `RAPPORT_SSE_HEARTBEAT`
seconds keep proxies from closing a quiet stream. It needs the `read` scope, like every GET.

`/v1/webhooks` asks the webhooks service; only the `admin` scope may use it. Neither is in
the OpenAPI document (a stream that never ends, and routes that need the webhooks service):
docs/notices.md describes them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from events.fields import RELATIONSHIP_ID_PATTERN
from events.notices import KINDS
from services.gateway.auth import _bearer
from services.gateway.responses import STATUS_OF_CODE, error_response, json_response
from services.notices.feed import NoticeFilter, follow, next_seq
from services.notices.webhooks_client import ask_webhooks

router = APIRouter(prefix="/v1")

_RELATIONSHIP = re.compile(RELATIONSHIP_ID_PATTERN, re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SEQ = 2**63 - 1
MAX_BODY = 64 * 1024


class BadRequest(ValueError):
    """A parameter or body that cannot be read: the message names it."""


def notice_filter(request: Request) -> tuple[NoticeFilter, int | None]:
    """The filter a request asks for, and where it resumes (None: from the next notice)."""
    params = request.query_params
    unknown = sorted(set(params) - {"kind", "owner", "relationship_id", "last_event_id"})
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a parameter of /v1/notices")
    kinds: set[str] = set()
    for given in params.getlist("kind"):
        for kind in (part.strip() for part in given.split(",")):
            if kind not in KINDS:
                raise BadRequest(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
            kinds.add(kind)
    owners = params.getlist("owner")
    if len(owners) > 1 or (owners and not (0 < len(owners[0]) <= 256)):
        raise BadRequest("owner: give one owner, 1 to 256 characters")
    if owners and _CONTROL.search(owners[0]):
        raise BadRequest("owner: must not contain control characters")
    rels = params.getlist("relationship_id")
    if len(rels) > 1 or (rels and not _RELATIONSHIP.match(rels[0])):
        raise BadRequest("relationship_id: give one id of 1-128 letters, digits, _ or -")
    resume = None
    # the header, as EventSource sends it when it reconnects; the parameter for a client that
    # cannot set headers (a new EventSource, after the browser gave up on the old one)
    for name, last in (
        ("Last-Event-ID", request.headers.get("last-event-id")),
        ("last_event_id", params.get("last_event_id")),
    ):
        if last is not None and last.strip():
            if not last.strip().isdigit() or int(last) > MAX_SEQ:
                raise BadRequest(f"{name}: must be the id (a sequence) of a notice received")
            resume = int(last) + 1
            break
    wanted = NoticeFilter(
        frozenset(kinds), owners[0] if owners else None, rels[0] if rels else None
    )
    return wanted, resume


@router.get("/notices", include_in_schema=False)
async def notices(request: Request) -> Response:
    """The notices as they happen, as server-sent events (resumable with Last-Event-ID)."""
    try:
        wanted, resume = notice_filter(request)
    except BadRequest as exc:
        return error_response(400, str(exc))
    nc = request.app.state.nc
    settings = request.app.state.settings
    if resume is None:
        try:
            resume = await next_seq(nc, settings.request_timeout)
        except Exception as exc:  # the stream is missing, or NATS away
            return error_response(503, f"the notices cannot be read: {exc.__class__.__name__}")

    async def stream() -> Any:
        async for fed in follow(nc, wanted, resume, within=settings.request_timeout * 2):
            yield ServerSentEvent(data=fed.body.decode(), event=fed.notice.kind, id=str(fed.seq))

    return EventSourceResponse(
        stream(),
        ping=settings.sse_heartbeat,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# -- webhooks, for administrators -----------------------------------------------------------


def not_admin(request: Request) -> Response | None:
    """403 unless the token or session has the `admin` scope (an open gateway lets all in)."""
    registry = request.app.state.tokens
    if not registry.enabled:
        return None
    bearer = _bearer(request)
    token = registry.identify(bearer) if bearer is not None else None
    session = getattr(request.state, "session", None)
    if (token is not None and token.allows("admin")) or (
        session is not None and session.allows("admin")
    ):
        return None
    return error_response(403, "managing webhooks needs the admin scope")


async def webhooks_answer(
    request: Request, verb: str, payload: dict[str, Any], status: int = 200
) -> Response:
    """Ask the webhooks service; its answer, or its refusal with the contract's status."""
    refusal = not_admin(request)
    if refusal is not None:
        return refusal
    settings = request.app.state.settings
    answer = await ask_webhooks(
        request.app.state.nc, verb, payload, within=settings.request_timeout * 2
    )
    if answer.ok:
        return Response(answer.raw, status_code=status, media_type="application/json")
    if answer.data is not None and answer.code in STATUS_OF_CODE:
        return json_response(answer.data, STATUS_OF_CODE[answer.code])
    return error_response(503, answer.problem or "no answer")


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (at most 64 KiB)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest(f"body: more than {MAX_BODY} bytes")
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body: not JSON ({exc})") from None
    if not isinstance(found, dict):
        raise BadRequest("body: must be a JSON object")
    return found


@router.get("/webhooks", include_in_schema=False)
async def list_webhooks(request: Request) -> Response:
    """Every webhook (never a secret)."""
    return await webhooks_answer(request, "list", {})


@router.post("/webhooks", include_in_schema=False)
async def add_webhook(request: Request) -> Response:
    """Register a webhook: `{"url", "kinds"?, "owner"?}`; the reply holds its secret, once."""
    refusal = not_admin(request)
    if refusal is not None:
        return refusal
    try:
        body = await json_body(request)
    except BadRequest as exc:
        return error_response(400, str(exc))
    return await webhooks_answer(request, "add", body, status=201)


@router.delete("/webhooks/{webhook_id}", include_in_schema=False)
async def remove_webhook(request: Request, webhook_id: str) -> Response:
    """Forget a webhook."""
    return await webhooks_answer(request, "remove", {"id": webhook_id})


@router.get("/webhooks/{webhook_id}/deliveries", include_in_schema=False)
async def deliveries(request: Request, webhook_id: str) -> Response:
    """A webhook's latest deliveries, each with every attempt."""
    payload: dict[str, Any] = {"id": webhook_id}
    limit = request.query_params.get("limit")
    if limit is not None:
        if not limit.isdigit():
            return error_response(400, "limit: must be a whole number from 1 to 500")
        payload["limit"] = int(limit)
    return await webhooks_answer(request, "deliveries", payload)


@router.post("/webhooks/deliveries/{delivery_id}/resend", include_in_schema=False)
async def resend(request: Request, delivery_id: str) -> Response:
    """Deliver a delivery again."""
    if not delivery_id.isdigit() or int(delivery_id) > MAX_SEQ:
        return error_response(400, "delivery_id: must be the number of a delivery")
    return await webhooks_answer(request, "resend", {"delivery_id": int(delivery_id)}, 202)

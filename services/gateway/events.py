"""POST /v1/events: the HTTP door of the validated ingest (it asks `rapport.ingest`).

One ingest, one index of event ids: the gateway forwards the body to the ingest service over
NATS and turns its reply into HTTP statuses. A body must say it is JSON: without a JSON
Content-Type it is 415, since a page of another site may post `text/plain` (or nothing) without
asking first. A request carrying `ce-specversion` is in binary mode, and is made a structured
envelope before anything else looks at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from nats.errors import Error as NatsError

from events.replies import IngestRefusal, IngestReply
from services.gateway.binary import BinaryError, data_is_json, is_binary, structured
from services.gateway.openapi import EVENT_SCHEMA, FORBIDDEN, UNAUTHORIZED
from services.gateway.responses import CODE_OF_STATUS, json_response
from services.ingest.body import BodyError, split_body
from services.ingest.client import IngestUnavailable, request_ingest

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

ACCEPTED_CONTENT_TYPES = (
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
)
# A single event refused: the status that says why. A batch is always 202 with its parts.
STATUS_OF_REFUSAL = {"invalid": 422, "rejected": 422, "conflict": 409, "unavailable": 503}
STATUS_OF_BODY_ERROR = {"invalid": 400, "too_large": 413, "unavailable": 503}

_EXAMPLE = {
    "specversion": "1.0",
    "id": "9f0c1b7e-4a1d-4c59-9a53-2f1f5a3c0b11",
    "source": "crm-sync",
    "type": "rapport.interaction.recorded",
    "subject": "rel-42",
    "time": "2026-11-02T15:04:05Z",
    "actor": "maria@example.com",
    "data": {"kind": "meeting", "direction": "mutual", "sentiment": 0.6},
}
_BATCH_SCHEMA = {"type": "array", "items": EVENT_SCHEMA}
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One CloudEvents envelope, or a JSON array of them (a batch). Binary "
        "mode is accepted too: the attributes as `ce-*` headers (`ce-specversion`, `ce-id`, "
        "`ce-source`, `ce-type`, `ce-subject`, `ce-time`, ...), the `data` as the body.",
        "content": {
            "application/json": {
                "schema": {"oneOf": [EVENT_SCHEMA, _BATCH_SCHEMA]},
                "example": _EXAMPLE,
            },
            "application/cloudevents+json": {"schema": EVENT_SCHEMA},
            "application/cloudevents-batch+json": {
                "schema": _BATCH_SCHEMA,
                "example": [_EXAMPLE],
            },
        },
    }
}
_ERRORS = {
    400: "the body is not JSON, not an object or array, or a `ce-*` header cannot be read",
    401: UNAUTHORIZED,
    403: FORBIDDEN + ", or a browser session writes without its X-CSRF-Token or from another site",
    409: "a single event whose id is used by another event, or a stage change with a stale "
    "`from` or that lost a race",
    413: "the body or the batch is larger than the limits",
    415: "the Content-Type is missing or not JSON or CloudEvents JSON",
    422: "a single event broke the contract, the stage rules or the proposal lifecycle",
    503: "JetStream did not confirm, or the ingest did not answer; retry with the same ids",
}

router = APIRouter()


def body_error(status: int, message: str) -> Response:
    """An error about the whole body: nothing in it was taken."""
    rejected = [{"id": None, "error": message, "code": "invalid"}]
    error = {"code": CODE_OF_STATUS.get(status, "invalid"), "message": message}
    return json_response({"accepted": [], "rejected": rejected, "error": error}, status)


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` bytes (never buffering more)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/v1/events",
    status_code=202,
    summary="Record one event or a batch",
    openapi_extra=_BODY_DOC,
    response_model=None,
    responses={
        202: {
            "model": IngestReply,
            "description": "the ingest reply: `accepted` [{id, seq}] and `rejected`; a batch "
            "is always 202, naming each refused event with its `index`",
        },
        **{status: {"model": IngestRefusal, "description": why} for status, why in _ERRORS.items()},
    },
)
async def post_events(request: Request) -> Response:
    """Validate and append events; a batch keeps its good events and names the bad ones."""
    settings = request.app.state.settings
    nc: NATS = request.app.state.nc
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    binary = is_binary(request.headers, media_type)
    if binary and not data_is_json(media_type):
        return body_error(415, f"binary mode: content-type {media_type!r} is not JSON data")
    if not binary and media_type not in ACCEPTED_CONTENT_TYPES:
        return body_error(
            415,
            f"content-type {media_type!r} is not accepted; send one of "
            + ", ".join(ACCEPTED_CONTENT_TYPES),
        )
    limit = min(settings.max_body_bytes, nc.max_payload - 4096)  # what one NATS message holds
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return body_error(413, f"body: {declared} bytes is more than the limit of {limit}")
    body = await read_limited(request, limit)
    if body is None:
        return body_error(413, f"body: more than the limit of {limit} bytes")
    if binary:
        try:
            body = structured(request.headers, body)
        except BinaryError as exc:
            return body_error(exc.status, str(exc))
        if len(body) > limit:
            return body_error(413, f"event: {len(body)} bytes is more than the limit of {limit}")
    try:  # what is not events at all is refused here, without a trip to the ingest
        split_body(body, settings.max_batch)
    except BodyError as exc:
        return body_error(exc.status, str(exc))
    within = settings.publish_timeout + settings.request_timeout
    try:
        payload = await request_ingest(nc, body, within)
    except IngestUnavailable as exc:
        return body_error(503, str(exc))
    except NatsError as exc:  # e.g. the connection to NATS is closed
        return body_error(503, f"NATS is not reachable ({exc.__class__.__name__})")
    return _answer(payload, batch=body.lstrip()[:1] == b"[")


def _answer(payload: dict[str, Any], *, batch: bool) -> Response:
    """The ingest's reply as an HTTP response, its error in the contract's HTTP codes."""
    error = payload.get("error")
    if error:  # the body as a whole was refused
        status = STATUS_OF_BODY_ERROR.get(error.get("code"), 400)
        payload["error"] = {**error, "code": CODE_OF_STATUS[status]}
        return json_response(payload, status)
    rejected = payload.get("rejected", [])
    if batch or not rejected:
        return json_response(payload, 202)
    refused = rejected[0]  # the rejected entry keeps the ingest's code (`rejected` among them)
    status = STATUS_OF_REFUSAL.get(refused["code"], 422)
    payload["error"] = {"code": CODE_OF_STATUS[status], "message": refused["error"]}
    return json_response(payload, status)

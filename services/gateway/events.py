"""POST /v1/events: the HTTP door of the validated ingest (it asks `rapport.ingest`).

One ingest, one index of event ids: the gateway forwards the body to the ingest service over
NATS and turns its reply into HTTP statuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request, Response

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
STATUS_OF_CODE = {"invalid": 422, "rejected": 422, "conflict": 409, "unavailable": 503}
STATUS_OF_BODY_ERROR = {"invalid": 400, "too_large": 413}

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
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One CloudEvents envelope, or a JSON array of them (a batch).",
        "content": {
            "application/json": {"schema": {"type": "object"}, "example": _EXAMPLE},
            "application/cloudevents+json": {"schema": {"type": "object"}},
            "application/cloudevents-batch+json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [_EXAMPLE],
            },
        },
    }
}

router = APIRouter()


def json_response(payload: dict[str, Any], status: int) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def body_error(status: int, message: str) -> Response:
    """An error about the whole body: nothing in it was taken."""
    rejected = [{"id": None, "error": message, "code": "invalid"}]
    code = {413: "too_large", 415: "unsupported_media_type", 503: "unavailable"}.get(status)
    error = {"code": code or "invalid", "message": message}
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
    responses={
        202: {"description": "the ingest reply: `accepted` [{id, seq}] and `rejected`"},
        400: {"description": "the body is not JSON, or not an object or array"},
        409: {"description": "a single stage change lost a race or names a stale `from`"},
        413: {"description": "the body or the batch is larger than the limits"},
        415: {"description": "the content type is not JSON or CloudEvents JSON"},
        422: {"description": "a single event broke the contract or the stage rules"},
        503: {"description": "JetStream did not confirm; retry with the same ids"},
    },
)
async def post_events(request: Request) -> Response:
    """Validate and append events; a batch keeps its good events and names the bad ones."""
    settings = request.app.state.settings
    nc: NATS = request.app.state.nc
    content_type = request.headers.get("content-type", "application/json")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        return body_error(
            415,
            f"content-type {media_type!r} is not accepted; send one of "
            + ", ".join(ACCEPTED_CONTENT_TYPES),
        )
    limit = min(settings.max_body_bytes, nc.max_payload - 4096)  # what one NATS message holds
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return body_error(413, f"body: {declared} bytes is more than the limit of {limit}")
    body = await read_limited(request, limit)
    if body is None:
        return body_error(413, f"body: more than the limit of {limit} bytes")
    try:  # what is not events at all is refused here, without a trip to the ingest
        split_body(body, settings.max_batch)
    except BodyError as exc:
        return body_error(exc.status, str(exc))
    within = settings.publish_timeout + settings.request_timeout
    try:
        payload = await request_ingest(nc, body, within)
    except IngestUnavailable as exc:
        return body_error(503, str(exc))
    error = payload.get("error")
    if error:  # the body as a whole was refused
        return json_response(payload, STATUS_OF_BODY_ERROR.get(error.get("code"), 400))
    rejected = payload.get("rejected", [])
    if body.lstrip()[:1] == b"[" or not rejected:
        return json_response(payload, 202)
    refused = rejected[0]
    payload["error"] = {"code": refused["code"], "message": refused["error"]}
    return json_response(payload, STATUS_OF_CODE.get(refused["code"], 422))

"""The contract's GET routes, answered by NATS requests to the projection services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from events.fields import RELATIONSHIP_ID_PATTERN
from events.queries import Band, ProposalStatus
from events.stages import Level, Stage
from events.subjects import AUDIT_SUBJECT, query_subject
from services.gateway.events import json_response
from services.nats.log_reader import DirectReader, LogReadError
from services.queries.ask import ask as ask_projection
from services.queries.cursors import BadCursor, decode_cursor, encode_cursor
from services.queries.history import history_item, history_page, identity_over_nats

STATUS_OF_ERROR = {"not_found": 404, "invalid": 400, "unavailable": 503}
RelationshipPath = Annotated[
    str, Path(pattern=RELATIONSHIP_ID_PATTERN, description="relationship id")
]
AsOf = Annotated[
    datetime | None, Query(description="RFC 3339 instant (default: now); may be in the future")
]
MinSeq = Annotated[
    int | None, Query(ge=0, description="answer once this stream sequence is applied")
]
WaitMs = Annotated[int, Query(ge=0, le=60_000, description="how long to wait for min_seq")]

router = APIRouter(prefix="/v1")


async def ask(
    request: Request,
    projection: str,
    query: str,
    payload: dict[str, Any],
    subject: str | None = None,
) -> Response:
    """Ask a projection service (the one `ask`) and turn its answer into an HTTP response."""
    settings = request.app.state.settings
    subject = subject or query_subject(projection, query)
    answer = await ask_projection(
        request.app.state.nc, subject, payload, within=settings.request_timeout
    )
    if answer.ok:
        return Response(answer.raw, media_type="application/json")
    if answer.data is not None:  # the service's own error reply, `applied_seq` and all
        return json_response(answer.data, STATUS_OF_ERROR.get(answer.code or "", 503))
    return _unavailable(answer.problem or "no answer")


def _unavailable(message: str) -> Response:
    return json_response({"error": {"code": "unavailable", "message": message}}, 503)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


_RELATIONSHIP_PARAMS: dict[str, Any] = {
    "parameters": [
        {
            "name": "as_of",
            "in": "query",
            "required": False,
            "description": "RFC 3339 instant (default: now); may be in the future",
            "schema": {"type": "string", "format": "date-time"},
        },
        {
            "name": "min_seq",
            "in": "query",
            "required": False,
            "description": "answer once this stream sequence is applied",
            "schema": {"type": "integer", "minimum": 0},
        },
        {
            "name": "wait_ms",
            "in": "query",
            "required": False,
            "description": "how long to wait for min_seq (default 2000)",
            "schema": {"type": "integer", "minimum": 0, "maximum": 60000},
        },
    ]
}


def relationship_query(request: Request, relationship_id: str) -> dict[str, Any]:
    """The query of a one-relationship route, read straight from the URL.

    The hottest routes skip FastAPI's parameter machinery (a quarter of their cost): the
    service validates every field anyway and words any error; only integers are converted.
    """
    params = request.query_params
    query: dict[str, Any] = {"relationship_id": relationship_id}
    if "as_of" in params:
        query["as_of"] = params["as_of"]
    for name in ("min_seq", "wait_ms"):
        if name in params:
            value = params[name]
            query[name] = int(value) if value.isdigit() else value
    return query


@router.get(
    "/relationships/{relationship_id}",
    summary="Current stage of a relationship",
    openapi_extra=_RELATIONSHIP_PARAMS,
)
async def get_relationship(request: Request, relationship_id: str) -> Response:
    """The contract's `stage.get`: stage, level, since, owner, counterpart, implicit."""
    return await ask(request, "stage", "get", relationship_query(request, relationship_id))


@router.get(
    "/relationships/{relationship_id}/health",
    summary="Health of a relationship",
    openapi_extra=_RELATIONSHIP_PARAMS,
)
async def get_health(request: Request, relationship_id: str) -> Response:
    """The contract's `health.get`: score, band, components, reasons, next_touch_due."""
    return await ask(request, "health", "get", relationship_query(request, relationship_id))


@router.get(
    "/relationships/{relationship_id}/audit",
    summary="Every stage change, judged, with flags",
    openapi_extra=_RELATIONSHIP_PARAMS,
)
async def get_audit(request: Request, relationship_id: str) -> Response:
    """The contract's `audit`: each change with seq, time, from, to, verdict and flags."""
    query = relationship_query(request, relationship_id)
    return await ask(request, "stage", "audit", query, subject=AUDIT_SUBJECT)


@router.get("/relationships/{relationship_id}/events", summary="The stored events, oldest first")
async def get_events(
    request: Request,
    relationship_id: RelationshipPath,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Response:
    """The stored CloudEvents of one relationship with their stream sequence, paged."""
    reader: DirectReader = request.app.state.reader
    try:
        after = int(decode_cursor(cursor)) if cursor else 0
    except (BadCursor, TypeError, ValueError):
        return json_response(
            {"error": {"code": "invalid", "message": "cursor: not a cursor this API issued"}}, 400
        )
    try:
        first_copies = identity_over_nats(
            request.app.state.nc, request.app.state.settings.request_timeout
        )
        page, more = await history_page(reader, relationship_id, after, limit, first_copies)
    except LogReadError as exc:
        return _unavailable(str(exc))
    if not page and not cursor:
        message = f"relationship {relationship_id} is unknown"
        return json_response({"error": {"code": "not_found", "message": message}}, 404)
    return json_response(
        {
            "relationship_id": relationship_id,
            "items": [history_item(item) for item in page],
            "next_cursor": encode_cursor(page[-1].seq) if more and page else None,
        },
        200,
    )


@router.get("/relationships", summary="List relationships by stage, band, owner or due date")
async def list_relationships(
    request: Request,
    stage: Stage | None = None,
    level: Level | None = None,
    band: Band | None = None,
    owner: str | None = None,
    due_before: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    min_seq: MinSeq = None,
    wait_ms: WaitMs = 2000,
) -> Response:
    """`stage.list` for stage/level/owner filters; `health.list` when band or due_before is set."""
    common = {"owner": owner, "limit": limit, "cursor": cursor, "min_seq": min_seq}
    common["wait_ms"] = wait_ms
    if band is not None or due_before is not None:
        if stage is not None or level is not None:
            return json_response(
                {
                    "error": {
                        "code": "invalid",
                        "message": "filter by stage/level or by band/due_before, not both",
                    }
                },
                400,
            )
        return await ask(
            request, "health", "list", {**common, "band": band, "due_before": _iso(due_before)}
        )
    return await ask(
        request,
        "stage",
        "list",
        {
            **common,
            "stage": stage.value if stage else None,
            "level": level.value if level else None,
        },
    )


@router.get("/funnel", summary="The pipeline funnel with strict conversion ratios")
async def get_funnel(
    request: Request, owner: str | None = None, min_seq: MinSeq = None, wait_ms: WaitMs = 2000
) -> Response:
    """The contract's `stage.funnel`."""
    return await ask(
        request, "stage", "funnel", {"owner": owner, "min_seq": min_seq, "wait_ms": wait_ms}
    )


@router.get("/proposals", summary="Partnership proposals with their readiness")
async def get_proposals(
    request: Request,
    status: ProposalStatus = "pending",
    owner: str | None = None,
    relationship_id: Annotated[str | None, Query(pattern=RELATIONSHIP_ID_PATTERN)] = None,
    as_of: AsOf = None,
    min_seq: MinSeq = None,
    wait_ms: WaitMs = 2000,
) -> Response:
    """The contract's `proposals.pending` (`status` picks other lifecycle states)."""
    return await ask(
        request,
        "proposals",
        "pending",
        {
            "status": status,
            "owner": owner,
            "relationship_id": relationship_id,
            "as_of": _iso(as_of),
            "min_seq": min_seq,
            "wait_ms": wait_ms,
        },
    )

"""The contract's GET routes, answered by NATS requests to the projection services.

Every route reads its parameters itself (`params`): no FastAPI validation runs per request,
and each parameter is documented from the query model the service validates it with.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from events.queries import (
    HealthListQuery,
    ProposalsQuery,
    RelationshipQuery,
    StageListQuery,
)
from events.replies import (
    AuditReply,
    FunnelReply,
    HealthList,
    HealthReply,
    HistoryPage,
    OwnersReply,
    ProposalsReply,
    StageList,
    StageReply,
)
from events.subjects import AUDIT_SUBJECT, query_subject
from services.gateway.openapi import READ_ERRORS, UNKNOWN, replies
from services.gateway.params import (
    MAX_SEQ,
    BadParameter,
    documented,
    instant,
    read_query,
    relationship_path,
    text,
    whole,
)
from services.gateway.responses import STATUS_OF_CODE, error_response, json_response
from services.nats.log_reader import DirectReader, LogReadError
from services.queries.ask import ask as ask_projection
from services.queries.cursors import BadCursor, decode_sequence_cursor, encode_cursor
from services.queries.history import history_item, history_page, identity_over_nats

PATH = relationship_path()
AS_OF = instant("as_of", "RFC 3339 instant with an offset (default: now); may be in the future")
MIN_SEQ = whole(
    RelationshipQuery,
    "min_seq",
    "answer once the projection has applied this stream sequence (read-your-writes)",
    most=MAX_SEQ,
)
WAIT_MS = whole(RelationshipQuery, "wait_ms", "how long to wait for `min_seq`, in milliseconds")
LIMIT = whole(StageListQuery, "limit", "most items on a page")
CURSOR = text(StageListQuery, "cursor", "the `next_cursor` of the page before")
OWNER = text(StageListQuery, "owner", "who on our side holds the relationship")
ONE_RELATIONSHIP = (AS_OF, MIN_SEQ, WAIT_MS)
LISTING = (
    text(StageListQuery, "stage", "relationships standing at this stage now (`stage.list`)"),
    text(StageListQuery, "level", "relationships at this level now (`stage.list`)"),
    text(HealthListQuery, "band", "relationships in this health band now (`health.list`)"),
    instant(
        "due_before",
        "relationships due for a touch before this instant, most overdue first (`health.list`)",
    ),
    OWNER,
    text(
        StageListQuery,
        "q",
        "words to find, each as the start of a word of the counterpart's name, "
        "organization, email or tags (`stage.list`)",
    ),
    LIMIT,
    CURSOR,
    MIN_SEQ,
    WAIT_MS,
)
FUNNEL = (OWNER, MIN_SEQ, WAIT_MS)
OWNERS = (MIN_SEQ, WAIT_MS)
PROPOSALS = (
    text(ProposalsQuery, "status", "`pending` (drafted or submitted), one status, or `all`"),
    OWNER,
    text(ProposalsQuery, "relationship_id", "the proposals of one relationship"),
    AS_OF,
    MIN_SEQ,
    WAIT_MS,
)
HISTORY = (LIMIT, CURSOR)
ONE_ERRORS = {**READ_ERRORS, 404: UNKNOWN}

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
    if answer.data is not None and answer.code in STATUS_OF_CODE:
        # the service's own error reply, `applied_seq` and all
        return json_response(answer.data, STATUS_OF_CODE[answer.code])
    return error_response(503, answer.problem or "no answer")


def one_relationship(request: Request) -> dict[str, Any]:
    """The query of a one-relationship route: the path's id and the query string's instant."""
    query = read_query(request, ONE_RELATIONSHIP)
    query["relationship_id"] = request.path_params["relationship_id"]
    return query


@router.get(
    "/relationships/{relationship_id}",
    summary="Current stage of a relationship",
    openapi_extra=documented(PATH, *ONE_RELATIONSHIP),
    response_model=None,
    responses=replies(StageReply, "the contract's `stage.get`", ONE_ERRORS),
)
async def get_relationship(request: Request) -> Response:
    """The contract's `stage.get`: stage, level, since, owner, counterpart, implicit."""
    return await ask(request, "stage", "get", one_relationship(request))


@router.get(
    "/relationships/{relationship_id}/health",
    summary="Health of a relationship",
    openapi_extra=documented(PATH, *ONE_RELATIONSHIP),
    response_model=None,
    responses=replies(HealthReply, "the contract's `health.get`", ONE_ERRORS),
)
async def get_health(request: Request) -> Response:
    """The contract's `health.get`: score, band, components, reasons, next_touch_due."""
    return await ask(request, "health", "get", one_relationship(request))


@router.get(
    "/relationships/{relationship_id}/audit",
    summary="Every stage change, judged, with flags",
    openapi_extra=documented(PATH, *ONE_RELATIONSHIP),
    response_model=None,
    responses=replies(AuditReply, "the contract's `audit`", ONE_ERRORS),
)
async def get_audit(request: Request) -> Response:
    """The contract's `audit`: each change with seq, time, from, to, verdict and flags."""
    return await ask(request, "stage", "audit", one_relationship(request), subject=AUDIT_SUBJECT)


@router.get(
    "/relationships/{relationship_id}/events",
    summary="The stored events, oldest first",
    openapi_extra=documented(PATH, *HISTORY),
    response_model=None,
    responses=replies(
        HistoryPage,
        "a page of stored messages with their stream sequence",
        {**ONE_ERRORS, 503: "the log or the index of event ids could not be read"},
    ),
)
async def get_events(request: Request) -> Response:
    """The stored CloudEvents of one relationship with their stream sequence, paged."""
    relationship_id = PATH.read(request.path_params["relationship_id"])
    query = read_query(request, HISTORY)
    cursor = query.get("cursor")
    try:
        after = decode_sequence_cursor(cursor) if cursor else 0
    except BadCursor as exc:
        raise BadParameter(str(exc)) from None
    reader: DirectReader = request.app.state.reader
    try:
        first_copies = identity_over_nats(
            request.app.state.nc, request.app.state.settings.request_timeout
        )
        page, more = await history_page(
            reader, relationship_id, after, query.get("limit", 100), first_copies
        )
    except LogReadError as exc:
        return error_response(503, str(exc))
    if not page and not cursor:
        return error_response(404, f"relationship {relationship_id} is unknown")
    return json_response(
        {
            "relationship_id": relationship_id,
            "items": [history_item(item) for item in page],
            "next_cursor": encode_cursor(page[-1].seq) if more and page else None,
        },
        200,
    )


@router.get(
    "/relationships",
    summary="Find and list relationships: by words (`q`), stage, band, owner or due date",
    description="By `q`, `stage`, `level` or `owner` this is `stage.list`; by `band` or "
    "`due_before` it is `health.list` (the two kinds of filter do not mix). An owner is "
    "matched by email, or by the name before the @ (`maria` matches `maria@example.com`).",
    openapi_extra=documented(*LISTING),
    response_model=None,
    responses=replies(
        StageList | HealthList, "a page of `stage.list` or `health.list`", READ_ERRORS
    ),
)
async def list_relationships(request: Request) -> Response:
    """`stage.list` for stage/level/owner filters; `health.list` when band or due_before is set."""
    query = read_query(request, LISTING)
    if "band" in query or "due_before" in query:
        if "stage" in query or "level" in query or "q" in query:
            raise BadParameter("filter by q/stage/level or by band/due_before, not both")
        return await ask(request, "health", "list", query)
    return await ask(request, "stage", "list", query)


@router.get(
    "/funnel",
    summary="The pipeline funnel with strict conversion ratios",
    openapi_extra=documented(*FUNNEL),
    response_model=None,
    responses=replies(FunnelReply, "the contract's `stage.funnel`", READ_ERRORS),
)
async def get_funnel(request: Request) -> Response:
    """The contract's `stage.funnel`."""
    return await ask(request, "stage", "funnel", read_query(request, FUNNEL))


@router.get(
    "/owners",
    summary="Who holds relationships, and how many each",
    openapi_extra=documented(*OWNERS),
    response_model=None,
    responses=replies(OwnersReply, "`stage.owners`", READ_ERRORS),
)
async def get_owners(request: Request) -> Response:
    """`stage.owners`: every owner with their count, in order."""
    return await ask(request, "stage", "owners", read_query(request, OWNERS))


@router.get(
    "/proposals",
    summary="Partnership proposals with their readiness",
    openapi_extra=documented(*PROPOSALS),
    response_model=None,
    responses=replies(ProposalsReply, "the contract's `proposals.pending`", READ_ERRORS),
)
async def get_proposals(request: Request) -> Response:
    """The contract's `proposals.pending` (`status` picks other lifecycle states)."""
    return await ask(request, "proposals", "pending", read_query(request, PROPOSALS))

"""The dashboard pages at `/`, server-rendered, reading the projections over NATS.

Each panel of a page comes from one query; a service that does not answer greys out its
panels with a sentence saying why, and the rest of the page still renders. This router
carries every page: the lists, Today, the dead letters and the API docs are included here.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from events.fields import RELATIONSHIP_ID_PATTERN
from services.gateway.dashboard import deadletters, docs, lists, today, views
from services.gateway.dashboard.answers import (
    AUDIT,
    FUNNEL,
    HEALTH_CURVE,
    HEALTH_GET,
    HEALTH_LIST,
    HEALTH_SUMMARY,
    PROPOSALS,
    STAGE_GET,
    Answer,
    ask,
    names,
    owners,
    stored_events,
)
from services.gateway.dashboard.rendering import render, static_files

DUE_ROWS = 12
PROPOSAL_ROWS = 10
HISTORY_PAGE = 100  # interactions listed on a page; older ones a link away
INTERACTION = "rapport.interaction.recorded"
LONG = "long"  # the code of a timeline left to the audit page
LONG_HISTORY = 1000  # interactions beyond which the page does not ask for the whole audit

RelationshipPath = Annotated[
    str, Path(pattern=RELATIONSHIP_ID_PATTERN, description="relationship id")
]

router = APIRouter(include_in_schema=False)
# before the static route below: the API docs' files are under /static/api-docs/
router.include_router(docs.router)
router.include_router(lists.router)
router.include_router(today.router)
router.include_router(deadletters.router)


# A route rather than a mount: routers of older FastAPI releases drop mounts when included.
@router.get("/static/{path:path}", name="static")
async def static(request: Request, path: str) -> Response:
    """A file of the dashboard's static folder."""
    return await static_files().get_response(path, request.scope)


@router.get("/", response_class=HTMLResponse, name="overview")
async def overview(request: Request, owner: str | None = None) -> Response:
    """The pipeline: funnel, health by band, who is due, proposals waiting; or how to start."""
    owner = (owner or "").strip() or None
    now = datetime.now(UTC)
    due_query = {"owner": owner, "due_before": now.isoformat(), "limit": DUE_ROWS}
    funnel, summary, due, pending, held_by = await asyncio.gather(
        ask(request, FUNNEL, {"owner": owner}),
        ask(request, HEALTH_SUMMARY, {"owner": owner}),
        ask(request, HEALTH_LIST, due_query),
        ask(request, PROPOSALS, {"owner": owner, "limit": PROPOSAL_ROWS}),
        owners(request),
    )
    if owner and owner not in held_by:
        held_by.append(owner)
    rows = views.funnel_rows(funnel.data) if funnel.ok else []
    shown = pending.data["items"][:PROPOSAL_ROWS] if pending.ok else []
    return render(
        request,
        "overview.html",
        {
            "owner": owner,
            "owners": held_by,
            "empty": funnel.ok and not owner and not any(funnel.data["stages"].values()),
            "funnel": funnel,
            "funnel_rows": rows,
            "funnel_chart": views.funnel_chart(rows) if rows else "",
            "summary": summary,
            "band_chart": views.band_chart(summary.data) if summary.ok else "",
            "due": due,
            "due_rows": views.due_rows(due.data["items"], {}, now) if due.ok else [],
            "names": await names(request, (item["relationship_id"] for item in shown)),
            "pending": pending,
            "proposal_rows": PROPOSAL_ROWS,
        },
    )


@router.get("/relationships/{relationship_id}", response_class=HTMLResponse, name="relationship")
async def relationship(
    request: Request,
    relationship_id: RelationshipPath,
    before: Annotated[int | None, Query(ge=1, description="older interactions: a cursor")] = None,
) -> Response:
    """One relationship: contact, stage timeline, health over the year, touches, proposals."""
    one = {"relationship_id": relationship_id}
    # the chart's instants move by the hour: the health service keeps the curve it drew
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    instants = views.health_instants(hour)
    curve_query = {**one, "instants": [at.isoformat() for at in instants]}
    page = asyncio.ensure_future(
        stored_events(request, relationship_id, before, HISTORY_PAGE, INTERACTION)
    )

    async def timeline() -> Answer:
        # the audit reads the whole log: for a history longer than a page, it has its own page
        touches = await page
        if touches.ok and (touches.data.stored > LONG_HISTORY or before is not None):
            return Answer(problem="the history is long: see the audit page", code=LONG)
        return await ask(request, AUDIT, one)

    stage, health, audit, proposals, stored, curve = await asyncio.gather(
        ask(request, STAGE_GET, one),
        ask(request, HEALTH_GET, one),
        timeline(),
        ask(request, PROPOSALS, {**one, "status": "all"}),
        page,
        ask(request, HEALTH_CURVE, curve_query),
    )
    if stage.code == "not_found":
        return render(request, "unknown.html", {"relationship_id": relationship_id}, 404)
    history = _health_history(instants, curve)
    partner = (proposals.data.get("partner") or {}) if proposals.ok else {}
    touches = views.interactions(stored.data.readings) if stored.ok else []
    return render(
        request,
        "relationship.html",
        {
            "relationship_id": relationship_id,
            "stage": stage,
            "health": health,
            "components_chart": views.components_chart(health.data) if health.ok else "",
            "history": history,
            "audit": audit,
            "proposals": proposals,
            "stored": stored,
            "touches": touches,
            # the newest page, or an older one: each links to the one before it
            "older": stored.data.older if stored.ok else None,
            "paged": before is not None,
            "purpose": partner.get("purpose"),
            "capacity": partner.get("capacity"),
        },
    )


def _health_history(instants: list[datetime], curve: Answer) -> Answer:
    """The year's health chart (from one `health.curve`), or why it cannot be drawn."""
    if curve.ok:
        scores = [point["score"] for point in curve.data["points"]]
    elif curve.code == "not_found":  # nothing known of it yet: a chart of gaps
        scores = [None] * len(instants)
    else:
        return Answer(problem=curve.problem, code=curve.code)
    return Answer(data=views.health_chart(instants, scores))


@router.get(
    "/relationships/{relationship_id}/audit", response_class=HTMLResponse, name="audit_page"
)
async def audit_page(
    request: Request, relationship_id: RelationshipPath, as_of: str | None = None
) -> Response:
    """Every stage change with its verdict and flags, as known at an instant."""
    problem = None
    try:
        instant = views.parse_as_of(as_of)
    except ValueError:
        instant, problem = None, f"“{as_of}” is not a date and time; showing the audit as of now."
    one = {"relationship_id": relationship_id}
    stage, audit = await asyncio.gather(
        ask(request, STAGE_GET, one),
        ask(request, AUDIT, {**one, "as_of": instant.isoformat() if instant else None}),
    )
    if stage.code == "not_found":
        return render(request, "unknown.html", {"relationship_id": relationship_id}, 404)
    return render(
        request,
        "audit.html",
        {
            "relationship_id": relationship_id,
            "stage": stage,
            "audit": audit,
            "as_of": instant,
            "picker": views.picker_value(instant or datetime.now(UTC)),
            "input_problem": problem,
        },
    )

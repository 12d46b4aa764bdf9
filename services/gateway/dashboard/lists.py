"""The list pages: relationships (and finding them), who is due, and proposals.

Each pages through its query as the query pages (`next_cursor`, or a page number over the
proposals, which come most ready first in one reply), and sorts the rows of a page by a
column when asked (`listing`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from events.queries import ProposalStatus
from events.stages import Level, Stage
from services.gateway.dashboard import views
from services.gateway.dashboard.answers import (
    HEALTH_GET,
    HEALTH_LIST,
    PROPOSALS,
    STAGE_LIST,
    Answer,
    ask,
    names,
    owners,
)
from services.gateway.dashboard.listing import Column, by_key, headers, sort_rows, whole
from services.gateway.dashboard.rendering import render

PAGE = 50  # relationships, or due, on a page
PROPOSALS_PAGE = 25
PROPOSALS_READ = 1000  # the most `proposals.pending` gives in one reply
STAGES = [stage.value for stage in Stage]
LEVELS = [level.value for level in Level]
STATUSES: list[str] = list(ProposalStatus.__args__)  # type: ignore[attr-defined]

RELATIONSHIP_COLUMNS = (
    Column("name", "Name", lambda row: row["name"]),
    Column("organization", "Organization", lambda row: row["organization"]),
    Column("stage", "Stage", lambda row: STAGES.index(row["stage"])),
    Column("owner", "Owner", lambda row: row["owner"]),
    Column("health", "Health", lambda row: row["score"]),
)
DUE_COLUMNS = (
    Column("name", "Relationship", lambda row: row["name"]),
    Column("owner", "Owner", lambda row: row.get("owner")),
    Column("stage", "Stage", lambda row: STAGES.index(row["stage"])),
    Column("overdue", "Overdue", lambda row: row["overdue"]),
    Column("health", "Health", lambda row: row["score"]),
    Column("why", "Why"),
)
PROPOSAL_COLUMNS = (
    Column("title", "Proposal", lambda row: row["title"]),
    Column("name", "Relationship", lambda row: row["name"]),
    Column("status", "Status", lambda row: row["status"]),
    Column("age", "Age", lambda row: row["age_days"]),
    Column("readiness", "Readiness", lambda row: row["readiness"]["score"]),
    Column("look", "What to look at"),
)

router = APIRouter(include_in_schema=False)


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/relationships", response_class=HTMLResponse, name="relationships")
async def relationships(
    request: Request,
    q: str | None = None,
    stage: str | None = None,
    level: str | None = None,
    owner: str | None = None,
    cursor: str | None = None,
    sort: str | None = None,
) -> Response:
    """Every relationship in id order, filtered by stage, level, owner or words; paged."""
    return await _relationships(request, q, stage, level, owner, cursor, sort, search=False)


@router.get("/search", response_class=HTMLResponse, name="search")
async def search(
    request: Request, q: str | None = None, cursor: str | None = None, sort: str | None = None
) -> Response:
    """The header's search box: the matches, or the one match's own page."""
    return await _relationships(request, q, None, None, None, cursor, sort, search=True)


async def _relationships(
    request: Request,
    q: str | None,
    stage: str | None,
    level: str | None,
    owner: str | None,
    cursor: str | None,
    sort: str | None,
    *,
    search: bool,
) -> Response:
    q, stage, level, owner = _text(q), _text(stage), _text(level), _text(owner)
    notice = None
    listed = Answer(data={"items": [], "next_cursor": None})
    if q is not None or not search:
        query = {"q": q, "stage": stage, "level": level, "owner": owner, "limit": PAGE}
        listed = await ask(request, STAGE_LIST, {**query, "cursor": _text(cursor)})
        if listed.code == "invalid":
            notice = _friendly(listed.problem or "")
            listed = Answer(data={"items": [], "next_cursor": None})
    items: list[dict[str, Any]] = listed.data["items"] if listed.ok else []
    if search and len(items) == 1 and not cursor and listed.data["next_cursor"] is None:
        return RedirectResponse(f"/relationships/{items[0]['relationship_id']}", 303)
    healths = await asyncio.gather(
        *(ask(request, HEALTH_GET, {"relationship_id": item["relationship_id"]}) for item in items)
    )
    rows = [_relationship_row(item, health) for item, health in zip(items, healths, strict=True)]
    rows, sort = sort_rows(rows, sort, by_key(RELATIONSHIP_COLUMNS))
    return render(
        request,
        "relationships.html",
        {
            "search": search,
            "q": q,
            "stage": stage,
            "level": level,
            "owner": owner,
            "owners": await owners(request) if not search else [],
            "stages": STAGES,
            "levels": LEVELS,
            "listed": listed,
            "notice": notice,
            "rows": rows,
            "headers": headers(request, RELATIONSHIP_COLUMNS, sort),
            "cursor": _text(cursor),
            "next_cursor": listed.data["next_cursor"] if listed.ok else None,
            "health_problem": next((h for h in healths if _failed(h)), None),
        },
    )


def _failed(answer: Answer) -> bool:
    """The service did not answer (a relationship it has not scored yet is no failure)."""
    return not answer.ok and answer.code != "not_found"


def _friendly(problem: str) -> str:
    """The service's refusal of a search, as a hint (it says `q: …` when the words are bad)."""
    if problem.lower().startswith("q:"):
        return (
            "Type a word to search for: at least one letter or digit "
            f"(the search said “{problem[2:].strip()}”)"
        )
    return problem


def _relationship_row(item: dict[str, Any], health: Answer) -> dict[str, Any]:
    counterpart = item.get("counterpart") or {}
    return {
        "relationship_id": item["relationship_id"],
        "name": counterpart.get("name") or item["relationship_id"],
        "organization": counterpart.get("organization"),
        "kind": counterpart.get("kind"),
        "stage": item["stage"],
        "owner": item.get("owner"),
        # a closed relationship is in no band: nothing is expected of it any more
        "score": health.data["score"] if health.ok and item["stage"] != "closed" else None,
        "band": health.data["band"] if health.ok else None,
    }


@router.get("/due", response_class=HTMLResponse, name="due")
async def due(
    request: Request,
    owner: str | None = None,
    by: str | None = None,
    cursor: str | None = None,
    sort: str | None = None,
) -> Response:
    """Who is due for a touch before an instant (default now), most overdue first; paged."""
    owner = _text(owner)
    now = datetime.now(UTC)
    notice = None
    until = now
    if _text(by):
        try:
            day = date.fromisoformat(str(by).strip())
        except ValueError:
            notice = f"“{by}” is not a date (YYYY-MM-DD); showing who is due now."
        else:  # due by the end of that day (UTC)
            until = datetime.combine(day, time(), UTC) + timedelta(days=1)
    query = {"owner": owner, "due_before": until.isoformat(), "limit": PAGE}
    listed, held_by = await asyncio.gather(
        ask(request, HEALTH_LIST, {**query, "cursor": _text(cursor)}), owners(request)
    )
    rows = views.due_rows(listed.data["items"], {}, now) if listed.ok else []
    rows, sort = sort_rows(rows, sort, by_key(DUE_COLUMNS))
    return render(
        request,
        "due.html",
        {
            "owner": owner,
            "owners": held_by,
            "by": (until - timedelta(days=1)).date().isoformat() if until != now else None,
            "notice": notice,
            "listed": listed,
            "rows": rows,
            "headers": headers(request, DUE_COLUMNS, sort),
            "cursor": _text(cursor),
            "next_cursor": listed.data["next_cursor"] if listed.ok else None,
        },
    )


@router.get("/proposals", response_class=HTMLResponse, name="proposals")
async def proposals(
    request: Request,
    status: str | None = None,
    owner: str | None = None,
    page: str | None = None,
    sort: str | None = None,
) -> Response:
    """Proposals of a status (default pending), most ready first, a page at a time."""
    status, owner = _text(status) or "pending", _text(owner)
    number = whole(page, PROPOSALS_READ) or 1
    listed, held_by = await asyncio.gather(
        ask(request, PROPOSALS, {"status": status, "owner": owner, "limit": PROPOSALS_READ}),
        owners(request),
    )
    items: list[dict[str, Any]] = listed.data["items"] if listed.ok else []
    pages = max(1, -(-len(items) // PROPOSALS_PAGE))
    number = min(number, pages)
    shown = items[(number - 1) * PROPOSALS_PAGE : number * PROPOSALS_PAGE]
    named = await names(request, (item["relationship_id"] for item in shown))
    rows = [{**item, "name": named.get(item["relationship_id"])} for item in shown]
    for row in rows:
        row["name"] = row["name"] or row["relationship_id"]
    rows, sort = sort_rows(rows, sort, by_key(PROPOSAL_COLUMNS))
    return render(
        request,
        "proposals.html",
        {
            "status": status,
            "statuses": STATUSES,
            "owner": owner,
            "owners": held_by,
            "listed": listed,
            "total": len(items),
            "capped": len(items) >= PROPOSALS_READ,
            "rows": rows,
            "headers": headers(request, PROPOSAL_COLUMNS, sort),
            "page": number,
            "pages": pages,
            "first": (number - 1) * PROPOSALS_PAGE + 1,
        },
    )

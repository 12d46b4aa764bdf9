"""Today: who to touch today and in the week ahead, for one owner, with what to do about each.

The owner picked is remembered in a cookie (`rapport_owner`), so "mine" stays mine; no owner
means everyone. Closed relationships never appear: the health projection never makes them due.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.dashboard import views
from services.gateway.dashboard.answers import HEALTH_LIST, ask, owners
from services.gateway.dashboard.rendering import render

OWNER_COOKIE = "rapport_owner"
REMEMBERED = 365 * 24 * 3600  # seconds: a year
MOST = 200  # rows on the page; the rest are a link away

router = APIRouter(include_in_schema=False)


@router.get("/today", response_class=HTMLResponse, name="today")
async def today(request: Request, owner: str | None = None) -> Response:
    """Due today (overdue included) and later this week, for the owner picked or remembered."""
    picked = "owner" in request.query_params
    chosen = ((owner if picked else request.cookies.get(OWNER_COOKIE)) or "").strip() or None
    now = datetime.now(UTC)
    end_of_today, end_of_week = views.week_ahead(now)
    query = {"owner": chosen, "due_before": end_of_week.isoformat(), "limit": MOST}
    listed, held_by = await asyncio.gather(ask(request, HEALTH_LIST, query), owners(request))
    if chosen and chosen not in held_by:
        held_by.append(chosen)
    rows = views.due_rows(listed.data["items"], {}, now) if listed.ok else []
    now_rows = [row for row in rows if _due(row) < end_of_today]
    later_rows = [row for row in rows if _due(row) >= end_of_today]
    next_cursor = listed.data["next_cursor"] if listed.ok else None
    response = render(
        request,
        "today.html",
        {
            "owner": chosen,
            "owners": held_by,
            "listed": listed,
            "now_rows": now_rows,
            "later_rows": later_rows,
            "week_ends": (end_of_week - timedelta(days=1)).date().isoformat(),
            "next_cursor": next_cursor,
        },
    )
    if picked:
        secure = bool(request.app.state.settings.cookie_secure)
        if chosen:
            response.set_cookie(
                OWNER_COOKIE,
                chosen,
                max_age=REMEMBERED,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        else:
            response.delete_cookie(OWNER_COOKIE, httponly=True, samesite="lax", secure=secure)
    return response


def _due(row: dict[str, object]) -> datetime:
    due = row.get("next_touch_due")
    # health.list with `due_before` lists only relationships with a due time
    return datetime.fromisoformat(str(due)) if due else datetime.min.replace(tzinfo=UTC)

"""Rendering the dashboard's pages: the templates and the static files, loaded on first use."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi.staticfiles import StaticFiles

from services.gateway.dashboard.templating import STATIC_DIR, make_templates

if TYPE_CHECKING:
    from fastapi import Request, Response
    from fastapi.templating import Jinja2Templates


@cache
def templates() -> Jinja2Templates:
    """The page templates (loaded on first use, not at import)."""
    return make_templates()


@cache
def static_files() -> StaticFiles:
    """The dashboard's stylesheet and icons."""
    return StaticFiles(directory=STATIC_DIR)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page, with what every page shows (the time of the answer, who is signed in)."""
    session = getattr(request.state, "session", None)  # set by the guard for a browser session
    context = {"now": datetime.now(UTC), "session": session, **context}
    return templates().TemplateResponse(request, name, context, status_code=status)

"""Errors as pages for a browser: the dashboard's look and a way on, not raw JSON.

A request gets a page when it accepts `text/html` and is not for the API (`/v1/…`); every
other client keeps the contract's `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.gateway.dashboard.rendering import render

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import Request, Response

TITLES = {
    400: "That address cannot be read",
    401: "Sign in first",
    403: "Not allowed",
    404: "No such page",
    405: "Not a page to open",
    413: "Too large",
    415: "Not a kind of content Rapport reads",
}


def wants_page(request: Request) -> bool:
    """True for a browser asking for a page: it accepts HTML and the path is not the API's."""
    path = request.url.path
    api = path == "/v1" or path.startswith("/v1/")
    return not api and "text/html" in request.headers.get("accept", "").lower()


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error as a page of the dashboard, with its status (never a 500)."""
    status = 503 if status >= 500 else status
    title = TITLES.get(status, "Rapport could not answer" if status >= 500 else "That did not work")
    context = {"status": status, "title": title, "message": message, "path": request.url.path}
    response = render(request, "error.html", context, status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response

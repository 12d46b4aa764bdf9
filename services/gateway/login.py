"""Signing in to the dashboard: GET and POST /login; the token goes into an HttpOnly cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.gateway.auth import COOKIE
from services.gateway.dashboard.rendering import render

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from services.config.tokens import TokenRegistry


def login_routes(
    registry: TokenRegistry,
) -> list[tuple[str, str, Callable[..., Awaitable[Response]]]]:
    """GET and POST /login for the dashboard: the token goes into an HttpOnly cookie."""

    async def show(request: Request) -> Response:
        target = request.query_params.get("next", "/")
        return render(request, "login.html", {"next": _safe_next(target), "error": None})

    async def submit(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        token = form.get("token", [""])[0]
        target = _safe_next(form.get("next", ["/"])[0])
        found = registry.identify(token) if registry.enabled else None
        if registry.enabled and (found is None or not found.allows("read")):
            context = {"next": target, "error": "That token cannot read."}
            return render(request, "login.html", context, status=401)
        response = RedirectResponse(target, status_code=303)
        if registry.enabled:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    return [("GET", "/login", show), ("POST", "/login", submit)]


def _safe_next(target: str) -> str:
    """Only local paths: a login must not redirect elsewhere."""
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    return target.replace('"', "")

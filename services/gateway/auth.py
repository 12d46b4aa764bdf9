"""Who may call the gateway: a bearer token (or the dashboard's cookie) with the right scope.

A request presents `Authorization: Bearer <token>` (or the dashboard's `rapport_token`
cookie); its hash is compared in constant time with every configured one
(`services.config.tokens`). 401 without a valid token, 403 with one that lacks the scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from fastapi import Request, Response
from fastapi.responses import RedirectResponse

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from services.config.tokens import TokenRegistry

COOKIE = "rapport_token"
OPEN_PATHS = ("/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/login", "/static/")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs (None: open to all)."""
    if path in OPEN_PATHS or path.startswith("/static/"):
        return None
    if path == "/metrics":
        return "admin"
    if method == "POST" and path == "/v1/events":
        return "emit"
    return "read"


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


def _refusal(status: int, message: str, request: Request) -> Response:
    wants_page = "text/html" in request.headers.get("accept", "") and request.method == "GET"
    if status == 401 and wants_page:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    body = orjson.dumps({"error": {"code": "unauthorized" if status == 401 else "forbidden",
                                   "message": message}})  # fmt: skip
    headers = {"WWW-Authenticate": 'Bearer realm="rapport"'} if status == 401 else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class TokenGuard:
    """ASGI middleware: 401 without a valid token, 403 with one that lacks the scope.

    Plain ASGI, not Starlette's `@app.middleware("http")`: that wrapper costs about half a
    millisecond a request (a task group and memory streams), on a path whose budget is ten.
    """

    def __init__(self, app: ASGIApp, registry: TokenRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it on, or answer the refusal."""
        if scope["type"] != "http" or not self.registry.enabled:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        needed = required_scope(request.method, request.url.path)
        if needed is None or request.method == "OPTIONS":
            await self.app(scope, receive, send)
            return
        presented = _presented(request)
        token = self.registry.identify(presented) if presented is not None else None
        if presented is None:
            refusal = _refusal(401, "send Authorization: Bearer <token>", request)
        elif token is None:
            refusal = _refusal(401, "the token is not valid", request)
        elif not token.allows(needed):
            have = ", ".join(sorted(token.scopes))
            refusal = _refusal(
                403, f"token {token.name!r} has {have}; this needs {needed}", request
            )
        else:
            scope.setdefault("state", {})["token_name"] = token.name
            await self.app(scope, receive, send)
            return
        await refusal(scope, receive, send)

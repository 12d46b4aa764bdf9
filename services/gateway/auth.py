"""Who may call the gateway: a bearer token, or a browser session, with the right scope.

A request presents `Authorization: Bearer <token>`, whose hash is compared in constant time
with every configured one (`services.config.tokens`), or the dashboard's session cookie
(`services.gateway.sessions`). 401 without a valid token or session, 403 with one that lacks
the scope. A session is ambient (the browser sends it by itself), so it writes only from a
page of this site that sends the session's CSRF token in `X-CSRF-Token`. With no token
configured the gateway is open (loopback only): nothing is asked, but a page of another site
still may not write.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import RedirectResponse

from services.gateway.origin import cross_site
from services.gateway.responses import error_response
from services.gateway.sessions import COOKIE

if TYPE_CHECKING:
    from collections.abc import Collection

    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

    from services.config.tokens import TokenRegistry
    from services.gateway.sessions import Sessions

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = ("/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/login", "/logout")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs (None: open to all)."""
    if path in OPEN_PATHS or path.startswith("/static/"):
        return None
    if path == "/metrics":
        return "admin"
    if method == "POST" and path == "/v1/events":
        return "emit"
    return "read"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _refusal(status: int, message: str, request: Request) -> Response:
    wants_page = "text/html" in request.headers.get("accept", "") and request.method == "GET"
    if status == 401 and wants_page:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    headers = {"WWW-Authenticate": 'Bearer realm="rapport"'} if status == 401 else None
    return error_response(status, message, headers=headers)


def same_secret(sent: str | None, kept: str) -> bool:
    """True when a CSRF token sent matches the one kept (compared in constant time)."""
    return sent is not None and hmac.compare_digest(sent.encode(), kept.encode())


class TokenGuard:
    """ASGI middleware: 401 without a valid token or session, 403 without the scope or CSRF token.

    Plain ASGI, not Starlette's `@app.middleware("http")`: that wrapper costs about half a
    millisecond a request (a task group and memory streams), on a path whose budget is ten.
    """

    def __init__(
        self,
        app: ASGIApp,
        registry: TokenRegistry,
        sessions: Sessions,
        allowed_origins: Collection[str] = (),
    ) -> None:
        self.app = app
        self.registry = registry
        self.sessions = sessions
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it on, or answer the refusal."""
        if scope["type"] != "http" or (
            not self.registry.enabled and scope["method"] in SAFE_METHODS
        ):  # the open gateway's reads, its hot path, pass untouched
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._check(request) if self.registry.enabled else self._open(request)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def _open(self, request: Request) -> Response | None:
        if request.method in SAFE_METHODS:
            return None
        why = cross_site(request, self.allowed_origins)
        return None if why is None else _refusal(403, f"refused: {why}", request)

    def _check(self, request: Request) -> Response | None:
        needed = required_scope(request.method, request.url.path)
        if needed is None or request.method == "OPTIONS":
            return None
        bearer = _bearer(request)
        if bearer is not None:
            token = self.registry.identify(bearer)
            if token is None:
                return _refusal(401, "the token is not valid", request)
            if not token.allows(needed):
                have = ", ".join(sorted(token.scopes))
                return _refusal(
                    403, f"token {token.name!r} has {have}; this needs {needed}", request
                )
            request.state.token_name = token.name
            return None
        session_id = request.cookies.get(COOKIE)
        if session_id is None:
            message = "send Authorization: Bearer <token> (a browser signs in at /login)"
            return _refusal(401, message, request)
        session = self.sessions.find(session_id)
        if session is None:
            return _refusal(401, "the session has ended; sign in again at /login", request)
        if not session.allows(needed):
            have = ", ".join(sorted(session.scopes))
            message = f"the session of {session.name!r} has {have}; this needs {needed}"
            return _refusal(403, message, request)
        if request.method not in SAFE_METHODS:
            why = cross_site(request)  # a session never writes for another site, CORS or not
            if why is not None:
                return _refusal(403, f"a browser session may not write: {why}", request)
            if not same_secret(request.headers.get(CSRF_HEADER), session.csrf):
                message = (
                    "a browser session writes only from Rapport's own pages, which send its "
                    "CSRF token in X-CSRF-Token (or send Authorization: Bearer <token>)"
                )
                return _refusal(403, message, request)
        request.state.token_name = session.name
        request.state.session = session
        return None

"""No input gives a 500 or FastAPI's `{"detail": ...}`: every error in the contract's shape.

Starlette's own errors (an unknown path, a method the route does not take) and FastAPI's
validation errors are answered as `{"error": {"code", "message"}}`, or as a page of the
dashboard when a browser asks for one outside `/v1/`. A bug is logged with its
traceback and answered 503 `unavailable` by `LastResort`, the outermost middleware.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from services.gateway.dashboard.errorpage import error_page, wants_page
from services.gateway.params import BadParameter
from services.gateway.responses import error_response

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rapport.gateway")

_LOCATIONS = frozenset({"query", "path", "header", "cookie", "body"})


def install(app: FastAPI) -> None:
    """Answer Starlette's, FastAPI's and the parameters' errors in the contract's shape."""
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(BadParameter, bad_parameter)  # type: ignore[arg-type]


async def http_error(request: Request, exc: HTTPException) -> Response:
    """An unknown path, a method the path does not take, or another HTTP error."""
    path = request.url.path
    if exc.status_code == 404:
        message = f"{path}: no such resource (the API is described at /docs)"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} {path}: method not allowed (allowed: {allowed})"
    else:
        message = str(exc.detail)
    if wants_page(request):  # a browser outside /v1/ gets a page of the dashboard
        return error_page(request, exc.status_code, message, headers=exc.headers)
    return error_response(exc.status_code, message, headers=exc.headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's parameter errors, each as `field: problem`."""
    message = "; ".join(_word(error) for error in exc.errors())
    if wants_page(request):
        return error_page(request, 400, message)
    return error_response(400, message)


async def bad_parameter(request: Request, exc: BadParameter) -> Response:
    """A query or path parameter the gateway cannot read."""
    if wants_page(request):
        return error_page(request, 400, str(exc))
    return error_response(400, str(exc))


def _word(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in _LOCATIONS)
    got = error.get("input")
    shown = f", got {str(got)[:60]!r}" if isinstance(got, str | int | float) else ""
    message = str(error.get("msg", "not valid"))
    return f"{where or 'request'}: {message[:1].lower()}{message[1:]}{shown}"


class LastResort:
    """ASGI middleware: an exception no handler took is logged, and answered 503, never 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request on; answer for it if it fails before its response started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def note_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, note_start)
        except ClientDisconnect:
            return  # the client went away mid-body: nobody is left to answer
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late to answer: the server closes the connection
            response = error_response(
                503, "the gateway failed to answer this request; it is logged, retry later"
            )
            await response(scope, receive, send)

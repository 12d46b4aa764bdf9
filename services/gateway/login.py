"""Signing in to the dashboard and out again: GET and POST /login, POST /logout.

A token given at /login opens a session (`sessions`): the cookie holds the session's random id,
never the token. The form cannot be posted from another site: it carries a token derived from a
pre-session cookie (which a page of another site can neither read nor have sent), and a POST
whose `Origin` is another site is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.gateway.auth import same_secret
from services.gateway.dashboard.rendering import render
from services.gateway.events import read_limited
from services.gateway.origin import cross_site
from services.gateway.responses import error_response
from services.gateway.sessions import COOKIE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from services.config.tokens import TokenRegistry
    from services.gateway.sessions import Sessions

LOGIN_COOKIE = "rapport_login"
FORM_LIMIT = 16 * 1024  # bytes: a token, a path and a CSRF token
STALE_FORM = "This sign-in form has expired or came from another page; sign in here."

Route = tuple[str, str, "Callable[..., Awaitable[Response]]"]


class LoginForms:
    """CSRF tokens of login forms, each bound to the pre-session cookie it was issued with."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)  # per process: a restart asks for a fresh form

    def issue(self) -> tuple[str, str]:
        """A pre-session cookie value and the form token that goes with it."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self.token_for(nonce)

    def token_for(self, nonce: str) -> str:
        """The form token of a pre-session cookie value."""
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, token: str | None) -> bool:
        """True when a form's token is the one issued with this cookie."""
        return nonce is not None and same_secret(token, self.token_for(nonce))


def login_routes(registry: TokenRegistry, sessions: Sessions, *, secure: bool) -> list[Route]:
    """GET and POST /login, POST /logout: a session cookie for a token that may read."""
    forms = LoginForms()

    def form(request: Request, target: str, error: str | None, status: int = 200) -> Response:
        nonce, token = forms.issue()
        context = {"next": target, "error": error, "csrf": token}
        response = render(request, "login.html", context, status=status)
        response.set_cookie(
            LOGIN_COOKIE, nonce, path="/login", httponly=True, samesite="strict", secure=secure
        )
        return response

    async def show(request: Request) -> Response:
        return form(request, _safe_next(request.query_params.get("next", "/")), None)

    async def submit(request: Request) -> Response:
        fields = await _read_form(request)
        target = _safe_next(fields.get("next", "/"))
        if cross_site(request) is not None or not forms.valid(
            request.cookies.get(LOGIN_COOKIE), fields.get("csrf")
        ):
            return form(request, target, STALE_FORM, status=403)
        found = registry.identify(fields.get("token", "")) if registry.enabled else None
        if registry.enabled and (found is None or not found.allows("read")):
            return form(request, target, "That token cannot read.", status=401)
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(
            LOGIN_COOKIE, path="/login", httponly=True, samesite="strict", secure=secure
        )
        if found is not None:
            if old := request.cookies.get(COOKIE):
                sessions.end(old)  # a new sign-in never goes on with an id given before it
            session_id, _ = sessions.open(found)
            response.set_cookie(
                COOKIE,
                session_id,
                max_age=int(sessions.lifetime),
                httponly=True,
                samesite="strict",
                secure=secure,
            )
        return response

    async def logout(request: Request) -> Response:
        fields = await _read_form(request)
        session_id = request.cookies.get(COOKIE)
        session = sessions.find(session_id) if session_id else None
        if session is not None and session_id is not None:
            if cross_site(request) is not None or not same_secret(fields.get("csrf"), session.csrf):
                return error_response(403, "logout: send the sign-out form of a Rapport page")
            sessions.end(session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure)
        return response

    return [("GET", "/login", show), ("POST", "/login", submit), ("POST", "/logout", logout)]


async def _read_form(request: Request) -> dict[str, str]:
    """The fields of a form post (the last of each name); none when it is too long."""
    body = await read_limited(request, FORM_LIMIT)
    if body is None:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    return {name: values[-1] for name, values in fields.items()}


def _safe_next(target: str) -> str:
    """Only local paths: a login must not redirect elsewhere."""
    # browsers read a backslash as "/" and drop tabs and newlines: either can lead off-site
    if not target.startswith("/") or target[1:2] == "/" or "\\" in target:
        return "/"
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return "/"
    return target.replace('"', "")

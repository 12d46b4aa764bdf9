"""API tokens with scopes for the HTTP gateway: `emit`, `read`, `admin` (admin implies both).

Tokens are configured hashed (SHA-256 of a 256-bit random token: high entropy needs no slow
hash), inline in `RAPPORT_API_TOKENS` as `name:scope+scope:sha256hex;…` or in a JSON file
(`RAPPORT_API_TOKENS_FILE`, written by `rapport token create`). A request presents
`Authorization: Bearer <token>` (or the dashboard's `rapport_token` cookie); the hash is
compared in constant time with every configured one. With no token configured the gateway is
open, and `rapport up` binds it to loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import orjson
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from starlette.types import ASGIApp, Receive, Scope, Send

    from services.config.settings import Settings

SCOPES = ("emit", "read", "admin")
COOKIE = "rapport_token"
OPEN_PATHS = ("/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/login", "/static/")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class TokenConfigError(ValueError):
    """A token entry that cannot be read."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A named, hashed token and what it may do."""

    name: str
    scopes: frozenset[str]
    sha256: str

    def allows(self, scope: str) -> bool:
        """True when this token may act in `scope`."""
        return scope in self.scopes or "admin" in self.scopes


def digest(token: str) -> str:
    """The SHA-256 hex digest a token is kept as."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (shown once, stored only as its digest)."""
    return f"rpt_{secrets.token_urlsafe(32)}"


def _entry(name: str, scopes: list[str], sha256: str, where: str) -> ApiToken:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenConfigError(f"{where}: scopes must be among {', '.join(SCOPES)}, got {scopes}")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise TokenConfigError(f"{where}: the hash must be 64 hex characters (sha256)")
    return ApiToken(name, frozenset(scopes), sha256.lower())


def parse_inline(text: str) -> list[ApiToken]:
    """Entries of `RAPPORT_API_TOKENS`: `name:scope+scope:sha256hex`, separated by `;`."""
    tokens = []
    for number, raw in enumerate(filter(None, (part.strip() for part in text.split(";"))), 1):
        parts = raw.split(":")
        if len(parts) != 3:
            raise TokenConfigError(
                f"RAPPORT_API_TOKENS entry {number}: expected name:scope+scope:sha256hex"
            )
        name, scopes, sha256 = parts
        where = f"RAPPORT_API_TOKENS entry {number} ({name})"
        tokens.append(_entry(name, scopes.split("+"), sha256, where))
    return tokens


def read_file(path: Path) -> list[ApiToken]:
    """Entries of a tokens file: `{"tokens": [{"name", "scopes", "sha256"}]}`."""
    try:
        document = json.loads(path.read_text())
        entries = document["tokens"]
        return [
            _entry(e["name"], list(e["scopes"]), e["sha256"], f"{path} ({e['name']})")
            for e in entries
        ]
    except FileNotFoundError:
        raise TokenConfigError(f"{path}: no such tokens file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenConfigError(f"{path}: not a tokens file ({exc})") from None


def add_to_file(path: Path, name: str, scopes: list[str]) -> str:
    """Create a token, append its digest to the file (mode 0600), and return it."""
    token = new_token()
    entry = _entry(name, scopes, digest(token), str(path))
    document: dict[str, list[dict[str, object]]] = {"tokens": []}
    if path.exists():
        document = json.loads(path.read_text())
    if any(existing["name"] == name for existing in document["tokens"]):
        raise TokenConfigError(f"{path}: a token named {name!r} exists already")
    document["tokens"].append(
        {"name": entry.name, "scopes": sorted(entry.scopes), "sha256": entry.sha256}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return token


class TokenRegistry:
    """The configured tokens; empty means the gateway is open."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        self.tokens = tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenRegistry:
        """Tokens from `RAPPORT_API_TOKENS` and `RAPPORT_API_TOKENS_FILE`."""
        tokens = parse_inline(settings.api_tokens) if settings.api_tokens else []
        if settings.api_tokens_file:
            tokens += read_file(settings.api_tokens_file)
        return cls(tokens)

    @property
    def enabled(self) -> bool:
        """True when requests must present a token."""
        return bool(self.tokens)

    def identify(self, presented: str) -> ApiToken | None:
        """The token presented, compared in constant time with every configured digest."""
        wanted = digest(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(wanted, token.sha256):
                found = token
        return found


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


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Rapport</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#111}}
label,input,button{{display:block;width:100%;font:inherit}}
input{{padding:.5rem;margin:.25rem 0 1rem}}
button{{padding:.5rem;background:#1f4e79;color:#fff;border:0;border-radius:4px}}
.error{{color:#a00}}</style></head>
<body><main><h1>Rapport</h1>{error}
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label for="token">API token with the <code>read</code> scope</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"""


def login_routes(
    registry: TokenRegistry,
) -> list[tuple[str, str, Callable[..., Awaitable[Response]]]]:
    """GET and POST /login for the dashboard: the token goes into an HttpOnly cookie."""

    async def show(request: Request) -> Response:
        target = request.query_params.get("next", "/")
        page = LOGIN_PAGE.format(error="", next=_safe_next(target))
        return HTMLResponse(page)

    async def submit(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        token = form.get("token", [""])[0]
        target = _safe_next(form.get("next", ["/"])[0])
        found = registry.identify(token) if registry.enabled else None
        if registry.enabled and (found is None or not found.allows("read")):
            page = LOGIN_PAGE.format(
                error='<p class="error" role="alert">That token cannot read.</p>', next=target
            )
            return HTMLResponse(page, status_code=401)
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


def http_host_for(settings: Settings, registry: TokenRegistry) -> tuple[str, str | None]:
    """The host the gateway may bind, and a notice when it was held to loopback."""
    host = settings.http_host
    if registry.enabled or host in LOOPBACK or settings.insecure_open_http:
        return host, None
    return "127.0.0.1", (
        f"no API tokens are configured, so HTTP listens on 127.0.0.1 only (not {host}); "
        "configure RAPPORT_API_TOKENS or RAPPORT_API_TOKENS_FILE (see `rapport token create`)"
    )

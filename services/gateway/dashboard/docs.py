"""The API docs at `/docs`: Swagger UI from files shipped in a package, never from a CDN.

FastAPI's own `/docs` loads Swagger UI from a CDN, which shows a blank page offline; the app
turns it off (`docs_url=None`) and this serves the same UI from `fastapi-offline`'s copy of
Swagger UI's files, under `/static/api-docs/` (open to all, like every static file).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

ASSETS = "/static/api-docs"
SHIPPED = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


@cache
def assets_dir() -> Path:
    """Where the installed package keeps Swagger UI's files."""
    return Path(str(files("fastapi_offline") / "static"))  # a plain folder: pip installs it so


@router.get("/docs", response_class=HTMLResponse, name="docs")
async def docs(request: Request) -> Response:
    """Swagger UI over the app's OpenAPI document; everything it loads comes from here."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="Rapport API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        # no badge from the online validator: the page asks nothing of another host
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse, name="docs_oauth2_redirect")
async def oauth2_redirect() -> Response:
    """Swagger UI's OAuth2 redirect page (inline, as FastAPI's own)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get(f"{ASSETS}/{{name}}", name="docs_asset")
async def asset(name: str) -> Response:
    """One of Swagger UI's files."""
    if name not in SHIPPED:
        raise HTTPException(404)
    return FileResponse(
        assets_dir() / name,
        media_type=SHIPPED[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )

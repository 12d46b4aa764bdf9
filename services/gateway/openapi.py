"""The OpenAPI document tells the truth: every status a route answers, with its reply schema.

Routes answer with bytes the services built (nothing is re-validated on the way out), so each
route names its replies with `responses=replies(...)`: the models of `events/replies.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from events.envelope import Event
from events.replies import ErrorReply

if TYPE_CHECKING:
    from fastapi import FastAPI

OPEN_OPERATIONS = frozenset({"/healthz"})

INVALID = "a parameter cannot be read (the message names it and why)"
UNAUTHORIZED = "no valid bearer token or browser session (only when API tokens are configured)"
FORBIDDEN = "the token or session lacks the scope this needs"
UNKNOWN = "the relationship is unknown"
UNAVAILABLE = "the service did not answer, or had not applied `min_seq` within `wait_ms`"
READ_ERRORS = {400: INVALID, 401: UNAUTHORIZED, 403: FORBIDDEN, 503: UNAVAILABLE}
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorReply"}
# The envelope's schema is the contract's models' own, its parts named `event.<Model>`.
EVENT_PREFIX = "#/components/schemas/event."
EVENT_SCHEMA = {"$ref": f"{EVENT_PREFIX}Event"}


def replies(
    model: Any, description: str, errors: dict[int, str], status: int = 200
) -> dict[int | str, dict[str, Any]]:
    """`responses` of a route: its reply, and each error status it really answers, and why."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": model, "description": description}
    }
    for error_status, why in sorted(errors.items()):
        documented[error_status] = {"model": ErrorReply, "description": why}
    return documented


def json_errors(errors: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """Error replies of a route whose own reply is not JSON (their schema named directly)."""
    return {
        status: {"description": why, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
        for status, why in sorted(errors.items())
    }


def finish(app: FastAPI, *, locked: bool) -> None:
    """Complete the app's document: the envelope's schema; with tokens, the bearer scheme."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(event_schemas())
            if locked:
                declare_bearer(document)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def event_schemas() -> dict[str, Any]:
    """The schemas of an event envelope (`event.Event`, a union on `type`) and of its parts."""
    schema = TypeAdapter(Event).json_schema(ref_template=EVENT_PREFIX + "{model}")
    parts = schema.pop("$defs", {})
    return {f"event.{name}": part for name, part in {**parts, "Event": schema}.items()}


def declare_bearer(document: dict[str, Any]) -> None:
    """Say every operation but `/healthz` needs a bearer token."""
    document["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token (`rapport token create`): `emit` to post events, "
            "`read` to query, `admin` for both and /metrics",
        }
    }
    for path, operations in document.get("paths", {}).items():
        if path not in OPEN_OPERATIONS:
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]

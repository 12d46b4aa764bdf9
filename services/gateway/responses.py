"""JSON responses of the gateway, and its errors in the contract's one shape and code set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Response

if TYPE_CHECKING:
    from collections.abc import Mapping

# The contract's HTTP codes and their statuses (`invalid` is 400, or 422 for a refused event).
STATUS_OF_CODE = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "unavailable": 503,
}
CODE_OF_STATUS = {status: code for code, status in STATUS_OF_CODE.items()}
CODE_OF_STATUS |= {405: "invalid", 422: "invalid"}


def json_response(
    payload: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response serialised with orjson."""
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    **more: Any,
) -> Response:
    """`{"error": {"code", "message"}}` (and `more` keys beside it) with the status's code.

    A status outside the contract's set is answered as the nearest one it has: another 4xx
    as 400 `invalid`, any 5xx as 503 `unavailable` (never a 500).
    """
    if status not in CODE_OF_STATUS:
        status = 503 if status >= 500 else 400
    error = {"code": CODE_OF_STATUS[status], "message": message}
    return json_response({"error": error, **more}, status, headers)

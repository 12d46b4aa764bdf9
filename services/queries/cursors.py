"""Opaque page cursors: the position after the last item, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson


class BadCursor(ValueError):
    """A cursor this service did not issue."""


def encode_cursor(position: Any) -> str:
    """A cursor for the page that starts after `position`."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position a cursor stands for."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor(f"cursor: not a cursor this service issued ({exc})") from None

"""Opaque page cursors: the position after the last item, base64url-encoded JSON.

A cursor comes back from outside, so whatever it decodes to is checked against the shape of
position the listing issued before it is used: anything else is a `BadCursor`, never a query.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import orjson

from events.fields import RELATIONSHIP_ID_PATTERN

MAX_CURSOR = 1024  # characters: every cursor issued is far shorter
MAX_SEQ = 2**63 - 1  # a JetStream sequence is an unsigned 64-bit number; SQLite stops here
_RELATIONSHIP_ID = re.compile(RELATIONSHIP_ID_PATTERN)


class BadCursor(ValueError):
    """A cursor this service did not issue."""


def encode_cursor(position: Any) -> str:
    """A cursor for the page that starts after `position`."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position a cursor stands for, whatever its shape."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor(f"cursor: not a cursor this service issued (over {MAX_CURSOR} characters)")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor(f"cursor: not a cursor this service issued ({exc})") from None


def decode_relationship_cursor(cursor: str) -> str:
    """The relationship id a page in id order starts after."""
    position = decode_cursor(cursor)
    if isinstance(position, str) and _RELATIONSHIP_ID.fullmatch(position):
        return position
    raise _unexpected(position, "a relationship id")


def decode_sequence_cursor(cursor: str) -> int:
    """The stream sequence a page of stored messages starts after."""
    position = decode_cursor(cursor)
    if type(position) is int and 0 <= position <= MAX_SEQ:  # bool is an int, and refused
        return position
    raise _unexpected(position, "a stream sequence")


def decode_due_cursor(cursor: str) -> tuple[float, str]:
    """The (due seconds, relationship id) a page in due order starts after."""
    position = decode_cursor(cursor)
    if isinstance(position, list) and len(position) == 2:
        due, relationship_id = position
        if (
            type(due) in (int, float)
            and math.isfinite(due)
            and isinstance(relationship_id, str)
            and _RELATIONSHIP_ID.fullmatch(relationship_id)
        ):
            return float(due), relationship_id
    raise _unexpected(position, "a due time and a relationship id")


def _unexpected(position: Any, expected: str) -> BadCursor:
    shown = orjson.dumps(position).decode()[:60]
    return BadCursor(
        f"cursor: not a cursor of this listing (it holds {shown}, not {expected}); "
        "send back the next_cursor of the page before, with the same filters"
    )

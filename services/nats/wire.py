"""How every service writes a reply: JSON by orjson, an error as the contract's `{"error": ...}`."""

from __future__ import annotations

from typing import Any

import orjson


def reply(payload: dict[str, Any]) -> bytes:
    """Serialise a reply the same way in every handler."""
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def error_reply(code: str, message: str, **extra: Any) -> bytes:
    """The contract's error reply: `{"error": {"code", "message"}}`, `error` first.

    The gateway tells an error from an answer by that first key, without parsing the reply.
    """
    return reply({"error": {"code": code, "message": message}, **extra})

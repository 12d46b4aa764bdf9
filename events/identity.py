"""Event identity: what an event id names, as a short digest (contract: "Event identity").

Two events are the same event when they have the same `id`, `type`, `subject`, `time` (the
same instant, however its offset is written) and `data` (the same typed values, however the
JSON spells them). `source`, `actor` and extension attributes are not part of it: a retry
through another door is still the same event.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import orjson

from events.records import data_json

if TYPE_CHECKING:
    from events.records import Event

DIGEST_BYTES = 16


def digest(event: Event) -> bytes:
    """A digest of what the event's id names (16 bytes of BLAKE2b over canonical JSON)."""
    named = [
        event.id,
        event.type,
        event.subject,
        event.time.timestamp(),
        data_json(event.data),
    ]
    canonical = orjson.dumps(named, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=DIGEST_BYTES).digest()

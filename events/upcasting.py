"""Schema evolution: events stored under an older shape of a type are read as the current one.

The log is immutable, so an old event is never rewritten; every reader (projections, audit,
history, ingest) upcasts it on the way in. A shape is named by the CloudEvents `dataschema`
attribute, ending in `v<N>` (e.g. `urn:rapport:interaction.recorded:v0`); without one, an
event is in the current shape. Upcasters chain: v0 -> v1 -> ... -> current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

Envelope = dict[str, Any]
_VERSION = re.compile(r"[:/]v(\d+)$")


@dataclass(frozen=True)
class Upcaster:
    """Turns an envelope of `event_type` at `from_version` into the next version."""

    event_type: str
    from_version: int
    upcast: Callable[[Envelope], Envelope]


class NewerShape(ValueError):
    """An event declares a shape newer than this Rapport understands."""


CURRENT_VERSION: dict[str, int] = {"rapport.interaction.recorded": 1}
REGISTRY: dict[tuple[str, int], Upcaster] = {}


def register(upcaster: Upcaster) -> Upcaster:
    """Add an upcaster to the registry."""
    REGISTRY[(upcaster.event_type, upcaster.from_version)] = upcaster
    return upcaster


def schema_uri(event_type: str, version: int) -> str:
    """The `dataschema` naming a shape."""
    return f"urn:rapport:{event_type.removeprefix('rapport.')}:v{version}"


def current_version(event_type: str) -> int:
    """The shape every reader folds (1 unless a type has evolved further)."""
    return CURRENT_VERSION.get(event_type, 1)


def declared_version(envelope: Envelope) -> int | None:
    """The version an envelope's `dataschema` declares, if it declares one."""
    schema = envelope.get("dataschema")
    if isinstance(schema, str):
        match = _VERSION.search(schema)
        if match:
            return int(match.group(1))
    return None


def upcast(envelope: Envelope) -> tuple[Envelope, int | None]:
    """The envelope in the current shape, and the version it was stored in (None: current)."""
    event_type = envelope.get("type")
    version = declared_version(envelope)
    if not isinstance(event_type, str) or version is None:
        return envelope, None
    current = current_version(event_type)
    if version > current:
        raise NewerShape(
            f"dataschema: {event_type} v{version} is newer than the v{current} this Rapport reads"
        )
    if version == current:
        return envelope, None
    original = version
    while version < current:
        step = REGISTRY.get((event_type, version))
        if step is None:
            raise NewerShape(f"dataschema: no upcaster from {event_type} v{version}")
        envelope = step.upcast(envelope)
        version += 1
    return envelope, original


# -- the shapes Rapport has had -----------------------------------------------------------------


def _interaction_v0(envelope: Envelope) -> Envelope:
    """v0 (the first CRM sync) said `channel`, `initiated_by` and a 1-5 `rating`."""
    stored = envelope.get("data")
    if not isinstance(stored, dict):
        raise ValueError(f"data: must be a JSON object, got {type(stored).__name__}")
    data = dict(stored)
    channel = data.pop("channel", "other")
    initiated = data.pop("initiated_by", "us")
    rating = data.pop("rating", 3)
    kinds = {"phone": "call", "video": "meeting", "chat": "message", "in-person": "meeting"}
    directions = {"them": "inbound", "us": "outbound", "both": "mutual"}
    data["kind"] = kinds.get(channel, channel)
    data["direction"] = directions.get(initiated, initiated)
    if isinstance(rating, int | float) and not isinstance(rating, bool):
        data["sentiment"] = max(-1.0, min(1.0, (rating - 3) / 2))
    return {
        **envelope,
        "data": data,
        "dataschema": schema_uri("rapport.interaction.recorded", 1),
    }


register(Upcaster("rapport.interaction.recorded", 0, _interaction_v0))

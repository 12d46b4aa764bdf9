"""Notices (v1.1): what changed that people act on, as the CloudEvents Rapport publishes.

A projection publishes a notice to `RAPPORT_NOTICES` on `rapport.notice.<relationship_id>.<kind>`
once the change is committed. Its id is derived from what caused it — the event, or the due
instant of a touch — so a redelivery, a restart or a rebuild never announces a change twice:

- `stage.changed` (stage): a stage change, accepted or rejected: `from`, `to`, `accepted`,
  `verdict`, `flags`, `why`;
- `health.band.changed` (health): a batch that moved the band: `from`, `to`, `score`, `reasons`;
- `touch.due` (health): `next_touch_due` passing: `due`, `stage`, `score`, `band`, `reasons`;
- `proposal.decided` (proposals): accepted, declined or withdrawn: `proposal_id`, `decision`,
  `flags`.

Every `data` also holds `relationship_id` and `owner`, and, for those an event caused,
`event_id` and `seq` (its `RAPPORT_EVENTS` sequence). Free text (a stage change's reason, a
proposal's title, the counterpart's name) is left out: a notice carries no more personal data
than the health reasons already show; ask the projections for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from events.subjects import notice_subject

STAGE_CHANGED = "stage.changed"
BAND_CHANGED = "health.band.changed"
TOUCH_DUE = "touch.due"
PROPOSAL_DECIDED = "proposal.decided"
KINDS: tuple[str, ...] = (STAGE_CHANGED, BAND_CHANGED, TOUCH_DUE, PROPOSAL_DECIDED)
# which projection announces which kinds (each may publish only its own: services.nats.roles)
PUBLISHER: dict[str, str] = {
    STAGE_CHANGED: "stage",
    BAND_CHANGED: "health",
    TOUCH_DUE: "health",
    PROPOSAL_DECIDED: "proposals",
}
TYPE_PREFIX = "rapport.notice."


def kinds_of(projection: str) -> tuple[str, ...]:
    """The notice kinds a projection announces."""
    return tuple(kind for kind in KINDS if PUBLISHER[kind] == projection)


def notice_id(kind: str, cause: str) -> str:
    """The id of the notice of `kind` that `cause` (an event id, or a due instant) brought.

    Event ids are printable ASCII without spaces, so the id is one too: it goes as it is into
    `Nats-Msg-Id` and `webhook-id`.
    """
    return f"{kind}:{cause}"


def touch_due_cause(relationship_id: str, due: float) -> str:
    """What causes a `touch.due` notice: the relationship and its due instant (whole seconds)."""
    return f"{relationship_id}@{iso(due)}"


def iso(moment: float) -> str:
    """An instant as RFC 3339 in UTC, `Z`, to the second (or finer when it has a fraction)."""
    text = datetime.fromtimestamp(moment, UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice, ready to publish."""

    id: str
    kind: str
    relationship_id: str
    time: float  # when the change happened (epoch seconds)
    data: dict[str, Any]

    @property
    def subject(self) -> str:
        """Where it is published."""
        return notice_subject(self.relationship_id, self.kind)

    def envelope(self) -> dict[str, Any]:
        """The CloudEvents 1.0 envelope (structured mode)."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": f"rapport/{PUBLISHER[self.kind]}",
            "type": TYPE_PREFIX + self.kind,
            "subject": self.relationship_id,
            "time": iso(self.time),
            "datacontenttype": "application/json",
            "data": self.data,
        }

    def body(self) -> bytes:
        """The envelope as JSON bytes (what the stream stores and webhooks receive)."""
        return orjson.dumps(self.envelope())


class NoticeEnvelope(BaseModel):
    """A stored notice as readers take it (unknown attributes kept, as for events)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        """The notice kind (`stage.changed`, ...)."""
        return self.type.removeprefix(TYPE_PREFIX)

    @property
    def owner(self) -> str | None:
        """Who on our side holds the relationship, as the notice says."""
        owner = self.data.get("owner")
        return owner if isinstance(owner, str) else None


def read_notice(body: bytes) -> NoticeEnvelope | None:
    """A stored notice, or None for bytes that are not one (never raises)."""
    try:
        return NoticeEnvelope.model_validate_json(body)
    except (ValidationError, ValueError):
        return None


def owner_matches(wanted: str, owner: str | None) -> bool:
    """The owner rule of every filter: `maria@x.com` matches itself, `maria` also `maria@…`."""
    if owner is None:
        return False
    if "@" in wanted:
        return owner == wanted
    return owner == wanted or owner.startswith(f"{wanted}@")

"""Audit, raw history and time travel through a real nats-server, and old shapes in every reader."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from tests.conftest import running_gateway
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.projection.service import ProjectionService

OLD_SHAPE = event(
    "interaction.recorded",
    "r",
    {"channel": "phone", "initiated_by": "them", "rating": 5},
    days=3,
    dataschema="urn:rapport:interaction.recorded:v0",
    event_id="legacy-1",
)


async def story(nc: NATS) -> int:
    """A relationship with accepted, rejected and evidence-flagged changes; returns last seq."""
    await publish(nc, event("connection.made", "r", days=0))
    await publish(nc, event("stage.changed", "r", {"to": "awareness"}, days=1, actor="maria"))
    await publish(nc, event("stage.changed", "r", {"to": "partnership"}, days=2, actor="bot"))
    await publish(nc, OLD_SHAPE)  # an inbound call, stored in the v0 shape
    await publish(nc, event("stage.changed", "r", {"to": "engagement"}, days=4, actor="maria"))
    return await publish(
        nc, event("stage.changed", "r", {"to": "conversion", "reason": "ready"}, days=5)
    )


@pytest.mark.usefixtures("services")
async def test_audit_over_nats(nc: NATS) -> None:
    last = await story(nc)
    reply = await ask(nc, "audit", relationship_id="r", min_seq=last)
    assert reply["stage"] == "conversion"
    summary = [(c["seq"], c["to"], c["accepted"], c["flags"]) for c in reply["changes"]]
    assert summary == [
        (2, "awareness", True, []),
        (3, "partnership", False, ["skipped:engagement+conversion", "missing-reason", "no-accepted-proposal"]),
        (5, "engagement", True, []),  # the v0 inbound call counts as evidence
        (6, "conversion", True, ["no-purpose"]),
    ]  # fmt: skip
    assert reply["changes"][1]["actor"] == "bot"
    assert reply["changes"][1]["source"] == "tests"


@pytest.mark.usefixtures("services")
async def test_audit_as_of_answers_what_was_true_then(nc: NATS) -> None:
    await story(nc)
    reply = await ask(nc, "audit", relationship_id="r", as_of="2026-01-07T12:00:00Z", min_seq=6)
    assert reply["stage"] == "awareness"
    assert [c["seq"] for c in reply["changes"]] == [2, 3]
    stage = await ask(nc, "stage.get", relationship_id="r", as_of="2026-01-07T12:00:00Z")
    assert stage["stage"] == "awareness"
    await ask(nc, "health.get", relationship_id="r", min_seq=6)  # it has read the story
    health = await ask(nc, "health.get", relationship_id="r", as_of="2026-01-07T12:00:00Z")
    assert health["stage"] == "awareness"
    assert health["last_interaction_at"] is None
    missing = await ask(nc, "audit", relationship_id="nobody")
    assert missing["error"]["code"] == "not_found"


@pytest.mark.usefixtures("services")
async def test_every_reader_handles_the_old_shape(nc: NATS) -> None:
    last = await story(nc)
    stage = await ask(nc, "stage.get", relationship_id="r", min_seq=last)
    assert stage["stage"] == "conversion"
    # the health service answers `as_of` from its store once it has read the whole story
    await ask(nc, "health.get", relationship_id="r", min_seq=last)
    health = await ask(nc, "health.get", relationship_id="r", as_of="2026-01-09T09:00:00Z")
    assert health["last_interaction_at"] == "2026-01-08T09:00:00Z"  # the v0 call is a touch
    assert health["components"]["reciprocity"] == 1.0  # they initiated it
    assert health["components"]["sentiment"] == 1.0  # rating 5 of 5
    # and the log itself was not changed
    stored = await nc.jetstream().get_msg("RAPPORT_EVENTS", 4)
    assert stored.data is not None
    assert orjson.loads(stored.data) == OLD_SHAPE


@pytest.mark.usefixtures("ingest_service")  # history asks its index of event ids
async def test_history_and_audit_over_http(
    settings: Settings,
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
) -> None:
    last = await story(nc)
    await nc.jetstream().publish("rapport.ev.r.interaction.recorded", b"not an event")
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as http:
        first = await http.get("/v1/relationships/r/events", params={"limit": 4})
        assert first.status_code == 200
        body: dict[str, Any] = first.json()
        assert [item["seq"] for item in body["items"]] == [1, 2, 3, 4]
        old = body["items"][3]
        assert old["upcast_from"] == 0
        assert old["event"]["data"] == {"kind": "call", "direction": "inbound", "sentiment": 1.0}
        assert old["stored_as"] == OLD_SHAPE
        rest = await http.get("/v1/relationships/r/events", params={"cursor": body["next_cursor"]})
        tail = rest.json()["items"]
        assert [item["seq"] for item in tail] == [5, 6, 7]
        assert tail[-1]["event"] is None
        assert tail[-1]["raw"] == "not an event"
        assert tail[-1]["error"].startswith("body: not valid JSON")
        assert rest.json()["next_cursor"] is None
        assert (await http.get("/v1/relationships/nobody/events")).status_code == 404
        audit = await http.get("/v1/relationships/r/audit", params={"min_seq": last})
        assert audit.status_code == 200
        assert len(audit.json()["changes"]) == 4
        past = await http.get("/v1/relationships/r/audit", params={"as_of": "2026-01-06T12:00:00Z"})
        assert [c["to"] for c in past.json()["changes"]] == ["awareness"]

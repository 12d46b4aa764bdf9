"""POST /v1/events through the real gateway (uvicorn on loopback) into a real JetStream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from events.subjects import EVENTS_STREAM
from tests.conftest import running_gateway
from tests.factories import event, raw

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

JSON = {"content-type": "application/json"}


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else raw(body)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return await client.post("/v1/events", content=content, headers=headers or JSON)


async def stored(nc: NATS) -> int:
    return int((await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages)


async def test_accepted_event_is_202_with_its_seq(gateway: str, nc: NATS) -> None:
    envelope = event("connection.made", "rel-9", event_id="h-1")
    response = await post(gateway, envelope)
    assert response.status_code == 202
    assert response.json() == {"accepted": [{"id": "h-1", "seq": 1}], "rejected": []}
    assert await stored(nc) == 1


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/cloudevents+json; charset=utf-8",
        "application/cloudevents-batch+json",
    ],
)
async def test_content_types(gateway: str, content_type: str) -> None:
    body = [event("interaction.recorded")]
    response = await post(gateway, body, {"content-type": content_type})
    assert response.status_code == 202
    assert len(response.json()["accepted"]) == 1


async def test_unknown_content_type_is_415(gateway: str) -> None:
    response = await post(gateway, event("interaction.recorded"), {"content-type": "text/plain"})
    assert response.status_code == 415
    assert "application/cloudevents+json" in response.json()["error"]["message"]


async def test_a_body_that_does_not_say_it_is_json_is_415(gateway: str, nc: NATS) -> None:
    # what a page of another site can send without asking first (no preflight): no type at all
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        response = await client.post("/v1/events", content=raw(event("interaction.recorded")))
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert await stored(nc) == 0


async def test_invalid_single_event_is_422_naming_the_field(gateway: str, nc: NATS) -> None:
    bad = event("interaction.recorded", data={"kind": "call", "direction": "inbound", "x": 1})
    response = await post(gateway, bad)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == {"code": "invalid", "message": "data.x: unknown field"}
    assert body["rejected"] == [
        {"id": bad["id"], "error": "data.x: unknown field", "code": "invalid"}
    ]
    assert await stored(nc) == 0


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff", 400, "not valid UTF-8"),
        (b"true", 400, "must be a JSON object"),
        (b'"a string"', 400, "must be a JSON object"),
    ],
)
async def test_unreadable_bodies(gateway: str, body: bytes, status: int, expected: str) -> None:
    response = await post(gateway, body)
    assert response.status_code == status
    assert expected in response.json()["error"]["message"]


async def test_rule_breaking_stage_change_is_422(gateway: str) -> None:
    response = await post(gateway, event("stage.changed", "r", {"to": "partnership"}))
    assert response.status_code == 422
    # HTTP speaks the contract's HTTP codes (`invalid`); the refused entry keeps the ingest's own
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["rejected"][0]["code"] == "rejected"
    assert "needs a reason" in response.json()["error"]["message"]


async def test_stale_from_is_409(gateway: str) -> None:
    response = await post(
        gateway, event("stage.changed", "r", {"to": "engagement", "from": "awareness"})
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_partial_batch_is_202_with_both_lists(gateway: str, nc: NATS) -> None:
    batch = [event("interaction.recorded"), event("interaction.recorded", time="yesterday")]
    response = await post(gateway, batch)
    assert response.status_code == 202
    body = response.json()
    assert len(body["accepted"]) == 1
    assert body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["error"].startswith("time:")
    assert await stored(nc) == 1


async def test_duplicate_over_http(gateway: str, nc: NATS) -> None:
    envelope = event("interaction.recorded")
    await post(gateway, envelope)
    response = await post(gateway, envelope)
    assert response.status_code == 202
    assert response.json()["accepted"][0]["duplicate"] is True
    assert await stored(nc) == 1


async def test_oversized_body_is_413(settings: Settings, nc: NATS) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    async with running_gateway(small) as url:
        notes = "x" * 3000
        envelope = event(
            "interaction.recorded", data={"kind": "call", "direction": "inbound", "notes": notes}
        )
        response = await post(url, envelope)
        assert response.status_code == 413
        assert "limit of 2048" in response.json()["error"]["message"]

        # a chunked body without content-length is cut off at the limit too
        async def chunks() -> Any:
            for _ in range(4):
                yield b" " * 1024

        async with httpx.AsyncClient(base_url=url) as client:
            chunked = await client.post("/v1/events", content=chunks(), headers=JSON)
        assert chunked.status_code == 413
    assert await stored(nc) == 0


async def test_oversized_batch_is_413(settings: Settings, nc: NATS) -> None:
    async with running_gateway(settings.model_copy(update={"max_batch": 5})) as url:
        response = await post(url, [event("interaction.recorded") for _ in range(6)])
    assert response.status_code == 413
    assert "6 events is more than the limit of 5" in response.json()["error"]["message"]
    assert await stored(nc) == 0


async def test_healthz_and_docs(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        health = await client.get("/healthz")
        docs = await client.get("/docs")
        spec = await client.get("/openapi.json")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert set(health.json()["streams"]) == {"RAPPORT_EVENTS", "RAPPORT_DLQ", "RAPPORT_NOTICES"}
    assert docs.status_code == 200
    assert "/v1/events" in spec.json()["paths"]


async def test_healthz_is_503_when_streams_are_missing(settings: Settings) -> None:
    # the `nc` fixture is not used: nothing created the streams
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as client:
        health = await client.get("/healthz")
    assert health.status_code == 503
    assert "stream RAPPORT_EVENTS is missing" in health.json()["problems"]

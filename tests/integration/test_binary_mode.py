"""CloudEvents HTTP binary mode on POST /v1/events, sent with the official SDK, stored structured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from cloudevents.core.bindings.http import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from events.subjects import EVENTS_STREAM

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

DATA = {"kind": "meeting", "direction": "mutual", "sentiment": 0.6}


def attributes(**changes: Any) -> dict[str, Any]:
    """The attributes of an interaction, as a CloudEvents SDK user writes them."""
    return {
        "specversion": "1.0",
        "id": "bin-1",
        "source": "crm-sync",
        "type": "rapport.interaction.recorded",
        "subject": "rel-bin",
        "time": datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC),
        "datacontenttype": "application/json",
        "actor": "maria@example.com",
        **changes,
    }


async def post(url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return await client.post("/v1/events", headers=headers, content=body)


async def stored(nc: NATS, seq: int) -> dict[str, Any]:
    message = await nc.jetstream().get_msg(EVENTS_STREAM, seq)
    assert message.data is not None
    envelope: dict[str, Any] = orjson.loads(message.data)
    return envelope


async def test_an_sdk_binary_event_is_stored_structured(gateway: str, nc: NATS) -> None:
    message = to_binary(CloudEvent(attributes(), DATA), JSONFormat())
    assert "ce-specversion" in message.headers  # binary mode, as the SDK sends it
    assert message.headers["content-type"] == "application/json"
    response = await post(gateway, message.headers, message.body)
    assert response.status_code == 202, response.text
    [accepted] = response.json()["accepted"]
    assert accepted["id"] == "bin-1"
    assert await stored(nc, accepted["seq"]) == {
        "specversion": "1.0",
        "id": "bin-1",
        "source": "crm-sync",
        "type": "rapport.interaction.recorded",
        "subject": "rel-bin",
        "time": "2026-11-02T15:04:05Z",
        "datacontenttype": "application/json",
        "actor": "maria@example.com",
        "data": DATA,
    }
    again = await post(gateway, message.headers, message.body)
    assert again.json()["accepted"][0]["duplicate"] is True  # one identity, whatever the mode


async def test_header_values_are_percent_decoded(gateway: str, nc: NATS) -> None:
    sent = attributes(id="bin-2", source="crm sync ✓", actor='"maria" 100%')
    message = to_binary(CloudEvent(sent, DATA), JSONFormat())
    assert "%" in message.headers["ce-source"]  # the SDK encodes what a header cannot carry
    response = await post(gateway, message.headers, message.body)
    assert response.status_code == 202, response.text
    envelope = await stored(nc, response.json()["accepted"][0]["seq"])
    assert envelope["source"] == "crm sync ✓"
    assert envelope["actor"] == '"maria" 100%'


async def test_a_binary_event_without_a_type_is_422_naming_it(gateway: str, nc: NATS) -> None:
    message = to_binary(CloudEvent(attributes(id="bin-3"), DATA), JSONFormat())
    headers = {name: value for name, value in message.headers.items() if name != "ce-type"}
    response = await post(gateway, headers, message.body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith("type:")
    assert (await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages == 0


async def test_malformed_binary_requests(gateway: str) -> None:
    message = to_binary(CloudEvent(attributes(id="bin-4"), DATA), JSONFormat())
    as_text = {**message.headers, "content-type": "text/plain"}
    assert (await post(gateway, as_text, b"hello")).status_code == 415
    not_json = await post(gateway, message.headers, b"{not json")
    assert not_json.status_code == 400
    assert not_json.json()["error"]["message"].startswith("data:")
    bad_utf8 = {**message.headers, "ce-source": "%FF%FE"}
    undecodable = await post(gateway, bad_utf8, message.body)
    assert undecodable.status_code == 400
    assert undecodable.json()["error"]["message"].startswith("ce-source:")
    no_data = await post(gateway, message.headers, b"")
    assert no_data.status_code == 422
    assert "data: required field is missing" in no_data.json()["error"]["message"]


async def test_a_cloudevents_body_is_structured_whatever_its_headers(gateway: str) -> None:
    # the binding: application/cloudevents+json is structured mode, even beside ce-* headers
    envelope = {**attributes(id="bin-5", time="2026-11-02T15:04:05Z"), "data": DATA}
    headers = {"content-type": "application/cloudevents+json", "ce-specversion": "1.0"}
    response = await post(gateway, headers, orjson.dumps(envelope))
    assert response.status_code == 202, response.text
    assert response.json()["accepted"][0]["id"] == "bin-5"

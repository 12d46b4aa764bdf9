"""A corpus of bad input through every door: a clear error or a dead letter, never a 5xx or a loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from events import InvalidEvent, parse_event
from events.subjects import DLQ_STREAM, EVENTS_STREAM
from services.ingest.service import IngestService
from tests.conftest import running_gateway, wait_for
from tests.factories import event
from tests.publishing import ask

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.projection.service import ProjectionService


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def with_data(**data: Any) -> dict[str, Any]:
    return event("interaction.recorded", "r", {"kind": "call", "direction": "inbound", **data})


# (name, body, what the error must mention); every body is one request
CORPUS: list[tuple[str, bytes, str]] = [
    ("not json", b"{this is not json", "not valid JSON"),
    ("not utf-8", b'{"id": "\xff\xfe"}', "UTF-8"),
    ("empty body", b"", "not valid JSON"),
    ("a number", b"42", "must be a JSON object"),
    ("null", b"null", "must be a JSON object"),
    ("wrong types", orjson.dumps({**with_data(), "source": 7, "subject": ["r"]}), "source"),
    ("data wrong types", orjson.dumps(with_data(sentiment="high", duration_minutes="5")), "data.sentiment"),
    ("unknown type", orjson.dumps({**with_data(), "type": "rapport.thing.happened"}), "unknown event type"),
    ("missing type", orjson.dumps({k: v for k, v in with_data().items() if k != "type"}), "type"),
    ("bad id", orjson.dumps({**with_data(), "id": "has space"}), "id:"),
    ("id too long", orjson.dumps({**with_data(), "id": "x" * 300}), "id:"),
    ("bad relationship id", orjson.dumps({**with_data(), "subject": "a.b.>"}), "subject:"),
    ("time without offset", orjson.dumps({**with_data(), "time": "2026-11-02T15:04:05"}), "offset"),
    ("year 1", orjson.dumps({**with_data(), "time": "0001-01-01T00:00:00Z"}), "outside"),
    ("year 9999", orjson.dumps({**with_data(), "time": "9999-12-31T00:00:00Z"}), "outside"),
    ("time garbage", orjson.dumps({**with_data(), "time": "yesterday"}), "time:"),
    ("huge string", orjson.dumps(with_data(notes="x" * 200_000)), "bytes is more than"),
    ("long notes", orjson.dumps(with_data(notes="x" * 5000)), "data.notes"),
    ("huge extension", orjson.dumps({**with_data(), "blob": "y" * 100_000}), "bytes is more than"),
    ("deeply nested", nested(5000), "not valid JSON"),
    ("nested extension", orjson.dumps({**with_data()})[:-1] + b',"deep":' + nested(300) + b"}", "deep"),
    ("huge integer", orjson.dumps(with_data())[:-2] + b',"duration_minutes":123456789012345678901234567890}}', "data.duration_minutes"),
    ("newer shape", orjson.dumps({**with_data(), "dataschema": "urn:rapport:interaction.recorded:v9"}), "newer"),
]  # fmt: skip


@pytest.fixture
async def doors(settings: Settings, services: dict[str, Any]) -> Any:
    ingest = IngestService(settings)
    await ingest.start()
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        yield http
    await ingest.stop()


@pytest.mark.parametrize(("name", "body", "mention"), CORPUS, ids=[c[0] for c in CORPUS])
async def test_bad_input_through_http_and_nats(
    doors: httpx.AsyncClient, nc: NATS, name: str, body: bytes, mention: str
) -> None:
    response = await doors.post(
        "/v1/events", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 413, 422), f"{name}: {response.status_code}"
    payload = response.json()
    assert mention in payload["error"]["message"], payload
    reply = orjson.loads((await nc.request("rapport.ingest", body, timeout=5)).data)
    messages = [entry["error"] for entry in reply["rejected"]] + [
        reply.get("error", {}).get("message", "")
    ]
    assert any(mention in m for m in messages), reply
    assert reply["accepted"] == []
    # in a batch, the bad one is named and a good one beside it is kept
    if body.startswith(b"{") and _decodes(body):
        batch = b"[" + body + b"," + orjson.dumps(with_data()) + b"]"
        both = await doors.post(
            "/v1/events", content=batch, headers={"content-type": "application/json"}
        )
        assert both.status_code == 202
        assert len(both.json()["accepted"]) == 1
        assert both.json()["rejected"][0]["index"] == 0
    stored = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages
    assert stored == (1 if body.startswith(b"{") and _decodes(body) else 0)


def _parses(body: bytes) -> bool:
    try:
        parse_event(body)
    except InvalidEvent:
        return False
    return True


def _decodes(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


async def test_unknown_extensions_are_kept(doors: httpx.AsyncClient, nc: NATS) -> None:
    envelope = {**with_data(), "traceparent": "00-4bf9-00f0-01", "tenant": {"id": 7}}
    response = await doors.post(
        "/v1/events", content=orjson.dumps(envelope), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202
    stored = await nc.jetstream().get_msg(EVENTS_STREAM, response.json()["accepted"][0]["seq"])
    assert stored.data is not None
    assert orjson.loads(stored.data)["tenant"] == {"id": 7}
    assert orjson.loads(stored.data)["traceparent"] == "00-4bf9-00f0-01"


@pytest.mark.usefixtures("services")  # the projections index the ids
async def test_oversized_body_and_batch_over_nats_and_http(settings: Settings, nc: NATS) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096, "max_batch": 3})
    ingest = IngestService(small)
    await ingest.start()
    try:
        async with running_gateway(small) as url, httpx.AsyncClient(base_url=url) as http:
            big = orjson.dumps([with_data(notes="z" * 2000) for _ in range(3)])
            assert (
                await http.post(
                    "/v1/events", content=big, headers={"content-type": "application/json"}
                )
            ).status_code == 413
            many = orjson.dumps([with_data() for _ in range(4)])
            assert (
                await http.post(
                    "/v1/events", content=many, headers={"content-type": "application/json"}
                )
            ).status_code == 413
        over_nats = orjson.loads((await nc.request("rapport.ingest", big, timeout=5)).data)
        assert "limit of 4096" in over_nats["error"]["message"]
    finally:
        await ingest.stop()


async def test_raw_publishes_of_the_corpus_are_dead_lettered_and_nothing_is_lost(
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
) -> None:
    js = nc.jetstream()
    published = 0
    for _, body, _ in CORPUS:
        if len(body) < 900_000:  # the server's own payload limit is 1 MB
            await js.publish("rapport.ev.r.interaction.recorded", body)
            published += 1
    misfiled = orjson.dumps(event("stage.changed", "other", {"to": "awareness"}))
    await js.publish("rapport.ev.r.stage.changed", misfiled)
    good = await js.publish("rapport.ev.r.interaction.recorded", orjson.dumps(with_data()))
    last = good.seq
    for service in services.values():
        assert await service.projector.wait_applied(last, 15)
    # a raw publisher is not held to the ingest's per-event size cap: the big extension applies
    valid = sum(1 for _, body, _ in CORPUS if len(body) < 900_000 and _parses(body))
    for service in services.values():
        stats = service.projector.applier.stats
        assert stats.applied + stats.dead_lettered == last  # every message accounted for
        assert stats.applied == valid + 1
    dlq = (await js.stream_info(DLQ_STREAM)).state.messages
    assert dlq == 3 * (published - valid + 1)  # each projection dead-letters each bad one
    reasons = set()
    for seq in range(1, dlq + 1):
        message = await js.get_msg(DLQ_STREAM, seq)
        assert message.headers is not None
        reasons.add(message.headers["Rapport-Reason"].split(":")[0])
    assert reasons <= {"invalid event", "subject mismatch"}
    reply = await ask(nc, "stage.get", relationship_id="r")
    assert reply["implicit"] is True  # the services still answer

    async def all_applied() -> bool:
        return all(s.projector.applied_seq == last for s in services.values())

    await wait_for(all_applied, what="every projection to reach the last event")

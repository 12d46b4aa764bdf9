"""Whatever the route or the input: a clear error in the contract's one shape, never a 500."""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from services.gateway import queries as gateway_queries
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

CODES = {
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "unavailable",
}
ONE_RELATIONSHIP = (
    "/v1/relationships/ada",
    "/v1/relationships/ada/health",
    "/v1/relationships/ada/audit",
)


def cursor_of(position: Any) -> str:
    """A cursor as the API encodes one, holding whatever position a client made up."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def refused(response: httpx.Response, status: int, code: str = "invalid") -> str:
    """The message of an error reply, once its shape, status and code are checked."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert "detail" not in body
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["code"] in CODES
    message: str = body["error"]["message"]
    return message


@pytest.fixture
async def http(gateway: str, nc: NATS) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a live gateway whose projections know one relationship, `ada`."""
    last = await publish(nc, event("connection.made", "ada", event_id="e-ada"))
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        ready = await client.get("/v1/relationships/ada", params={"min_seq": last})
        assert ready.status_code == 200
        yield client


# (query, what the message starts with): each sent to every one-relationship route
ONE_RELATIONSHIP_CASES: list[tuple[dict[str, str], str]] = [
    ({"min_seq": "²"}, "min_seq: must be a whole number >= 0, got '²'"),
    ({"min_seq": "٣"}, "min_seq: must be a whole number >= 0, got '٣'"),
    ({"min_seq": "-1"}, "min_seq: must be a whole number >= 0, got '-1'"),
    ({"min_seq": "1.5"}, "min_seq: must be a whole number >= 0, got '1.5'"),
    ({"min_seq": ""}, "min_seq: must be a whole number >= 0, got ''"),
    (
        {"min_seq": "18446744073709551616"},
        "min_seq: must be a whole number from 0 to 9223372036854775807, got '18446744073709551616'",
    ),
    ({"min_seq": "9" * 5000}, "min_seq: must be a whole number from 0 to 9223372036854775807"),
    ({"min_seq": "0", "wait_ms": "-1"}, "wait_ms: must be a whole number >= 0, got '-1'"),
    (
        {"min_seq": "0", "wait_ms": "30001"},
        "wait_ms: must be a whole number from 0 to 30000, got '30001'",
    ),
    ({"as_of": "0.5"}, "as_of: '0.5' is not an RFC 3339 date-time with an offset"),
    ({"as_of": "1700000000"}, "as_of: '1700000000' is not an RFC 3339 date-time"),
    ({"as_of": "2026-03-01T00:00:00"}, "as_of: '2026-03-01T00:00:00' is not an RFC 3339"),
    ({"as_of": "2026-02-30T00:00:00Z"}, "as_of: '2026-02-30T00:00:00Z' is not an RFC 3339"),
    ({"as_of": "9999-01-01T00:00:00Z"}, "as_of: 9999-01-01T00:00:00Z is outside the accepted"),
    ({"as_of": "2026-11-02T15:04:05 01:00"}, "as_of: '2026-11-02T15:04:05 01:00' lost its '+'"),
]


async def test_bad_parameters_of_one_relationship(http: httpx.AsyncClient) -> None:
    for path in ONE_RELATIONSHIP:
        for query, expected in ONE_RELATIONSHIP_CASES:
            message = refused(await http.get(path, params=query), 400)
            assert message.startswith(expected), (path, query, message)


async def test_good_parameters_still_answer(http: httpx.AsyncClient) -> None:
    for path in ONE_RELATIONSHIP:
        query = {"min_seq": "1", "wait_ms": "30000", "as_of": "2030-01-01T00:00:00+02:00"}
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        assert response.json()["relationship_id"] == "ada"
    late = await http.get("/v1/relationships/ada", params={"min_seq": "99", "wait_ms": "0"})
    assert "seq 99 was not applied within 0 ms" in refused(late, 503, "unavailable")


# (path, query, what the message says)
ROUTE_CASES: list[tuple[str, dict[str, str], str]] = [
    ("/v1/relationships", {"limit": "0"}, "limit: must be a whole number from 1 to 1000"),
    ("/v1/relationships", {"limit": "ten"}, "limit: must be a whole number >= 1, got 'ten'"),
    ("/v1/relationships", {"due_before": "0.5"}, "due_before: '0.5' is not an RFC 3339"),
    ("/v1/relationships", {"stage": "done"}, "stage:"),
    ("/v1/relationships", {"band": "great"}, "band:"),
    ("/v1/relationships", {"owner": ""}, "owner:"),
    ("/v1/relationships", {"stage": "awareness", "band": "healthy"}, "not both"),
    ("/v1/funnel", {"wait_ms": "-1"}, "wait_ms: must be a whole number >= 0, got '-1'"),
    ("/v1/proposals", {"status": "lost"}, "status:"),
    ("/v1/proposals", {"as_of": "0.5"}, "as_of: '0.5' is not an RFC 3339"),
    ("/v1/proposals", {"relationship_id": "a.b"}, "relationship_id:"),
    ("/v1/relationships/ada/events", {"limit": "1001"}, "limit: must be a whole number"),
    ("/v1/relationships/a.b/events", {}, "relationship_id: must be 1-128 letters"),
    ("/v1/relationships/a.b", {}, "relationship_id:"),
]


async def test_bad_parameters_of_every_route(http: httpx.AsyncClient) -> None:
    for path, query, expected in ROUTE_CASES:
        message = refused(await http.get(path, params=query), 400)
        assert expected in message, (path, query, message)


# (path, query, a position no listing issues)
MADE_UP_CURSORS: list[tuple[str, dict[str, str], Any]] = [
    ("/v1/relationships", {}, {"a": 1}),
    ("/v1/relationships", {}, 10**30),
    ("/v1/relationships", {}, ["x", 1]),
    ("/v1/relationships", {"owner": "maria"}, True),
    ("/v1/relationships", {"band": "healthy"}, {"a": 1}),
    ("/v1/relationships", {"due_before": "2030-01-01T00:00:00Z"}, "ada"),
    ("/v1/relationships", {"due_before": "2030-01-01T00:00:00Z"}, [1e308, {"a": 1}]),
    ("/v1/relationships", {"due_before": "2030-01-01T00:00:00Z"}, [True, "ada"]),
    ("/v1/relationships/ada/events", {}, {"a": 1}),
    ("/v1/relationships/ada/events", {}, 10**30),
    ("/v1/relationships/ada/events", {}, 2**63),
    ("/v1/relationships/ada/events", {}, -1),
    ("/v1/relationships/ada/events", {}, "1"),
    ("/v1/relationships/ada/events", {}, True),
]


async def test_cursors_that_were_never_issued(http: httpx.AsyncClient) -> None:
    for path, query, position in MADE_UP_CURSORS:
        sent = {**query, "cursor": cursor_of(position)}
        message = refused(await http.get(path, params=sent), 400)
        assert message.startswith("cursor: not a cursor"), (path, position, message)


async def test_cursors_that_are_not_cursors(http: httpx.AsyncClient) -> None:
    for cursor in ("!!!", "e30", "x" * 5000, "W1tbW1tbW1tbW1tbW1tbW1tbW1td"):
        for path in ("/v1/relationships", "/v1/relationships/ada/events"):
            message = refused(await http.get(path, params={"cursor": cursor}), 400)
            assert message.startswith("cursor: not a cursor"), (cursor, message)


async def test_bad_cursors_over_nats(http: httpx.AsyncClient, nc: NATS) -> None:
    for subject, extra in (
        ("stage.list", {}),
        ("health.list", {}),
        ("health.list", {"due_before": "2030-01-01T00:00:00Z"}),
    ):
        reply = await ask(nc, subject, cursor=cursor_of({"a": 1}), **extra)
        assert reply["error"]["code"] == "invalid", reply
    too_long = await ask(nc, "stage.get", relationship_id="ada", min_seq=0, wait_ms=30_001)
    assert too_long["error"]["code"] == "invalid"
    assert "wait_ms" in too_long["error"]["message"]


async def test_issued_cursors_still_page(http: httpx.AsyncClient, nc: NATS) -> None:
    last = 0
    for name in ("bo", "cy"):
        last = await publish(nc, event("connection.made", name, event_id=f"e-{name}"))
    first = await http.get("/v1/relationships", params={"limit": "1", "min_seq": str(last)})
    assert first.json()["items"][0]["relationship_id"] == "ada"
    second = await http.get(
        "/v1/relationships", params={"limit": "1", "cursor": first.json()["next_cursor"]}
    )
    assert second.status_code == 200
    assert second.json()["items"][0]["relationship_id"] == "bo"
    due = {"due_before": "2198-01-01T00:00:00Z", "limit": "1", "min_seq": str(last)}
    page = await http.get("/v1/relationships", params=due)
    after = await http.get(
        "/v1/relationships", params={**due, "cursor": page.json()["next_cursor"]}
    )
    assert after.status_code == 200
    assert after.json()["items"][0]["relationship_id"] != page.json()["items"][0]["relationship_id"]


NO_ROUTE: list[tuple[str, str, int]] = [
    ("GET", "/nowhere", 404),
    ("GET", "/v1/relationships/", 404),
    ("GET", "/v1/relationships/ada/nothing", 404),
    ("DELETE", "/v1/funnel", 405),
    ("POST", "/v1/relationships", 405),
    ("PUT", "/v1/events", 405),
]


async def test_unknown_paths_and_methods(http: httpx.AsyncClient) -> None:
    for method, path, status in NO_ROUTE:
        response = await http.request(method, path)
        message = refused(response, status, "not_found" if status == 404 else "invalid")
        assert path in message
        if status == 405:
            assert "allowed" in message
            assert response.headers["allow"]


async def test_fastapi_validation_errors_take_the_contract_shape(http: httpx.AsyncClient) -> None:
    # a dashboard page keeps FastAPI's own parameter validation: its errors are reworded too
    message = refused(await http.get("/relationships/a.b"), 400)
    assert message.startswith("relationship_id:"), message


async def test_a_bug_is_logged_and_answered_503_never_500(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the gateway")

    monkeypatch.setattr(gateway_queries, "ask_projection", broken)
    with caplog.at_level(logging.ERROR, logger="rapport.gateway"):
        response = await http.get("/v1/funnel")
    assert "logged" in refused(response, 503, "unavailable")
    [record] = [r for r in caplog.records if r.name == "rapport.gateway"]
    assert record.exc_info is not None
    assert "a bug in the gateway" in str(record.exc_info[1])
    assert "GET /v1/funnel" in record.getMessage()


async def test_a_body_without_a_json_content_type_is_415(http: httpx.AsyncClient) -> None:
    body = orjson.dumps(event("interaction.recorded", "ada"))
    for headers in ({}, {"content-type": "text/plain"}, {"content-type": "multipart/form-data"}):
        response = await http.post("/v1/events", content=body, headers=headers)
        assert "content-type" in refused(response, 415, "unsupported_media_type")

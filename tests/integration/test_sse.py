"""GET /v1/notices as server-sent events through a live gateway, and /v1/webhooks for admins.

A client that disconnects and reconnects with `Last-Event-ID` misses nothing and sees nothing
twice; a quiet stream carries heartbeats; filters and scopes hold; bad parameters are refused
in words. The gateway is locked with tokens, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from services.config.tokens import digest
from services.gateway.sessions import COOKIE
from tests.factories import event
from tests.integration.test_security import sign_in
from tests.publishing import publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.projection.service import ProjectionService

NOW = datetime.now(UTC)
READ, ADMIN, EMIT = "tok-read", "tok-admin", "tok-emit"


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A locked gateway (a reader's, an administrator's and a writer's token), quick heartbeats."""
    tokens = f"reader:read:{digest(READ)};ops:admin:{digest(ADMIN)};crm:emit:{digest(EMIT)}"
    return settings.model_copy(
        update={"api_tokens": tokens, "sse_heartbeat": 0.3, "webhook_allow": "127.0.0.1"}
    )


class Events:
    """Server-sent events read off one open response (comments kept apart)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, within: float = 10.0) -> dict[str, str]:
        return await asyncio.wait_for(self._next(), within)

    async def _next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")


@contextlib.asynccontextmanager
async def stream(
    url: str, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[Events]:
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=None)) as http,
        http.stream("GET", f"/v1/notices{query}", headers={**auth(READ), **(headers or {})}) as r,
    ):
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield Events(r)


async def changes(nc: NATS, rel: str, *stages: str) -> list[str]:
    ids = []
    for stage in stages:
        event_id = f"{rel}-{stage}"
        await publish(nc, event("stage.changed", rel, {"to": stage}, at=NOW, event_id=event_id))
        ids.append(f"stage.changed:{event_id}")
    return ids


async def test_a_reconnect_with_last_event_id_misses_nothing_and_sees_nothing_twice(
    gateway: str, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    for rel in ("rel-a", "rel-b"):
        await publish(nc, event("connection.made", rel, at=NOW))
    seen: list[dict[str, str]] = []
    async with stream(gateway, "?kind=stage.changed") as events:
        sent = await changes(nc, "rel-a", "awareness", "engagement", "conversion")
        seen += [await events.next() for _ in range(3)]
    # while no one listens: three more changes, and a decision the filter leaves out
    sent += await changes(nc, "rel-b", "awareness", "engagement")
    for step in ("drafted", "submitted", "accepted"):
        data = {"proposal_id": "p", "title": "T"} if step == "drafted" else {"proposal_id": "p"}
        await publish(nc, event(f"proposal.{step}", "rel-b", data, at=NOW))
    sent += await changes(nc, "rel-a", "partnership")
    last = seen[-1]["id"]
    async with stream(gateway, "?kind=stage.changed", {"last-event-id": last}) as events:
        seen += [await events.next() for _ in range(3)]
        sent += await changes(nc, "rel-b", "conversion")
        seen += [await events.next()]
        with pytest.raises(TimeoutError):  # and nothing more: no copy, nothing else
            await events.next(within=1.0)
    assert [orjson.loads(e["data"])["id"] for e in seen] == sent
    assert {e["event"] for e in seen} == {"stage.changed"}
    sequences = [int(e["id"]) for e in seen]
    assert sequences == sorted(set(sequences))


async def test_a_quiet_stream_carries_heartbeats_and_new_notices(
    gateway: str, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    await publish(nc, event("connection.made", "rel-q", at=NOW))
    async with stream(gateway, "?relationship_id=rel-q") as events:
        task = asyncio.create_task(events.next())
        # nothing to read for a second: only heartbeats (every 0.3 s) arrive meanwhile
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 1.0)
        assert not task.done()
        assert events.comments, "no heartbeat in a second"
        assert events.comments[0].startswith(": ping")
        await changes(nc, "rel-q", "awareness")
        got = await task
    assert orjson.loads(got["data"])["id"] == "stage.changed:rel-q-awareness"


async def test_owner_filter_and_bad_parameters(
    gateway: str, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    other = {"owner": "bob@example.com", "counterpart": {"name": "B"}}
    await publish(nc, event("connection.made", "rel-bob", other, at=NOW))
    await publish(nc, event("connection.made", "rel-maria", at=NOW))
    async with stream(gateway, "?owner=maria") as events:
        await changes(nc, "rel-bob", "awareness")
        await changes(nc, "rel-maria", "awareness")
        got = await events.next()
    assert orjson.loads(got["data"])["subject"] == "rel-maria"

    async with httpx.AsyncClient(base_url=gateway, headers=auth(READ), timeout=10) as http:
        for query, headers, says in (
            ("?kind=stage.moved", {}, "kind: 'stage.moved' is not one of"),
            ("?relationship_id=a.b", {}, "relationship_id:"),
            ("?colour=red", {}, "colour: not a parameter"),
            ("", {"last-event-id": "yesterday"}, "Last-Event-ID:"),
        ):
            refused = await http.get(f"/v1/notices{query}", headers=headers)
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "invalid"
            assert says in refused.json()["error"]["message"]
        assert (await http.get("/v1/notices", headers={"authorization": ""})).status_code == 401


async def test_a_client_that_cannot_set_the_header_resumes_with_a_parameter(
    gateway: str, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    await publish(nc, event("connection.made", "rel-p", at=NOW))
    async with stream(gateway, "?relationship_id=rel-p&kind=stage.changed") as events:
        sent = await changes(nc, "rel-p", "awareness")
        first = await events.next()
    sent += await changes(nc, "rel-p", "engagement", "conversion")  # while away
    resumed = f"?relationship_id=rel-p&kind=stage.changed&last_event_id={first['id']}"
    async with stream(gateway, resumed) as events:
        got = [await events.next() for _ in range(2)]
        with pytest.raises(TimeoutError):  # nothing twice
            await events.next(within=1.0)
    assert [orjson.loads(e["data"])["id"] for e in [first, *got]] == sent
    # the header, when a browser sends it on its own reconnect, is newer: it wins
    both = f"?relationship_id=rel-p&kind=stage.changed&last_event_id={first['id']}"
    async with stream(gateway, both, {"last-event-id": got[0]["id"]}) as events:
        assert (await events.next())["id"] == got[1]["id"]
    async with httpx.AsyncClient(base_url=gateway, headers=auth(READ), timeout=10) as http:
        refused = await http.get("/v1/notices?last_event_id=yesterday")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("last_event_id: ")


async def test_the_stream_respects_token_scopes_and_browser_sessions(
    gateway: str, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    await publish(nc, event("connection.made", "rel-s", at=NOW))
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
        writer = await http.get("/v1/notices", headers=auth(EMIT))
        assert writer.status_code == 403  # a token that may only write may not listen
        assert writer.json()["error"]["code"] == "forbidden"
        assert "this needs read" in writer.json()["error"]["message"]
        stranger = await http.get("/v1/notices", headers=auth("tok-unknown"))
        assert stranger.status_code == 401
    async with stream(gateway, "?relationship_id=rel-s", auth(ADMIN)) as events:
        await changes(nc, "rel-s", "awareness")
        assert orjson.loads((await events.next())["data"])["id"] == "stage.changed:rel-s-awareness"

    # a browser signed in with a reading token follows the stream on its session cookie alone
    async with httpx.AsyncClient(base_url=gateway, timeout=httpx.Timeout(10, read=None)) as browser:
        signed = await sign_in(browser, READ)
        assert signed.status_code == 303
        browser.cookies.set(COOKIE, signed.cookies[COOKIE])
        async with browser.stream("GET", "/v1/notices?relationship_id=rel-s") as response:
            assert response.status_code == 200
            events = Events(response)
            await changes(nc, "rel-s", "engagement")
            got = await events.next()
    assert orjson.loads(got["data"])["id"] == "stage.changed:rel-s-engagement"


async def test_webhooks_over_http_are_for_administrators(gateway: str) -> None:
    # the gateway fixture runs the webhooks service beside it, as `rapport up` does
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
        body = {"url": "http://127.0.0.1:9/hook", "kinds": ["touch.due"]}
        assert (await http.post("/v1/webhooks", json=body, headers=auth(READ))).status_code == 403
        assert (await http.get("/v1/webhooks", headers=auth(READ))).status_code == 403
        added = await http.post("/v1/webhooks", json=body, headers=auth(ADMIN))
        assert added.status_code == 201, added.text
        assert added.json()["secret"].startswith("whsec_")
        listed = (await http.get("/v1/webhooks", headers=auth(ADMIN))).json()["items"]
        assert [(w["url"], w["kinds"]) for w in listed] == [(body["url"], ["touch.due"])]
        assert "secret" not in listed[0]
        webhook_id = added.json()["id"]
        deliveries = await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=auth(ADMIN))
        assert deliveries.json()["items"] == []
        bad = await http.post("/v1/webhooks", json={"url": "ftp://x"}, headers=auth(ADMIN))
        assert bad.status_code == 400
        assert bad.json()["error"]["message"].startswith("url: ")
        garbled = await http.post("/v1/webhooks", content=b"{", headers=auth(ADMIN))
        assert garbled.status_code == 400
        missing = await http.post("/v1/webhooks/deliveries/99/resend", headers=auth(ADMIN))
        assert missing.status_code == 404
        gone = await http.delete(f"/v1/webhooks/{webhook_id}", headers=auth(ADMIN))
        assert gone.json() == {"removed": webhook_id}
        again = await http.delete(f"/v1/webhooks/{webhook_id}", headers=auth(ADMIN))
        assert again.status_code == 404

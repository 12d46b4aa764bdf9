"""Waiting for a sequence costs no worker: clients waiting for one that never comes starve nobody."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson

from services.projection import answers
from tests.conftest import wait_for
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    import pytest
    from nats.aio.client import Client as NATS

    from services.projection.service import ProjectionService

NEVER = 10**15  # a sequence the log will not reach


async def waiting(nc: NATS, count: int) -> list[asyncio.Task[Any]]:
    """`count` stage.get queries waiting 4 s for a sequence that never comes."""
    body = orjson.dumps({"relationship_id": "r", "min_seq": NEVER, "wait_ms": 4000})
    return [
        asyncio.create_task(nc.request("rapport.q.stage.get", body, timeout=15))
        for _ in range(count)
    ]


async def test_waiting_clients_do_not_starve_the_others(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    last = await publish(nc, event("connection.made", "r"))
    assert await services["stage"].projector.wait_applied(last, 10)
    stuck = await waiting(nc, 3 * answers.QUERY_WORKERS)
    try:
        await asyncio.sleep(0)  # let them go out first
        started = time.monotonic()
        for _ in range(20):  # ordinary queries, the dashboard's among them
            reply = await ask(nc, "stage.get", relationship_id="r")
            assert reply["stage"] == "connection", reply
        assert time.monotonic() - started < 2  # answered at once, not after the 4 s waits
    finally:
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)


async def test_more_waiters_than_the_bound_are_told_to_retry(
    nc: NATS, services: dict[str, ProjectionService[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "MAX_WAITING", 5)
    last = await publish(nc, event("connection.made", "r"))
    assert await services["stage"].projector.wait_applied(last, 10)
    stuck = await waiting(nc, 5)
    try:
        await wait_for(lambda: services["stage"].answers._waiting == 5, what="5 waiting queries")
        reply = await ask(nc, "stage.get", relationship_id="r", min_seq=NEVER, wait_ms=4000)
        assert reply["error"]["code"] == "unavailable"
        assert "5 queries of stage already wait for their sequence" in reply["error"]["message"]
        assert (await ask(nc, "stage.get", relationship_id="r"))["stage"] == "connection"
    finally:
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)

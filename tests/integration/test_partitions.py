"""Projector replicas sharing the work by partition answer exactly like one projector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from services.projection import service as projection_service
from services.projection.partitions import partition_of
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.publishing import ask, publish_all, workload

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

EVENTS = 2500
WHEN = "2026-09-01T00:00:00Z"


async def _not_listening(broker: object) -> None:
    """Stands in for start_broker: the reference service answers only direct calls."""


async def _not_subscribing(nc: object) -> None:
    """Stands in for the query subscriptions of the reference service."""


@pytest.fixture
async def partitioned(
    settings: Settings, nc: NATS
) -> AsyncIterator[dict[str, list[ProjectionService[Any]]]]:
    """Two partitions of every projection, each with its own store and instance name."""
    started: dict[str, list[ProjectionService[Any]]] = {}
    for name, spec in SPECS.items():
        started[name] = []
        for partition in range(2):
            own = settings.model_copy(
                update={
                    "data_dir": settings.data_dir / f"p{partition}",
                    "instance": f"p{partition}",
                    "partitions": 2,
                    "partition": partition,
                }
            )
            service = ProjectionService(own, spec)
            await service.start()
            started[name].append(service)
    try:
        yield started
    finally:
        for services in started.values():
            for service in services:
                await service.stop()


async def test_partitions_share_the_work_and_answer_like_one(
    nc: NATS, partitioned: dict[str, list[ProjectionService[Any]]], tmp_path: Path
) -> None:
    envelopes = workload(EVENTS, seed=5)
    await publish_all(nc, envelopes)
    relationships = sorted({e["subject"] for e in envelopes})
    for services in partitioned.values():
        for service in services:
            assert await service.projector.wait_applied(EVENTS, 30)

    # the work is shared: each partition folded only its own relationships
    for services in partitioned.values():
        folded = [s.projector.applier.stats.applied for s in services]
        skipped = [s.projector.applier.stats.other_partitions for s in services]
        assert all(folded)
        assert [f + k for f, k in zip(folded, skipped, strict=True)] == [EVENTS, EVENTS]
        for partition, service in enumerate(services):
            rows = await service.store.load_rows(relationships)
            assert rows, "every partition holds some relationships"
            assert {partition_of(rel, 2) for rel in rows} == {partition}

    # the reference: one projector of each, on its own store
    reference = {
        name: ProjectionService(
            partitioned[name][0].settings.model_copy(
                update={
                    "data_dir": tmp_path / "single",
                    "instance": "single",
                    "partitions": 1,
                    "partition": 0,
                }
            ),
            spec,
        )
        for name, spec in SPECS.items()
    }
    # the reference answers through direct calls only: it must not join the queue groups
    single: dict[str, Any] = {}
    for name, service in reference.items():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(projection_service, "start_broker", _not_listening)
            patch.setattr(service.answers, "subscribe", _not_subscribing)
            await service.start()
        assert await service.projector.wait_applied(EVENTS, 30)
        single[name] = service
    try:

        async def both(projection: str, query: str, **request: Any) -> tuple[Any, Any]:
            merged = await ask(nc, f"{projection}.{query}", **request)
            route = next(r for r in SPECS[projection].routes(single[projection]) if r.name == query)
            alone = orjson.loads(
                await single[projection].answers.answer(route, orjson.dumps(request))
            )
            merged.pop("applied_seq", None)
            alone.pop("applied_seq", None)
            return merged, alone

        for rel in relationships[:40]:
            merged, alone = await both("stage", "get", relationship_id=rel)
            assert merged == alone
            merged, alone = await both("health", "get", relationship_id=rel, as_of=WHEN)
            assert merged == alone
        merged, alone = await both("stage", "funnel")
        assert merged == alone
        pages_merged, cursor = [], None
        for _ in range(40):
            request: dict[str, Any] = {"limit": 17}
            if cursor:
                request["cursor"] = cursor
            merged, alone = await both("stage", "list", **request)
            assert merged["items"] == alone["items"]
            pages_merged += merged["items"]
            cursor = merged["next_cursor"]
            if not cursor:
                break
        assert [i["relationship_id"] for i in pages_merged] == relationships
        cursor, seen = None, []
        for _ in range(40):
            request = {"limit": 23, "due_before": WHEN, "as_of": WHEN}
            if cursor:
                request["cursor"] = cursor
            merged, alone = await both("health", "list", **request)
            assert merged["items"] == alone["items"]
            seen += [i["relationship_id"] for i in merged["items"]]
            cursor = merged["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen))
        merged, alone = await both("proposals", "pending", as_of=WHEN)
        assert merged["items"] == alone["items"]
    finally:
        for service in single.values():
            await service.stop()

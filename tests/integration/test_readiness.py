"""A service is ready only once the server knows its subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.subjects import INGEST_SUBJECT, ping_subject, query_subject
from services.ingest.service import IngestService
from services.projection.registry import SPECS
from services.projection.service import ProjectionService

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings


async def test_a_request_right_after_start_finds_the_service(settings: Settings, nc: NATS) -> None:
    # nats-py 2.16's own flush() pings ahead of the SUBs still buffered for its flusher task:
    # a caller could be answered "no responders" by a service that had just said it was ready
    for attempt in range(60):
        service = IngestService(settings)
        await service.start()
        try:
            ping = await nc.request(ping_subject("ingest"), b"", timeout=2)
            ingest = await nc.request(INGEST_SUBJECT, b"[]", timeout=2)
        finally:
            await service.stop()
        assert b"uptime_s" in ping.data, f"attempt {attempt}"
        assert b"accepted" in ingest.data, f"attempt {attempt}"


async def test_a_query_right_after_start_finds_the_projection(settings: Settings, nc: NATS) -> None:
    for attempt in range(20):
        service = ProjectionService(settings, SPECS["stage"])
        await service.start()
        try:
            reply = await nc.request(query_subject("stage", "funnel"), b"{}", timeout=2)
        finally:
            await service.stop()
        assert b"error" not in reply.data, f"attempt {attempt}: {reply.data!r}"

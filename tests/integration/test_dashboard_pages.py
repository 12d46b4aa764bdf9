"""The dashboard pages and `health.summary`, against a real nats-server and real services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.conftest import running_gateway
from tests.factories import event
from tests.publishing import publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings


@pytest.fixture
async def services(settings: Settings, nc: NATS) -> AsyncIterator[None]:
    started = [ProjectionService(settings, spec) for spec in SPECS.values()]
    for service in started:
        await service.start()
    try:
        yield
    finally:
        for service in started:
            await service.stop()


async def ask(nc: NATS, subject: str, **request: Any) -> dict[str, Any]:
    reply = await nc.request(subject, orjson.dumps(request), timeout=5)
    decoded: dict[str, Any] = orjson.loads(reply.data)
    return decoded


async def seed(nc: NATS) -> int:
    """Two owners; ada is touched often (and recently), bob never: different bands."""
    for rel, owner in (("ada", "maria"), ("bob", "li")):
        data = {"owner": owner, "counterpart": {"name": rel.title(), "tags": ["ai"]}}
        await publish(nc, event("connection.made", rel, data, days=0))
    await publish(nc, event("stage.changed", "ada", {"to": "awareness"}, days=1))
    await publish(nc, event("stage.changed", "ada", {"to": "conversion"}, days=2))  # rejected
    for day in range(0, 30, 3):
        await publish(nc, event("interaction.recorded", "ada", days=day))
    await publish(nc, event("purpose.set", "ada", days=2))
    await publish(nc, event("capacity.noted", "ada", {"capacity": "high", "goals": ["reach"]}))
    return await publish(
        nc, event("proposal.drafted", "ada", {"proposal_id": "p-1", "title": "Joint talk"}, days=3)
    )


@pytest.mark.usefixtures("services")
async def test_health_summary_counts_relationships_by_band(nc: NATS) -> None:
    last = await seed(nc)
    as_of = "2026-02-05T09:00:00Z"  # a week after ada's last touch
    summary = await ask(nc, "rapport.q.health.summary", min_seq=last, as_of=as_of)
    assert summary["total"] == 2
    assert set(summary["bands"]) == {"thriving", "healthy", "cooling", "at-risk", "dormant"}
    assert sum(summary["bands"].values()) == 2
    assert summary["applied_seq"] >= last
    for rel in ("ada", "bob"):
        one = await ask(nc, "rapport.q.health.get", relationship_id=rel, as_of=as_of)
        assert summary["bands"][one["band"]] >= 1
    of_li = await ask(nc, "rapport.q.health.summary", owner="li", as_of=as_of)
    assert of_li["total"] == 1
    before = await ask(nc, "rapport.q.health.summary", as_of="2025-01-01T00:00:00Z")
    assert before["total"] == 0  # nobody had been met yet
    invalid = await ask(nc, "rapport.q.health.summary", owner="")
    assert invalid["error"]["code"] == "invalid"


@pytest.mark.usefixtures("services")
async def test_pages_show_the_projections(nc: NATS, gateway: str) -> None:
    last = await seed(nc)
    await ask(nc, "rapport.q.proposals.pending", min_seq=last, wait_ms=10_000)
    await ask(nc, "rapport.q.health.summary", min_seq=last, wait_ms=10_000)
    async with httpx.AsyncClient(base_url=gateway) as client:
        overview = await client.get("/")
        assert overview.status_code == 200
        assert 'data-stage="awareness"' in overview.text
        assert "Joint talk" in overview.text
        assert '<option value="maria"' in overview.text
        filtered = await client.get("/", params={"owner": "li"})
        assert '<option value="li" selected>' in filtered.text
        page = await client.get("/relationships/ada")
        assert page.status_code == 200
        assert "Ada" in page.text
        assert "rejected" in page.text  # the skip to conversion without a reason
        assert "co-author a course" in page.text  # the purpose
        assert 'role="img"' in page.text
        audit = await client.get("/relationships/ada/audit", params={"as_of": "2026-01-06T12:00"})
        assert audit.status_code == 200
        assert "1 stage change recorded" in audit.text
        bad = await client.get("/relationships/ada/audit", params={"as_of": "yesterday-ish"})
        assert "is not a date and time" in bad.text
        unknown = await client.get("/relationships/nobody")
        assert unknown.status_code == 404
        css = await client.get("/static/dashboard.css")
        assert css.status_code == 200
        assert "text/css" in css.headers["content-type"]


@pytest.mark.usefixtures("nc")
async def test_pages_say_which_service_is_missing_instead_of_failing(settings: Settings) -> None:
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as client:
        for path in ("/", "/relationships/ada", "/relationships/ada/audit?as_of=2026-01-01T00:00"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "is not running" in page.text, path
        overview = await client.get("/")
        assert "The stage service is not running" in overview.text
        assert "The health service is not running" in overview.text
        assert 'id="owner"' in overview.text  # a text input when owners are unknown

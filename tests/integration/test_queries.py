"""The projection services' queries over NATS and through the HTTP gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.conftest import running_gateway
from tests.factories import BASE_TIME, event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings


async def seed(nc: NATS) -> int:
    """Three relationships of two owners at different stages; returns the last sequence."""
    for rel, owner in (("ada", "maria"), ("bob", "maria"), ("cy", "li")):
        data = {"owner": owner, "counterpart": {"name": rel.title()}}
        await publish(nc, event("connection.made", rel, data, days=0))
    await publish(nc, event("stage.changed", "ada", {"to": "awareness"}, days=1))
    await publish(nc, event("stage.changed", "ada", {"to": "engagement"}, days=2))
    await publish(nc, event("stage.changed", "bob", {"to": "awareness"}, days=3))
    await publish(nc, event("interaction.recorded", "ada", days=40))
    await publish(nc, event("interaction.recorded", "bob", days=10))
    await publish(nc, event("capacity.noted", "ada", {"capacity": "high", "goals": ["reach"]}))
    return await publish(
        nc,
        event(
            "proposal.drafted", "ada", {"proposal_id": "p-1", "title": "Talk", "goals": ["reach"]}
        ),
    )


@pytest.mark.usefixtures("services")
async def test_stage_get_waits_for_min_seq_and_carries_applied_seq(nc: NATS) -> None:
    last = await seed(nc)
    reply = await ask(nc, "stage.get", relationship_id="ada", min_seq=last)
    assert reply["applied_seq"] >= last
    assert reply["stage"] == "engagement"
    assert reply["level"] == "relationship"
    assert reply["owner"] == "maria"
    assert reply["counterpart"]["name"] == "Ada"
    assert reply["implicit"] is False


@pytest.mark.usefixtures("services")
async def test_errors_follow_the_contract(nc: NATS) -> None:
    missing = await ask(nc, "stage.get", relationship_id="nobody")
    assert missing["error"] == {"code": "not_found", "message": "relationship nobody is unknown"}
    invalid = await ask(nc, "stage.get", relationship_id="bad id")
    assert invalid["error"]["code"] == "invalid"
    assert invalid["error"]["message"].startswith("relationship_id:")
    unknown_field = await ask(nc, "stage.list", colour="red")
    assert unknown_field["error"]["message"] == "colour: unknown field"
    late = await ask(nc, "stage.get", relationship_id="ada", min_seq=10_000, wait_ms=100)
    assert late["error"]["code"] == "unavailable"
    assert "was not applied within 100 ms" in late["error"]["message"]


@pytest.mark.usefixtures("services")
async def test_stage_list_pages_with_opaque_cursors(nc: NATS) -> None:
    last = await seed(nc)
    first = await ask(nc, "stage.list", limit=2, min_seq=last)
    assert [i["relationship_id"] for i in first["items"]] == ["ada", "bob"]
    second = await ask(nc, "stage.list", limit=2, cursor=first["next_cursor"])
    assert [i["relationship_id"] for i in second["items"]] == ["cy"]
    assert second["next_cursor"] is None
    by_owner = await ask(nc, "stage.list", owner="li")
    assert [i["relationship_id"] for i in by_owner["items"]] == ["cy"]
    by_stage = await ask(nc, "stage.list", stage="awareness")
    assert [i["relationship_id"] for i in by_stage["items"]] == ["bob"]
    by_level = await ask(nc, "stage.list", level="relationship")
    assert [i["relationship_id"] for i in by_level["items"]] == ["ada", "bob"]
    bad = await ask(nc, "stage.list", cursor="nonsense!")
    assert bad["error"]["code"] == "invalid"


@pytest.mark.usefixtures("services")
async def test_funnel_overall_and_by_owner(nc: NATS) -> None:
    last = await seed(nc)
    funnel = await ask(nc, "stage.funnel", min_seq=last)
    assert funnel["stages"]["connection"] == 1
    assert funnel["reached"]["awareness"] == 2
    assert funnel["conversion"]["connection->awareness"] == pytest.approx(2 / 3, abs=1e-3)
    assert funnel["conversion"]["awareness->engagement"] == 0.5
    maria = await ask(nc, "stage.funnel", owner="maria")
    assert maria["reached"]["connection"] == 2


@pytest.mark.usefixtures("services")
async def test_health_get_list_and_due(nc: NATS) -> None:
    last = await seed(nc)
    when = (BASE_TIME + timedelta(days=41)).isoformat()
    ada = await ask(nc, "health.get", relationship_id="ada", as_of=when, min_seq=last)
    assert set(ada["components"]) == {
        "recency",
        "frequency",
        "reciprocity",
        "sentiment",
        "depth",
        "momentum",
    }
    # worked by hand from the README's policy: a mutual meeting (sentiment 0.6) a day ago,
    # engagement (cadence 14 days) for 39 of its usual 60 days, no purpose
    assert ada["components"] == {
        "recency": 0.964,  # 1 - 0.5 x 1/14
        "frequency": 0.312,  # 1 - 4^-(2^(-1/30) / (1 / (1 - 2^(-14/30))))
        "reciprocity": 1.0,
        "sentiment": 0.8,
        "depth": 1.0,
        "momentum": 1.0,
    }
    assert (ada["score"], ada["band"]) == (83, "thriving")  # 0.3 x .964 + 0.2 x .312 + ...
    assert ada["last_interaction_at"].startswith("2026-02-14")
    assert ada["next_touch_due"].startswith("2026-02-28")  # engagement: 14 days
    due = await ask(nc, "health.list", due_before=when, as_of=when)
    assert [i["relationship_id"] for i in due["items"]] == ["cy", "bob"]  # most overdue first
    assert due["items"][0]["reasons"][0].startswith("no interactions recorded yet")
    everyone = await ask(nc, "health.list", as_of=when, limit=2)
    assert len(everyone["items"]) == 2
    rest = await ask(nc, "health.list", as_of=when, cursor=everyone["next_cursor"])
    assert [i["relationship_id"] for i in rest["items"]] == ["cy"]
    band = ada["band"]
    banded = await ask(nc, "health.list", as_of=when, band=band)
    assert "ada" in [i["relationship_id"] for i in banded["items"]]


@pytest.mark.usefixtures("services")
async def test_health_as_of_the_past_folds_the_log(nc: NATS) -> None:
    last = await seed(nc)
    early = (BASE_TIME + timedelta(days=2, hours=12)).isoformat()
    reply = await ask(nc, "health.get", relationship_id="ada", as_of=early, min_seq=last)
    assert reply["last_interaction_at"] is None  # the touch on day 40 had not happened yet
    assert reply["stage"] == "engagement"


@pytest.mark.usefixtures("services")
async def test_pending_proposals_with_readiness(nc: NATS) -> None:
    last = await seed(nc)
    when = (BASE_TIME + timedelta(days=41)).isoformat()
    reply = await ask(nc, "proposals.pending", min_seq=last, as_of=when)
    [item] = reply["items"]
    assert item["proposal_id"] == "p-1"
    assert item["relationship_id"] == "ada"
    assert item["status"] == "drafted"
    assert isinstance(item["age_days"], int)
    # by hand: engagement 0.55 x 25 %, health 83 x 20 %, high capacity 1 x 20 %, no timing
    # known 0.4 x 15 %, its one goal theirs 1 x 20 %: 76.35
    assert item["readiness"]["score"] == 76
    assert "aligned with their goals: reach" in item["readiness"]["reasons"]
    assert (await ask(nc, "proposals.pending", owner="li"))["items"] == []


async def test_http_routes_answer_through_the_services(
    settings: Settings, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    last = await seed(nc)
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as http:
        rel = await http.get("/v1/relationships/ada", params={"min_seq": last})
        assert rel.status_code == 200
        assert rel.json()["stage"] == "engagement"
        assert (await http.get("/v1/relationships/nobody")).status_code == 404
        health = await http.get(
            "/v1/relationships/ada/health", params={"as_of": "2026-03-01T00:00:00Z"}
        )
        assert health.status_code == 200
        assert health.json()["relationship_id"] == "ada"
        assert health.json()["band"] in {"thriving", "healthy", "cooling", "at-risk", "dormant"}
        assert (await http.get("/v1/relationships", params={"owner": "li"})).json()["items"][0][
            "relationship_id"
        ] == "cy"
        due = await http.get("/v1/relationships", params={"due_before": "2026-03-01T00:00:00Z"})
        assert {i["relationship_id"] for i in due.json()["items"]} == {"ada", "bob", "cy"}
        assert (await http.get("/v1/funnel")).json()["reached"]["engagement"] == 1
        proposals = (await http.get("/v1/proposals", params={"status": "pending"})).json()
        assert proposals["items"][0]["proposal_id"] == "p-1"
        bad = await http.get(
            "/v1/relationships/ada/health", params={"as_of": "2026-03-01T00:00:00"}
        )
        assert bad.status_code == 400
        assert "offset" in bad.json()["error"]["message"]
        metrics = (await http.get("/metrics")).text
        assert 'rapport_events_applied{projection="stage"}' in metrics
        assert 'rapport_projection_lag{projection="health"} 0.0' in metrics
        assert "rapport_http_request_duration_seconds_bucket" in metrics
        await services["stage"].stop()
        down = await http.get("/v1/relationships/ada")
        assert down.status_code == 503
        assert "stage service is not running" in down.json()["error"]["message"]
        services.pop("stage")  # already stopped


async def test_replicas_share_the_queries_through_the_queue_group(
    settings: Settings, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    last = await seed(nc)
    replica_settings = settings.model_copy(
        update={"data_dir": settings.data_dir / "replica", "instance": "2"}
    )
    replica = ProjectionService(replica_settings, SPECS["stage"])
    await replica.start()
    try:
        replies = [
            await ask(nc, "stage.get", relationship_id="ada", min_seq=last) for _ in range(40)
        ]
    finally:
        await replica.stop()
    assert {r["stage"] for r in replies} == {"engagement"}
    assert replica.answers.latency.get("get")  # the replica answered some of them ...
    assert services["stage"].answers.latency.get("get")  # ... and the first instance the others


@pytest.mark.usefixtures("services")
async def test_a_closed_relationship_is_in_no_band_never_due_and_says_only_that(nc: NATS) -> None:
    for rel in ("open", "shut"):
        await publish(nc, event("connection.made", rel, days=0))
    last = await publish(
        nc, event("stage.changed", "shut", {"to": "closed", "reason": "moved on"}, days=1)
    )
    later = (BASE_TIME + timedelta(days=400)).isoformat()  # both long silent
    shut = await ask(nc, "health.get", relationship_id="shut", as_of=later, min_seq=last)
    assert shut["reasons"] == ["the relationship is closed"]
    assert shut["next_touch_due"] is None
    for band in ("thriving", "healthy", "cooling", "at-risk", "dormant"):
        listed = await ask(nc, "health.list", band=band, as_of=later)
        assert "shut" not in [item["relationship_id"] for item in listed["items"]], band
    due = await ask(nc, "health.list", due_before=later, as_of=later)
    assert [item["relationship_id"] for item in due["items"]] == ["open"]
    summary = await ask(nc, "health.summary", as_of=later)
    assert summary["closed"] == 1
    assert summary["total"] == 1

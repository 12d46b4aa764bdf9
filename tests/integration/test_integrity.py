"""One event, one effect, everywhere: poison messages, identity forever, the proposal lifecycle.

Regression tests of what was seen (issue "One event, one effect, everywhere"), through the
doors another system uses: raw JetStream publishes, `rapport.ingest`, and HTTP.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from events.subjects import DLQ_STREAM, EVENTS_STREAM, INGEST_SUBJECT
from services.config.settings import Settings
from services.ingest.service import IngestService
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.replay import replay
from services.projection.service import ProjectionService
from tests.conftest import running_gateway, wait_for
from tests.factories import event, raw
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.nats.process import Service

WINDOW = 1.0  # seconds: JetStream's duplicate window in the identity tests


async def ingest(nc: NATS, body: Any) -> dict[str, Any]:
    payload = body if isinstance(body, bytes) else raw(body)
    reply = await nc.request(INGEST_SUBJECT, payload, timeout=10)
    decoded: dict[str, Any] = orjson.loads(reply.data)
    return decoded


async def dead_letters(nc: NATS, projection: str) -> dict[int, str]:
    """Rapport-Seq -> reason of every dead letter a projection kept."""
    js = nc.jetstream()
    found: dict[int, str] = {}
    total = (await js.stream_info(DLQ_STREAM)).state.last_seq
    for seq in range(1, total + 1):
        message = await js.get_msg(DLQ_STREAM, seq)
        assert message.headers is not None
        if message.headers["Rapport-Projection"] == projection:
            kept = int(message.headers["Rapport-Seq"])
            assert kept not in found, f"{projection} dead-lettered seq {kept} twice"
            found[kept] = message.headers["Rapport-Reason"]
    return found


async def all_caught_up(services: dict[str, ProjectionService[Any]], seq: int) -> None:
    for service in services.values():
        assert await service.projector.wait_applied(seq, 15), service.name
        assert service.projector.failure is None


V0_POISON = [
    {"dataschema": "urn:x:v0", "data": "str"},
    {"dataschema": "urn:x:v0", "data": 5},
    {"dataschema": "urn:x:v0", "data": {"channel": ["a"], "rating": "x"}},
]


@pytest.mark.parametrize("poison", V0_POISON, ids=["data-string", "data-number", "data-junk"])
async def test_an_old_shape_with_malformed_data_is_dead_lettered_and_nothing_stops(
    settings: Settings,
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
    ingest_service: IngestService,
    poison: dict[str, Any],
) -> None:
    opened = await ingest(nc, event("connection.made", "r"))
    bad = await publish(nc, {**event("interaction.recorded", "r"), **poison})
    after = await ingest(nc, event("stage.changed", "r", {"to": "awareness"}))
    assert after["accepted"], after  # the ingest still answers for that relationship
    last = await publish(nc, event("interaction.recorded", "r", days=2))
    await all_caught_up(services, last)
    for name in SPECS:
        assert set(await dead_letters(nc, name)) == {bad}
    assert (await ask(nc, "stage.get", relationship_id="r"))["stage"] == "awareness"
    assert opened["accepted"][0]["seq"] == 1
    # the log can still be replayed, and the dead letter is not kept twice
    report = await replay(settings, "stage")
    assert report.applied_seq == last
    assert set(await dead_letters(nc, "stage")) == {bad}


async def test_the_ingest_accepts_only_what_the_proposal_lifecycle_allows(
    nc: NATS, services: dict[str, ProjectionService[Any]], ingest_service: IngestService
) -> None:
    def proposal(kind: str, pid: str, **data: Any) -> dict[str, Any]:
        return event(f"proposal.{kind}", "r", {"proposal_id": pid, **data})

    cases = [
        (proposal("drafted", "p", title="Workshop"), None),
        (proposal("accepted", "p"), None),  # a decision on a draft is a fact (unsubmitted)
        (proposal("declined", "p"), "proposal p is accepted; it cannot be declined"),
        (proposal("accepted", "p"), "proposal p is accepted already"),
        (proposal("accepted", "ghost"), "proposal ghost is unknown, so it cannot be accepted"),
        (proposal("submitted", "q"), "proposal q was never drafted, so its submission needs"),
        (proposal("submitted", "s", title="Direct"), None),
        (proposal("submitted", "s"), "proposal s is submitted already"),
        (proposal("withdrawn", "s"), None),
        (proposal("drafted", "s", title="again"), "proposal s is withdrawn; a draft cannot"),
    ]
    last = 0
    for envelope, refusal in cases:
        reply = await ingest(nc, envelope)
        if refusal is None:
            assert reply["accepted"], reply
            last = reply["accepted"][0]["seq"]
        else:
            (rejected,) = reply["rejected"]
            assert rejected["code"] == "rejected"
            assert refusal in rejected["error"]
    await all_caught_up(services, last)
    # what the ingest accepted, every projection applied: nothing was dead-lettered
    assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    items = (await ask(nc, "proposals.pending", relationship_id="r", status="all"))["items"]
    statuses = {item["proposal_id"]: (item["status"], item["flags"]) for item in items}
    assert statuses == {"p": ("accepted", ["unsubmitted"]), "s": ("withdrawn", [])}


async def test_two_racing_decisions_cannot_both_be_accepted(
    settings: Settings, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    replicas = [IngestService(settings) for _ in range(3)]
    for replica in replicas:
        await replica.start()
    try:
        drafted = await ingest(
            nc, event("proposal.drafted", "r", {"proposal_id": "p", "title": "T"})
        )
        assert drafted["accepted"]
        decisions = [
            event(f"proposal.{kind}", "r", {"proposal_id": "p"})
            for kind in ("accepted", "declined", "withdrawn") * 4
        ]
        replies = await asyncio.gather(*(ingest(nc, d) for d in decisions))
    finally:
        for replica in replicas:
            await replica.stop()
    won = [r["accepted"][0] for r in replies if r["accepted"]]
    assert len(won) == 1, replies
    assert {r["rejected"][0]["code"] for r in replies if r["rejected"]} <= {"conflict", "rejected"}
    await all_caught_up(services, won[0]["seq"])
    assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0


async def test_a_raw_lifecycle_break_is_listed_on_its_proposal(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    await publish(nc, event("proposal.drafted", "r", {"proposal_id": "p", "title": "T"}))
    await publish(nc, event("proposal.withdrawn", "r", {"proposal_id": "p"}))
    late = await publish(nc, event("proposal.accepted", "r", {"proposal_id": "p"}))
    await all_caught_up(services, late)
    (item,) = (await ask(nc, "proposals.pending", relationship_id="r", status="all"))["items"]
    assert item["status"] == "withdrawn"
    assert item["rejected"] == [
        {
            "seq": late,
            "type": "rapport.proposal.accepted",
            "why": "proposal p is withdrawn; it cannot be accepted",
        }
    ]
    assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0


async def test_a_stage_change_filed_under_another_relationship_is_not_counted_by_the_ingest(
    nc: NATS, services: dict[str, ProjectionService[Any]], ingest_service: IngestService
) -> None:
    misfiled = event("stage.changed", "b", {"to": "engagement", "reason": "warm intro"})
    await nc.jetstream().publish("rapport.ev.a.stage.changed", raw(misfiled))
    # the projections dead-letter it, so `a` is still at connection: one step is allowed...
    moved = await ingest(nc, event("stage.changed", "a", {"to": "awareness"}))
    assert moved["accepted"], moved
    # ...and a move the projections would reject is refused
    skipped = await ingest(nc, event("stage.changed", "a", {"to": "conversion"}))
    assert skipped["rejected"][0]["code"] == "rejected"
    await all_caught_up(services, moved["accepted"][0]["seq"])
    assert (await ask(nc, "stage.get", relationship_id="a"))["stage"] == "awareness"


async def test_an_audit_before_the_relationship_existed_is_not_found(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    last = await publish(nc, event("connection.made", "r", days=10))
    await all_caught_up(services, last)
    reply = await ask(nc, "audit", relationship_id="r", as_of="2025-01-01T00:00:00Z")
    assert reply["error"]["code"] == "not_found"
    stage = await ask(nc, "stage.get", relationship_id="r", as_of="2025-01-01T00:00:00Z")
    assert stage["error"]["code"] == "not_found"


async def test_dead_letter_counts_survive_a_restart(
    settings: Settings, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    await nc.jetstream().publish("rapport.ev.r.interaction.recorded", b"junk")
    last = await publish(nc, event("connection.made", "r"))
    await all_caught_up(services, last)
    assert services["stage"].status()["dead_lettered"] == 1
    await services["stage"].stop()
    again = ProjectionService(settings, SPECS["stage"])
    await again.start()
    try:
        assert again.status()["dead_lettered"] == 1
    finally:
        await again.stop()
        services["stage"] = ProjectionService(settings, SPECS["stage"])
        await services["stage"].start()  # the fixture stops it


# -- identity beyond JetStream's duplicate window ------------------------------------------


@pytest.fixture
async def short_window(tmp_path: Path) -> AsyncIterator[tuple[Settings, NATS]]:
    """A server whose streams keep ids for WINDOW seconds only, with Rapport running on it."""
    server = EmbeddedNats(tmp_path / "nats-short", port=free_port(), name="short-window")
    await server.start()
    import nats

    client = await nats.connect(server.url)
    await ensure_streams(client.jetstream(), duplicate_window=WINDOW)
    settings = Settings(
        nats_url=server.url,
        data_dir=tmp_path / "short",
        http_port=free_port(),
        duplicate_window=WINDOW,
    )
    try:
        yield settings, client
    finally:
        await client.close()
        server.stop()


async def past_the_window() -> None:
    until = time.monotonic() + WINDOW + 0.3
    await wait_for(lambda: time.monotonic() > until, within=WINDOW + 2, what="the window to pass")


async def test_identity_holds_beyond_the_duplicate_window(
    short_window: tuple[Settings, NATS],
) -> None:
    settings, nc = short_window
    views = {name: ProjectionService(settings, spec) for name, spec in SPECS.items()}
    ingest_service = IngestService(settings)
    everything: list[Service] = [*views.values(), ingest_service]
    for service in everything:
        await service.start()
    try:
        touch = event("interaction.recorded", "r", event_id="e-1")
        first = await ingest(nc, touch)
        original = first["accepted"][0]["seq"]
        await past_the_window()

        again = await ingest(nc, touch)  # the same event, long after
        assert again == {
            "accepted": [{"id": "e-1", "seq": original, "duplicate": True}],
            "rejected": [],
        }
        spelled_differently = {
            **touch,
            "time": touch["time"].replace("+00:00", "Z"),
            "source": "other",
        }
        assert (await ingest(nc, spelled_differently))["accepted"][0]["duplicate"] is True
        other = event(
            "interaction.recorded", "r", {"kind": "call", "direction": "inbound"}, event_id="e-1"
        )
        (refused,) = (await ingest(nc, other))["rejected"]
        assert refused["code"] == "conflict"
        assert (
            refused["error"]
            == f"conflict: id 'e-1' already used by another event at seq {original}"
        )
        async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as http:
            response = await http.post("/v1/events", json=touch)
            assert response.status_code == 202
            assert response.json()["accepted"] == [
                {"id": "e-1", "seq": original, "duplicate": True}
            ]
            conflict = await http.post("/v1/events", json=other)
            assert conflict.status_code == 409

            # a raw copy after the window reaches the log: every reader counts it once
            copy = await publish(nc, touch)
            squatter = await publish(nc, other, msg_id="squat")  # another event under the id
            last = await publish(nc, event("stage.changed", "r", {"to": "awareness"}))
            await all_caught_up(views, last)
            state = await views["health"].store.get("r")
            assert state is not None
            assert [t.event_id for t in state.touches] == ["e-1"]
            for name in SPECS:
                letters = await dead_letters(nc, name)
                assert letters == {
                    squatter: f"conflict: id 'e-1' already used by another event at seq {original}"
                }
            history = (await http.get("/v1/relationships/r/events")).json()["items"]
            marks = {item["seq"]: item.get("duplicate_of") for item in history}
            assert marks[copy] == original
            assert marks[original] is None
            audit = await ask(nc, "audit", relationship_id="r")
            assert [c["to"] for c in audit["changes"]] == ["awareness"]
            health = await ask(nc, "health.get", relationship_id="r", as_of="2030-01-01T00:00:00Z")
            assert health["last_interaction_at"].startswith(touch["time"][:10])
    finally:
        for service in everything:
            await service.stop()


async def test_an_id_squatted_by_junk_in_the_window_is_a_conflict_not_a_duplicate(
    nc: NATS, ingest_service: IngestService
) -> None:
    junk = await nc.jetstream().publish(
        "rapport.ev.r.interaction.recorded", b"junk", headers={"Nats-Msg-Id": "e-7"}
    )
    reply = await ingest(nc, event("interaction.recorded", "r", event_id="e-7"))
    (refused,) = reply["rejected"]
    assert refused["code"] == "conflict"
    assert f"held by the message at seq {junk.seq}, which is not a valid event" in refused["error"]
    assert (await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages == 1


def _broken_on_calls(view: Any, event: Any, seq: int = 0) -> Any:
    """The stage fold with a bug that shows on calls."""
    if event.type == "rapport.interaction.recorded" and event.data.kind == "call":
        raise KeyError("a bug")
    return SPECS["stage"].fold(view, event, seq)


async def test_a_bug_stops_the_projection_loudly_and_healthz_says_which(
    settings: Settings, nc: NATS
) -> None:
    service = ProjectionService(settings, replace(SPECS["stage"], fold=_broken_on_calls))
    await service.start()
    try:
        opened = await publish(nc, event("connection.made", "r"))
        # applied alone: a bug stops a whole batch, and the handshake must be in an earlier one
        assert await service.projector.wait_applied(opened, 10)
        call = await publish(
            nc, event("interaction.recorded", "r", {"kind": "call", "direction": "inbound"})
        )
        await publish(nc, event("stage.changed", "r", {"to": "awareness"}))
        await wait_for(lambda: service.projector.failure is not None, what="the bug to stop it")
        assert service.projector.applied_seq == opened  # nothing at or past the bug
        assert f"seq {call}" in (service.projector.failure or "")
        assert (await ask(nc, "stage.get", relationship_id="r"))["stage"] == "connection"
        async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as http:
            health = await http.get("/healthz")
            metrics = (await http.get("/metrics")).text
        assert health.status_code == 503
        # the other services do not run here: /healthz names them too
        (problem,) = [p for p in health.json()["problems"] if p.startswith("projection ")]
        assert problem.startswith(f"projection stage stopped: stage failed on seq {call}")
        assert "KeyError" in problem
        assert 'rapport_projection_failed{projection="stage"} 1.0' in metrics
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    finally:
        await service.stop()

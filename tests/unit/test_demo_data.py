"""The demo dataset: reproducible, valid, lifecycle-true, and varied enough for every panel."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from functools import cache
from typing import Any

import orjson
import pytest

from events import FUNNEL, Stage, StageChanged, parse_event
from events.stage_rules import check
from projections.health import fold as health
from projections.health.policy import BANDS
from projections.health.score import assess
from projections.proposals import fold as proposals
from projections.stage import fold as stage
from services.demo.data import SPAN_DAYS, DemoData, generate
from services.demo.vocabulary import OWNERS

TODAY = date(2026, 7, 1)


@cache
def dataset(seed: int = 7, relationships: int = 300) -> DemoData:
    return generate(TODAY, relationships=relationships, seed=seed)


def by_relationship(data: DemoData) -> dict[str, list[dict[str, Any]]]:
    """Each relationship's events in stream order: validated first, then the raw ones."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in [*data.events, *data.raw]:
        grouped[event["subject"]].append(event)
    return grouped


def test_the_same_seed_and_day_give_the_same_events() -> None:
    again = generate(TODAY, relationships=300, seed=7)
    assert again.events == dataset().events
    assert again.raw == dataset().raw
    other = generate(TODAY, relationships=300, seed=8)
    assert other.events != dataset().events


def test_ids_do_not_depend_on_the_day_so_reseeding_later_stores_nothing_new() -> None:
    later = generate(TODAY + timedelta(days=3), relationships=300, seed=7)
    assert {e["id"] for e in later.events} == {e["id"] for e in dataset().events}


def test_every_event_is_valid_unique_and_within_the_18_months() -> None:
    data = dataset()
    everything = [*data.events, *data.raw]
    assert len({event["id"] for event in everything}) == len(everything)
    earliest = data.anchor - timedelta(days=SPAN_DAYS)
    for raw in everything:
        event = parse_event(orjson.dumps(raw))
        assert earliest <= event.time < data.anchor
    assert [e["time"] for e in data.events] == sorted(e["time"] for e in data.events)
    assert len(data.relationships) == 300
    assert 3000 < len(data.events) < 8000


def test_every_relationship_opens_with_a_handshake_of_one_of_three_owners() -> None:
    owners: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for events in by_relationship(dataset()).values():
        first = events[0]
        assert first["type"] == "rapport.connection.made"
        owners[first["data"]["owner"]] += 1
        kinds[first["data"]["counterpart"]["kind"]] += 1
        assert first["data"]["counterpart"]["tags"]
    assert set(owners) == set(OWNERS)
    assert kinds["person"] > kinds["organization"] > 0


def test_validated_stage_changes_keep_the_rules_and_raw_ones_break_them() -> None:
    data = dataset()
    raw_ids = {event["id"] for event in data.raw}
    flags: Counter[str] = Counter()
    for events in by_relationship(data).values():
        current = Stage.CONNECTION
        for raw in events:
            event = parse_event(orjson.dumps(raw))
            if not isinstance(event, StageChanged):
                continue
            verdict = check(current, event.data)
            assert verdict.accepted == (event.id not in raw_ids), (raw, verdict.reason)
            flags.update(flag.split(":")[0] for flag in verdict.flags)
            if verdict.accepted:
                current = event.data.to
    assert 5 <= len(data.raw) <= 30
    assert {"skipped", "backward", "reopened", "missing-reason", "from-mismatch"} <= set(flags)


def test_proposals_follow_their_lifecycle_and_reach_every_state() -> None:
    allowed = {
        ("drafted",),
        ("drafted", "submitted"),
        ("drafted", "withdrawn"),
        ("drafted", "submitted", "accepted"),
        ("drafted", "submitted", "declined"),
        ("drafted", "submitted", "withdrawn"),
    }
    steps: dict[str, list[str]] = defaultdict(list)
    for event in dataset().events:
        if event["type"].startswith("rapport.proposal."):
            steps[event["data"]["proposal_id"]].append(event["type"].rsplit(".", 1)[1])
    assert {tuple(path) for path in steps.values()} <= allowed
    finals = Counter(path[-1] for path in steps.values())
    assert set(finals) == {"drafted", "submitted", "accepted", "declined", "withdrawn"}


def test_every_funnel_stage_and_health_band_is_populated() -> None:
    data = dataset()
    stages: Counter[str] = Counter()
    bands: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    purposes = 0
    for events in by_relationship(data).values():
        view = state = context = None
        for raw in events:
            event = parse_event(orjson.dumps(raw))
            view = stage.apply(view, event)
            state = health.apply(state, event)
            context = proposals.apply(context, event)  # raises on a lifecycle break
        assert view is not None
        assert state is not None
        assert context is not None
        stages[view.stage.value] += 1
        bands[assess(state, data.anchor).band] += 1
        statuses.update(p.status for p in context.proposals)
        purposes += state.purpose_mark is not None
    assert set(stages) == {s.value for s in Stage}
    assert all(stages[s.value] >= 15 for s in FUNNEL)
    assert set(bands) == {name for _, name in BANDS}
    assert all(count >= 20 for count in bands.values()), bands
    assert set(statuses) == {"drafted", "submitted", "accepted", "declined", "withdrawn"}
    assert 0.75 * 300 < purposes < 300  # most, but not all, have a purpose


@pytest.mark.parametrize("count", [1, 7, 25])
def test_small_datasets_are_valid_too(count: int) -> None:
    data = generate(TODAY, relationships=count, seed=3)
    assert len(data.relationships) == count
    for raw in [*data.events, *data.raw]:
        parse_event(orjson.dumps(raw))

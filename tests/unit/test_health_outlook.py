"""A band's outlook: the band `assess` gives now, and it holds, by `assess`, up to `until`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from events import Stage, parse_event
from projections.health.fold import HealthState, apply
from projections.health.outlook import CLOSED, outlook
from projections.health.score import assess
from tests.factories import BASE_TIME, event, random_touch


def lives(count: int, seed: int) -> list[HealthState]:
    """Relationships with touches of every tone and stage moves, some closed, some dated on."""
    rnd = random.Random(seed)
    states = []
    for number in range(count):
        rel = f"rel-{number}"
        opened = rnd.uniform(0, 100)
        envelopes: list[dict[str, Any]] = [event("connection.made", rel, days=opened)]
        for _ in range(rnd.randrange(0, 15)):
            touch = random_touch(rnd)
            envelopes.append(
                event("interaction.recorded", rel, touch, days=opened + rnd.uniform(0, 150))
            )
        for to in rnd.sample(["awareness", "engagement", "conversion", "partnership", "closed"], 2):
            change = {"to": to, "reason": "moved"}
            envelopes.append(event("stage.changed", rel, change, days=opened + rnd.uniform(0, 90)))
        state = None
        for seq, envelope in enumerate(envelopes, 1):
            state = apply(state, parse_event(orjson.dumps(envelope)), seq)
        assert state is not None
        states.append(state)
    return states


def where(state: HealthState, at: datetime) -> str | None:
    """What the summary counts it as at `at`, by `assess` (None: not opened yet)."""
    if state.opened_at > at.timestamp():
        return None
    report = assess(state, at)
    return CLOSED if report.stage == Stage.CLOSED else report.band


def instant(seconds: float) -> datetime:
    """The latest instant a query can name (to the microsecond) at or before `seconds`."""
    moment = datetime.fromtimestamp(seconds, UTC)
    while moment.timestamp() > seconds:
        moment -= timedelta(microseconds=1)
    return moment


def test_the_band_holds_by_assess_until_the_outlook_says() -> None:
    rnd = random.Random(3)
    held_for_a_while = 0
    for state in lives(150, seed=1):
        for days in (-10, 0, 40, 80, 120, 200, 900):
            moment = BASE_TIME + timedelta(days=days)
            now = moment.timestamp()
            seen = outlook(state, now)
            assert seen.band == where(state, moment)
            assert seen.until >= now
            last = min(seen.until, now + 3650 * 86_400)
            probes = [last, *(rnd.uniform(now, last) for _ in range(6))]
            for probe in probes:
                assert where(state, instant(probe)) == seen.band, (state.relationship_id, days)
            held_for_a_while += seen.until - now > 86_400
    assert held_for_a_while > 300  # the outlook looks ahead: rows are not re-scored each time

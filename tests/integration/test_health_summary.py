"""`health.summary` from kept band counts equals scoring every stored state at the instant."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events import Stage, parse_event
from projections.health import codec
from projections.health.fold import HealthState, apply
from projections.health.policy import BANDS
from projections.health.score import assess
from projections.health.store import HealthStore
from services.projection.registry import HEALTH
from tests.factories import BASE_TIME, event, random_touch
from tests.publishing import ask, publish_all
from tests.services import wait_kept

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.projection.service import ProjectionService

OWNERS = ("maria@example.com", "maria@other.org", "li@example.com", "mariam@example.com")
START = BASE_TIME + timedelta(days=100)  # some events lie after it: they come into effect later
LATER = (
    timedelta(0),
    timedelta(hours=1),
    timedelta(days=2),
    timedelta(days=9),
    timedelta(days=30),
    timedelta(days=101),
    timedelta(days=400),
)


def varied(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Relationships of several owners (some of none), touches of every tone, stages moved,
    closed and reopened, some dated after `START`."""
    rnd = random.Random(seed)
    envelopes = []
    for number in range(count):
        rel = f"rel-{number}"
        opened = rnd.uniform(0, 150)
        if number % 11:  # the rest were opened implicitly: no owner
            owner = rnd.choice(OWNERS)
            data = {"owner": owner, "counterpart": {"name": f"N{number}"}}
            envelopes.append(event("connection.made", rel, data, days=opened))
        for _ in range(rnd.randrange(0, 12)):
            touch = random_touch(rnd)
            when = opened + rnd.uniform(0, 120)
            envelopes.append(event("interaction.recorded", rel, touch, days=when))
        for to in rnd.sample(["awareness", "engagement", "conversion", "closed"], 2):
            change = {"to": to, "reason": "moved"}
            envelopes.append(event("stage.changed", rel, change, days=opened + rnd.uniform(0, 90)))
    return envelopes


def fold_all(envelopes: list[dict[str, Any]]) -> dict[str, HealthState]:
    """Each relationship's state, folded in the order given."""
    states: dict[str, HealthState] = {}
    for seq, envelope in enumerate(envelopes, 1):
        parsed = parse_event(orjson.dumps(envelope))
        states[parsed.subject] = apply(states.get(parsed.subject), parsed, seq)
    return states


def old_way(path: Path, at: datetime, owner: str | None = None) -> dict[str, int]:
    """What the summary computed before: every stored state scored at `at` (read apart)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT relationship_id, owner, state FROM health_view").fetchall()
    counts: Counter[str] = Counter()
    for rel, held_by, blob in rows:
        if owner is not None and not (held_by == owner or f"{held_by}".startswith(f"{owner}@")):
            continue
        state = codec.decode(rel, blob)
        if state.opened_at > at.timestamp():
            continue
        report = assess(state, at)
        counts["closed" if report.stage == Stage.CLOSED else report.band] += 1
    return dict(counts)


def nonzero(counts: dict[str, int] | None) -> dict[str, int]:
    """The counts without zeros."""
    assert counts is not None
    return {name: n for name, n in counts.items() if n}


async def test_kept_counts_equal_scoring_every_state_as_time_passes(tmp_path: Path) -> None:
    envelopes = varied(400)
    states = fold_all(envelopes)
    store = HealthStore(tmp_path / "health.db")
    await store.open()
    try:
        await store.commit({rel: (None, state) for rel, state in states.items()}, 1, [])
        previous: dict[str, int] | None = None
        moved_by_time = 0
        for step, delta in enumerate(LATER):
            at = START + delta
            if step % 2:  # every other instant: re-score and keep; else count without keeping
                await store.refresh_bands(at.timestamp())
            for owner in (None, "maria", "maria@example.com", "li@example.com", "nobody"):
                expected = old_way(store.path, at, owner)
                assert nonzero(await store.band_counts(at.timestamp(), owner)) == expected, (
                    at,
                    owner,
                )
            everyone = old_way(store.path, at)
            moved_by_time += previous is not None and previous != everyone
            previous = everyone
            if step == 3:  # new events for some: their rows are stale until scored again
                more = [e for e in varied(400, seed=6) if int(str(e["subject"])[4:]) % 3 == 0]
                changed = fold_all([*envelopes, *more])
                await store.commit({rel: (None, changed[rel]) for rel in changed}, 2, [])
        assert moved_by_time >= 3  # bands changed with time alone between the instants
        assert set(previous or {}) >= {"closed", "dormant"}
        # before the instant rows were last scored at, the counts cannot say
        assert await store.band_counts(START.timestamp(), None) is None
        # a summary that read the clock just before another scored the rows answers for then
        last = (START + LATER[-1]).timestamp()
        assert await store.refresh_bands(last) == last
        assert await store.refresh_bands(last - 1) == last
        assert nonzero(await store.band_counts(last)) == old_way(store.path, START + LATER[-1])
    finally:
        await store.close()


async def test_the_stale_rows_are_found_through_an_index(tmp_path: Path) -> None:
    store = HealthStore(tmp_path / "health.db")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "health.db") as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT relationship_id, band_until, state FROM health_view "
            "WHERE band_until < ? AND (band_until, relationship_id) > (?, ?) "
            "ORDER BY band_until, relationship_id LIMIT 10",
            (1.0, 0.0, ""),
        ).fetchall()
    assert any("health_by_band_until" in row[-1] for row in plan), plan


async def test_a_store_of_the_older_shape_opens_and_the_fold_version_moved(
    tmp_path: Path,
) -> None:
    path = tmp_path / "health.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE health_view (relationship_id TEXT PRIMARY KEY, owner TEXT, "
            "next_due REAL, latest_at REAL NOT NULL, state BLOB NOT NULL) WITHOUT ROWID"
        )
    store = HealthStore(path)
    await store.open()  # gains the band columns: the service then rebuilds it (new version)
    try:
        states = fold_all(varied(5))
        await store.commit({rel: (None, state) for rel, state in states.items()}, 1, [])
        await store.refresh_bands(START.timestamp())
        assert nonzero(await store.band_counts(START.timestamp())) == old_way(path, START)
    finally:
        await store.close()
    assert HEALTH.version >= 4  # the stored shape changed in version 4


@pytest.mark.usefixtures("services")
async def test_the_summary_query_agrees_with_health_get_of_each(nc: NATS) -> None:
    envelopes = varied(60, seed=9)
    await publish_all(nc, envelopes)
    rels = sorted({str(e["subject"]) for e in envelopes})
    bands: Counter[str] = Counter()
    for rel in rels:  # a fresh stream: the last sequence is the number of events
        one = await ask(nc, "health.get", relationship_id=rel, min_seq=len(envelopes))
        assert "error" not in one, one
        bands["closed" if one["stage"] == "closed" else one["band"]] += 1
    summary = await ask(nc, "health.summary")
    assert summary["closed"] == bands.pop("closed", 0)
    assert {name: n for name, n in summary["bands"].items() if n} == dict(bands)
    assert summary["total"] == sum(bands.values())
    assert list(summary["bands"]) == [name for _, name in BANDS]


async def test_the_bands_are_scored_in_the_background_once_caught_up(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    envelopes = varied(300, seed=4)
    await publish_all(nc, envelopes)
    health = services["health"]
    assert await health.projector.wait_applied(len(envelopes), 30)
    await wait_kept(health)  # a round that starts after the last write: all rows stale
    with sqlite3.connect(health.store.path) as db:
        (stale,) = db.execute(
            "SELECT count(*) FROM health_view WHERE band_until < ?",
            (health.status()["kept_at"],),
        ).fetchone()
        (rows,) = db.execute("SELECT count(*) FROM health_view").fetchone()
    assert rows == 300
    assert stale == 0  # a summary now counts from the kept counts alone

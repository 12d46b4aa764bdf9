"""The health score: order-independent, monotone in the right directions, explained in words."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Stage, parse_event
from projections.health import codec
from projections.health.fold import HealthState, apply
from projections.health.policy import POLICY, band
from projections.health.score import assess, touch_due
from tests.factories import BASE_TIME, event

_ids = itertools.count()
KINDS = ["meeting", "call", "email", "message", "event", "social", "intro", "other"]
DEEPER = sorted(KINDS, key=lambda kind: POLICY.depth[kind])


def touch(
    day: float, kind: str = "call", direction: str = "mutual", sentiment: float = 0.0
) -> dict[str, Any]:
    data = {"kind": kind, "direction": direction, "sentiment": sentiment}
    return event("interaction.recorded", "r", data, days=day, event_id=f"t-{next(_ids)}")


def fold(envelopes: list[dict[str, Any]], fold_one: Any = apply) -> HealthState:
    state: HealthState | None = None
    for envelope in envelopes:
        state = fold_one(state, parse_event(orjson.dumps(envelope)))
    assert state is not None
    return state


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)


_touches = st.lists(
    st.builds(
        touch,
        day=st.floats(0, 400),
        kind=st.sampled_from(KINDS),
        direction=st.sampled_from(["inbound", "outbound", "mutual"]),
        sentiment=st.floats(-1, 1),
    ),
    min_size=1,
    max_size=25,
)
_others = st.lists(
    st.one_of(
        st.builds(
            lambda to, day, why: event(
                "stage.changed", "r", {"to": to, "reason": "why" if why else None}, days=day
            ),
            st.sampled_from(["awareness", "engagement", "conversion", "partnership", "closed"]),
            st.floats(0, 400),
            st.booleans(),
        ),
        st.builds(lambda day: event("purpose.set", "r", days=day), st.floats(0, 400)),
        st.builds(lambda day: event("connection.made", "r", days=day), st.floats(0, 400)),
    ),
    max_size=6,
)


def report(state: HealthState, when: datetime) -> dict[str, Any]:
    return assess(state, when).reply()


@settings(max_examples=150)
@given(touches=_touches, others=_others, data=st.data())
def test_any_arrival_order_of_the_other_events_gives_the_same_health(
    touches: list[dict[str, Any]], others: list[dict[str, Any]], data: st.DataObject
) -> None:
    """The contract: whatever order interactions arrive in; stage changes keep stream order."""
    envelopes = touches + others
    shuffled = data.draw(st.permutations(envelopes))
    changes = iter([e for e in envelopes if e["type"] == "rapport.stage.changed"])
    shuffled = [next(changes) if e["type"] == "rapport.stage.changed" else e for e in shuffled]
    when = at(data.draw(st.floats(0, 500)))
    assert report(fold(envelopes), when) == report(fold(shuffled), when)


@settings(max_examples=60)
@given(
    touches=st.lists(st.builds(touch, day=st.floats(0, 400)), min_size=1, max_size=30),
    data=st.data(),
)
def test_order_does_not_matter_when_old_touches_are_summed(
    touches: list[dict[str, Any]], data: st.DataObject
) -> None:
    small = partial(apply, policy=replace(POLICY, kept_touches=4))
    shuffled = data.draw(st.permutations(touches))
    first, second = fold(touches, small), fold(shuffled, small)
    assert first == second
    assert len(first.touches) == min(4, len(touches))


@given(touches=_touches, others=_others, shift=st.floats(0, 60))
def test_more_recent_contact_never_scores_lower(
    touches: list[dict[str, Any]], others: list[dict[str, Any]], shift: float
) -> None:
    when = at(470)
    later = [
        {**t, "time": (datetime.fromisoformat(t["time"]) + timedelta(days=shift)).isoformat()}
        for t in touches
    ]
    assert assess(fold(later + others), when).score >= assess(fold(touches + others), when).score


@given(
    touches=_touches,
    others=_others,
    index=st.integers(0, 24),
    to=st.sampled_from(["inbound", "mutual"]),
)
def test_more_two_way_contact_never_scores_lower(
    touches: list[dict[str, Any]], others: list[dict[str, Any]], index: int, to: str
) -> None:
    when = at(410)
    index %= len(touches)
    changed = list(touches)
    if changed[index]["data"]["direction"] == "outbound":
        changed[index] = {**changed[index], "data": {**changed[index]["data"], "direction": to}}
    assert assess(fold(changed + others), when).score >= assess(fold(touches + others), when).score


@given(touches=_touches, others=_others, index=st.integers(0, 24), step=st.integers(1, 7))
def test_deeper_contact_never_scores_lower(
    touches: list[dict[str, Any]], others: list[dict[str, Any]], index: int, step: int
) -> None:
    when = at(410)
    index %= len(touches)
    kind = touches[index]["data"]["kind"]
    deeper = DEEPER[min(len(DEEPER) - 1, DEEPER.index(kind) + step)]
    changed = list(touches)
    changed[index] = {**changed[index], "data": {**changed[index]["data"], "kind": deeper}}
    assert assess(fold(changed + others), when).score >= assess(fold(touches + others), when).score


@given(touches=_touches, others=_others, first=st.floats(0, 300), more=st.floats(0, 300))
def test_silence_never_raises_a_score(
    touches: list[dict[str, Any]], others: list[dict[str, Any]], first: float, more: float
) -> None:
    state = fold(touches + others)
    start = datetime.fromtimestamp(state.latest_at, UTC) + timedelta(days=first)
    before = assess(state, start)
    after = assess(state, start + timedelta(days=more))
    assert after.score <= before.score
    for name in ("recency", "frequency", "momentum"):
        assert after.components[name] <= before.components[name]


def test_the_contract_example_reason() -> None:
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("stage.changed", "r", {"to": "awareness"}, days=1),
            event("stage.changed", "r", {"to": "engagement"}, days=2),
            touch(3),
        ]
    )
    result = assess(state, at(3 + 47))
    assert "no contact for 47 days; engagement expects 14" in result.reasons
    assert "overdue" in result.flags
    assert result.next_touch_due == at(3 + 14)
    assert touch_due(state) == at(17).timestamp()


def test_any_interaction_resets_the_cadence() -> None:
    state = fold([event("connection.made", "r", days=0), touch(1), touch(20, kind="social")])
    assert assess(state, at(21)).next_touch_due == at(20 + 7)  # connection: weekly


def test_a_fresh_relationship_is_due_a_week_after_the_handshake() -> None:
    result = assess(fold([event("connection.made", "r", days=0)]), at(2))
    assert result.next_touch_due == at(7)
    assert result.flags == ["no-contact", "no-purpose"]
    assert result.reasons[0].startswith("no interactions recorded yet")


def test_closed_relationships_are_never_due() -> None:
    state = fold(
        [touch(0), event("stage.changed", "r", {"to": "closed", "reason": "moved on"}, days=1)]
    )
    result = assess(state, at(5))
    assert result.next_touch_due is None
    assert result.components["momentum"] == 0
    assert "closed" in result.flags


def test_one_way_outreach_is_named() -> None:
    state = fold([touch(day, direction="outbound") for day in range(0, 40, 5)])
    result = assess(state, at(40))
    assert result.components["reciprocity"] == 0
    assert "mostly one-way: 100% of recent contact was us reaching out" in result.reasons


def test_a_warm_regular_relationship_thrives() -> None:
    envelopes = [
        event("connection.made", "r", days=0),
        event("purpose.set", "r", days=0),
        event("stage.changed", "r", {"to": "awareness"}, days=5),
        event("stage.changed", "r", {"to": "engagement"}, days=20),
    ]
    envelopes += [touch(day, kind="meeting", sentiment=0.7) for day in range(0, 60, 5)]
    result = assess(fold(envelopes), at(60))
    assert result.band == "thriving"
    assert result.reasons[0].startswith("in good shape")
    assert result.flags == []


def test_purpose_only_counts_from_when_it_was_set() -> None:
    state = fold([touch(0), event("purpose.set", "r", days=10)])
    assert "no-purpose" in assess(state, at(5)).flags
    assert "no-purpose" not in assess(state, at(11)).flags


@pytest.mark.parametrize(
    ("score", "name"),
    [(100, "thriving"), (80, "thriving"), (79, "healthy"), (60, "healthy"), (59, "cooling"),
     (40, "cooling"), (39, "at-risk"), (20, "at-risk"), (19, "dormant"), (0, "dormant")],
)  # fmt: skip
def test_bands(score: int, name: str) -> None:
    assert band(score) == name


@given(touches=_touches, others=_others)
def test_codec_round_trip(touches: list[dict[str, Any]], others: list[dict[str, Any]]) -> None:
    state = fold(touches + others, partial(apply, policy=replace(POLICY, kept_touches=5)))
    assert codec.decode("r", codec.encode(state)) == state


def test_health_names_the_stage_of_the_one_timeline() -> None:
    """Stage changes fold in stream order, those with `time` <= the instant (contract v1.1)."""
    forward = event("stage.changed", "r", {"to": "awareness"}, days=1)
    further = event("stage.changed", "r", {"to": "engagement"}, days=2)
    state = fold([touch(0), further, forward])  # stored out of time order
    # in stream order, engagement comes first: a skip from connection without a reason
    assert assess(state, at(3)).stage == Stage.AWARENESS
    assert assess(state, at(1.5)).stage == Stage.AWARENESS
    assert assess(state, at(0.5)).stage == Stage.CONNECTION
    in_order = fold([touch(0), forward, further])
    assert assess(in_order, at(3)).stage == Stage.ENGAGEMENT
    assert assess(in_order, at(1.5)).stage == Stage.AWARENESS

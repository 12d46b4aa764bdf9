"""The health score as the README states it: its numbers, its formulas, and worked examples.

Every expected value here is written out (or derived in the test from the README's formulas):
nothing is computed by calling back into the code under test.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Stage, parse_event
from projections.health import codec
from projections.health.components import (
    Contact,
    contact_at,
    frequency,
    momentum,
    recency,
    scored,
    weighted_score,
)
from projections.health.fold import HealthState, OlderTouches, Touch, apply
from projections.health.policy import BANDS, DAY, POLICY, band
from projections.health.score import Situation, assess, explain, touch_due
from tests.factories import BASE_TIME, event

if TYPE_CHECKING:
    from collections.abc import Callable

T0 = BASE_TIME.timestamp()  # 2026-01-05T09:00:00Z


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)


def touch(
    day: float,
    kind: str = "call",
    direction: str = "mutual",
    sentiment: float = 0.0,
    event_id: str | None = None,
) -> dict[str, Any]:
    data = {"kind": kind, "direction": direction, "sentiment": sentiment}
    return event("interaction.recorded", "r", data, days=day, event_id=event_id)


def fold(
    envelopes: list[dict[str, Any]], fold_one: Callable[..., HealthState] = apply
) -> HealthState:
    state = None
    for envelope in envelopes:
        state = fold_one(state, parse_event(orjson.dumps(envelope)))
    assert state is not None
    return state


# -- the numbers of the README's tables ---------------------------------------------------------


def test_weights_are_the_readme_table_and_sum_to_one() -> None:
    assert POLICY.weights == {
        "recency": 0.30,
        "frequency": 0.20,
        "reciprocity": 0.15,
        "sentiment": 0.10,
        "depth": 0.10,
        "momentum": 0.15,
    }
    assert math.isclose(sum(POLICY.weights.values()), 1.0)


def test_cadences_deepen_from_weekly_to_monthly() -> None:
    assert POLICY.cadence_days == {
        Stage.CONNECTION: 7,
        Stage.AWARENESS: 10,
        Stage.ENGAGEMENT: 14,
        Stage.CONVERSION: 21,
        Stage.PARTNERSHIP: 30,
        Stage.CLOSED: 30,  # scored like a partnership, never due
    }


def test_expected_stage_durations() -> None:
    assert POLICY.expected_stage_days == {
        Stage.CONNECTION: 14,
        Stage.AWARENESS: 30,
        Stage.ENGAGEMENT: 60,
        Stage.CONVERSION: 45,
    }


def test_depth_per_interaction_kind() -> None:
    assert POLICY.depth == {
        "meeting": 1.0,
        "event": 0.8,
        "call": 0.7,
        "intro": 0.6,
        "email": 0.4,
        "message": 0.4,
        "other": 0.3,
        "social": 0.2,
    }
    assert POLICY.depth["meeting"] > POLICY.depth["call"] > POLICY.depth["message"]


def test_half_life_and_kept_touches() -> None:
    assert POLICY.half_life_days == 30.0
    assert POLICY.kept_touches == 100


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [(30, 2.0), (60, 4 / 3), (7, 6.6964507), (10, 4.8473221), (14, 3.6183982), (21, 2.6012687)],
)
def test_expected_touches_at_the_cadence(cadence: float, expected: float) -> None:
    """Touching every `cadence` days forever: 1 + h + h^2 + ... = 1 / (1 - h), h = 2^-(c/30)."""
    assert POLICY.expected_touches(cadence) == pytest.approx(expected, abs=1e-7)


def test_bands_table() -> None:
    assert BANDS == (
        (80, "thriving"),
        (60, "healthy"),
        (40, "cooling"),
        (20, "at-risk"),
        (0, "dormant"),
    )
    assert band(-1) == "dormant"  # below every floor: still dormant (< 20)
    assert [band(s) for s in (100, 80, 79, 60, 59, 40, 39, 20, 19, 0)] == [
        "thriving", "thriving", "healthy", "healthy", "cooling", "cooling",
        "at-risk", "at-risk", "dormant", "dormant",
    ]  # fmt: skip


# -- the components, one by one -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("silent_days", "expected"),
    [(0, 1.0), (3.5, 0.75), (7, 0.5), (14, 0.25), (21, 0.125), (10.5, 0.5 * 2**-0.5)],
)
def test_recency_halves_with_every_cadence_of_silence(silent_days: float, expected: float) -> None:
    assert recency(T0, T0 + silent_days * DAY, 7) == pytest.approx(expected, abs=1e-12)


def test_recency_without_any_touch_is_zero() -> None:
    assert recency(None, T0, 7) == 0.0


def _contact(*touches: tuple[float, str, str, float]) -> Contact:
    """A Contact of touches (day, kind, direction, sentiment), weighed as the README says."""
    last = max(day for day, *_ in touches)
    kept = [
        Touch(T0 + day * DAY, f"t{n}", kind, direction, sentiment)
        for n, (day, kind, direction, sentiment) in enumerate(touches)
    ]
    weights = [2.0 ** ((day - last) / 30) for day, *_ in touches]
    return Contact(T0 + last * DAY, kept, weights, None, 0)


def test_frequency_is_decayed_touches_against_the_cadence_saturating() -> None:
    one_now = _contact((0, "call", "mutual", 0.0))
    # cadence 30: expected 2 touches; 1 touch now: 1 - 4^(-1/2) = 0.5
    assert frequency(one_now, T0, 30, POLICY) == pytest.approx(0.5)
    # the same touch 30 days ago has decayed to 1/2: 1 - 4^(-1/4)
    assert frequency(one_now, T0 + 30 * DAY, 30, POLICY) == pytest.approx(1 - 2**-0.5)
    two = _contact((0, "call", "mutual", 0.0), (30, "call", "mutual", 0.0))
    # weights 1/2 and 1: 1 - 4^(-1.5/2) = 1 - 2^-1.5
    assert frequency(two, T0 + 30 * DAY, 30, POLICY) == pytest.approx(1 - 2**-1.5)
    empty = Contact(None, [], [], None, 0)
    assert frequency(empty, T0, 30, POLICY) == 0.0


@pytest.mark.parametrize(
    ("stage", "days", "expected"),
    [
        (Stage.AWARENESS, 0, 1.0),
        (Stage.AWARENESS, 30, 1.0),
        (Stage.AWARENESS, 45, 30 / 45),
        (Stage.AWARENESS, 60, 0.5),
        (Stage.CONNECTION, 28, 0.5),
        (Stage.ENGAGEMENT, 120, 0.5),
        (Stage.CONVERSION, 90, 0.5),
        (Stage.PARTNERSHIP, 1000, 1.0),  # partnership keeps 1
        (Stage.CLOSED, 0, 0.0),  # closed is 0
        (Stage.AWARENESS, -5, 1.0),  # `since` after the instant: not yet in the stage
    ],
)
def test_momentum(stage: Stage, days: float, expected: float) -> None:
    assert momentum(stage, T0, T0 + days * DAY, POLICY) == pytest.approx(expected)


def test_weighted_score_is_a_whole_number_in_0_to_100() -> None:
    names = ("recency", "frequency", "reciprocity", "sentiment", "depth", "momentum")
    assert weighted_score(dict.fromkeys(names, 1.0), POLICY) == 100
    assert weighted_score(dict.fromkeys(names, 0.0), POLICY) == 0
    assert weighted_score(dict.fromkeys(names, 1.5), POLICY) == 100  # clamped
    assert weighted_score(dict.fromkeys(names, -0.5), POLICY) == 0  # clamped
    # 0.30 x 1 + 0.15 x 1 (recency, momentum) = 45
    only = {**dict.fromkeys(names, 0.0), "recency": 1.0, "momentum": 1.0}
    assert weighted_score(only, POLICY) == 45
    # 100 x 0.10 x 0.995 = 9.95 rounds to 10
    assert weighted_score({**dict.fromkeys(names, 0.0), "depth": 0.995}, POLICY) == 10


def test_no_touches_give_the_neutral_components() -> None:
    components = scored(Contact(None, [], [], None, 0), Stage.AWARENESS, T0, T0, POLICY)
    assert components == {
        "recency": 0.0,
        "frequency": 0.0,
        "reciprocity": 0.0,
        "sentiment": 0.5,
        "depth": 0.0,
        "momentum": 1.0,
    }


def test_a_single_touch_is_weighed_in_full() -> None:
    """One mutual meeting, sentiment 0.6, right now: total weight exactly 1."""
    components = scored(_contact((0, "meeting", "mutual", 0.6)), Stage.PARTNERSHIP, T0, T0, POLICY)
    assert components["reciprocity"] == 1.0
    assert components["sentiment"] == pytest.approx(0.8)
    assert components["depth"] == 1.0
    assert components["frequency"] == pytest.approx(0.5)  # cadence 30: 1 - 4^(-1/2)


def test_reciprocity_sentiment_and_depth_are_decayed_means() -> None:
    """Touches now (outbound email, -1) and 30 days ago (inbound meeting, +1): weights 1 and 1/2."""
    contact = _contact((0, "meeting", "inbound", 1.0), (30, "email", "outbound", -1.0))
    components = scored(contact, Stage.PARTNERSHIP, T0, T0 + 30 * DAY, POLICY)
    # theirs 0.5 of 1.5: 2 x 1/3 = 2/3
    assert components["reciprocity"] == pytest.approx(2 / 3)
    # mood (0.5 x 1 - 1 x 1) / 1.5 = -1/3: (1 - 1/3) / 2 = 1/3
    assert components["sentiment"] == pytest.approx(1 / 3)
    # depth (0.5 x 1.0 + 1 x 0.4) / 1.5 = 0.6
    assert components["depth"] == pytest.approx(0.6)
    assert contact.outbound_share() == pytest.approx(2 / 3)
    assert contact.recent(T0 + 30 * DAY, 30) == (2, True)  # (how many, exactly that many)
    assert contact.recent(T0 + 30 * DAY, 29.9) == (1, True)
    assert contact.recent(T0 + 90 * DAY, 60) == (1, True)


# -- a reference built from the README's formulas alone ----------------------------------------

DEPTH = {"meeting": 1.0, "event": 0.8, "call": 0.7, "intro": 0.6, "email": 0.4, "message": 0.4,
         "other": 0.3, "social": 0.2}  # fmt: skip
CADENCE = {"connection": 7, "awareness": 10, "engagement": 14, "conversion": 21, "partnership": 30}


def reference(
    touches: list[tuple[float, str, str, float]], now: float, stage: str, in_stage: float
) -> dict[str, float]:
    """The six components at day `now`, straight from the README (touches in days)."""
    seen = [t for t in touches if t[0] <= now]
    cadence = CADENCE[stage]
    expected = {"connection": 14, "awareness": 30, "engagement": 60, "conversion": 45}.get(stage)
    result = {"reciprocity": 0.0, "sentiment": 0.5, "depth": 0.0, "recency": 0.0, "frequency": 0.0}
    if seen:
        last = max(day for day, *_ in seen)
        weights = [2.0 ** ((day - last) / 30) for day, *_ in seen]
        total = sum(weights)
        silent = now - last
        if silent <= cadence:
            result["recency"] = 1 - 0.5 * silent / cadence
        else:
            result["recency"] = 0.5 * 2.0 ** (-(silent - cadence) / cadence)
        at_cadence = 1 / (1 - 2.0 ** (-cadence / 30))
        result["frequency"] = 1 - 4.0 ** (-(total * 2.0 ** (-silent / 30)) / at_cadence)
        theirs = sum(w for w, t in zip(weights, seen, strict=True) if t[2] != "outbound")
        result["reciprocity"] = min(1.0, 2 * theirs / total)
        mood = sum(w * t[3] for w, t in zip(weights, seen, strict=True)) / total
        result["sentiment"] = (1 + mood) / 2
        result["depth"] = sum(w * DEPTH[t[1]] for w, t in zip(weights, seen, strict=True)) / total
    if expected is None or in_stage <= expected:
        result["momentum"] = 1.0
    else:
        result["momentum"] = expected / in_stage
    return result


_touches = st.lists(
    st.tuples(
        st.integers(0, 2000).map(lambda tenth: tenth / 10),
        st.sampled_from(sorted(DEPTH)),
        st.sampled_from(["inbound", "outbound", "mutual"]),
        st.integers(-1000, 1000).map(lambda milli: milli / 1000),
    ),
    min_size=0,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    touches=_touches,
    now=st.integers(0, 3000).map(lambda tenth: tenth / 10),
    stage=st.sampled_from(sorted(CADENCE)),
    in_stage=st.integers(0, 200),
)
def test_components_and_score_follow_the_readme_formulas(
    touches: list[tuple[float, str, str, float]], now: float, stage: str, in_stage: int
) -> None:
    envelopes = [
        touch(day, kind, direction, sentiment, event_id=f"t-{n}")
        for n, (day, kind, direction, sentiment) in enumerate(touches)
    ]
    state = fold([event("connection.made", "r", days=0, event_id="hello"), *envelopes])
    instant = T0 + now * DAY
    since = instant - in_stage * DAY
    components = scored(contact_at(state, instant, POLICY), Stage(stage), since, instant, POLICY)
    expected = reference(touches, now, stage, in_stage)
    assert components == pytest.approx(expected, abs=1e-9)
    raw = 100 * sum(POLICY.weights[name] * value for name, value in expected.items())
    if abs(raw - math.floor(raw) - 0.5) > 1e-6:  # not on a rounding edge
        assert weighted_score(components, POLICY) == round(raw)


# -- worked examples, the whole reply -----------------------------------------------------------


def test_a_fresh_handshake_with_a_warm_meeting() -> None:
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("purpose.set", "r", days=0),
            touch(0, "meeting", "mutual", 0.6),
        ]
    )
    reply = assess(state, at(3.5)).reply()
    # recency 1 - 0.5 x 3.5/7 = 0.75; frequency 1 - 4^-(2^(-3.5/30) / 6.6964507) = 0.1738;
    # reciprocity 1; sentiment (1 + 0.6)/2 = 0.8; depth 1; momentum 1 (3.5 of 14 days)
    # score 100 x (0.3 x 0.75 + 0.2 x 0.1738 + 0.15 + 0.08 + 0.1 + 0.15) = 73.98
    assert reply == {
        "relationship_id": "r",
        "score": 74,
        "band": "healthy",
        "components": {
            "recency": 0.75,
            "frequency": 0.174,
            "reciprocity": 1.0,
            "sentiment": 0.8,
            "depth": 1.0,
            "momentum": 1.0,
        },
        "reasons": ["only 1 touch in the last 90 days; connection wants one every 7 days"],
        "flags": [],
        "last_interaction_at": "2026-01-05T09:00:00Z",
        "next_touch_due": "2026-01-12T09:00:00Z",
        "stage": "connection",
        "owner": "maria@example.com",
        "name": "Ada Lovelace",  # v1.1: the counterpart's name
        "as_of": "2026-01-08T21:00:00Z",
    }


def test_a_stalled_overdue_awareness() -> None:
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("stage.changed", "r", {"to": "awareness"}, days=1),
            touch(1, "call", "inbound", 0.0),
        ]
    )
    report = assess(state, at(53.5))
    # 52.5 days of silence against a 10-day cadence: 0.5 x 2^-(42.5/10) = 0.0263
    # frequency 1 - 4^-(2^(-52.5/30) / 4.8473221) = 0.0815; momentum 30/52.5 = 0.5714
    # score 100 x (0.3 x 0.0263 + 0.2 x 0.0815 + 0.15 + 0.05 + 0.07 + 0.15 x 0.5714) = 37.99
    assert report.score == 38
    assert report.band == "at-risk"
    assert report.components == {
        "recency": 0.026,
        "frequency": 0.082,
        "reciprocity": 1.0,
        "sentiment": 0.5,
        "depth": 0.7,
        "momentum": 0.571,
    }
    # shortfalls: recency 0.3 x 0.974, frequency 0.2 x 0.918, momentum 0.15 x 0.429
    assert report.reasons == [
        "no contact for 52 days; awareness expects 10",
        "only 1 touch in the last 90 days; awareness wants one every 10 days",
        "in awareness for 52 days; it usually takes 30",
        "no purpose set: every relationship should have one",
    ]
    assert report.flags == ["overdue", "stalled", "no-purpose"]
    assert report.stage == Stage.AWARENESS
    assert report.last_interaction_at == at(1)
    assert report.next_touch_due == at(11)


def test_touches_summed_as_integers_count_like_kept_ones() -> None:
    """Four touches at one instant beyond the kept ones weigh exactly as if kept one by one."""
    small = partial(apply, policy=replace(POLICY, kept_touches=2))
    cluster = [
        touch(0, "email", "outbound", -0.5, event_id="a"),
        touch(0, "email", "mutual", 0.2, event_id="b"),
        touch(0, "call", "inbound", 0.3, event_id="c"),
        touch(0, "social", "outbound", 1.0, event_id="d"),
    ]
    newer = [
        touch(10, "meeting", "outbound", 0.0, event_id="e"),
        touch(20, "message", "outbound", -0.2, event_id="f"),
    ]
    state = fold([event("connection.made", "r", days=0, event_id="h"), *cluster, *newer], small)
    assert state.older == OlderTouches(
        count=4,
        theirs=2,
        sentiment_milli=1000,
        kinds=(0, 1, 2, 0, 0, 1, 0, 0),  # meeting call email message event social intro other
        latest_at=T0,
        earliest_at=T0,
    )
    assert [t.event_id for t in state.touches] == ["e", "f"]
    report = assess(state, at(20))
    # weights: f 1, e 2^(-10/30) = 0.7937, a..d 2^(-20/30) = 0.6300 each; total 4.3136
    assert report.components == {
        "recency": 1.0,
        "frequency": 0.591,  # 1 - 4^-(4.3136 / 6.6964507)
        "reciprocity": 0.584,  # b and c are theirs: 2 x (2 x 0.63) / 4.3136
        "sentiment": 0.55,  # (1 + (-0.2 + 0.63 x (-0.5 + 0.2 + 0.3 + 1.0)) / 4.3136) / 2
        "depth": 0.525,  # (0.4 + 0.7937 + 0.63 x (0.4 + 0.4 + 0.7 + 0.2)) / 4.3136
        "momentum": 0.7,  # 14 / 20 days in connection
    }
    assert report.score == 72
    # older touches at or before the instant are all there is at day 5
    early = assess(state, at(5))
    assert early.last_interaction_at == at(0)
    assert early.components["recency"] == pytest.approx(1 - 0.5 * 5 / 7, abs=5e-4)
    assert early.components["reciprocity"] == 1.0  # 2 of 4 theirs
    assert early.components["sentiment"] == pytest.approx((1 + 1.0 / 4) / 2, abs=5e-4)
    assert early.components["depth"] == pytest.approx(1.7 / 4, abs=5e-4)
    # at day 5 the summed touches weigh 1 each: sentiments -0.5 + 0.2 + 0.3 + 1.0 = 1.0
    contact = contact_at(state, at(5).timestamp(), POLICY)
    assert contact.total == 4.0
    assert contact.mood() == pytest.approx(1.0, abs=1e-12)
    assert contact.theirs() == 2.0
    assert contact.depth(POLICY) == pytest.approx(1.7, abs=1e-12)
    # they count from their very instant on
    assert assess(state, at(0)).last_interaction_at == at(0)
    before = assess(state, at(-1))
    assert before.last_interaction_at is None
    assert before.components["depth"] == 0.0


def test_older_touches_keep_the_earliest_ones() -> None:
    small = partial(apply, policy=replace(POLICY, kept_touches=2))
    state = fold([touch(day, event_id=f"t{day}") for day in (3, 1, 4, 2, 5)], small)
    assert [t.event_id for t in state.touches] == ["t4", "t5"]
    assert (state.older.count, state.older.latest_at) == (3, at(3).timestamp())


# -- when the next touch is due -----------------------------------------------------------------


def test_without_interactions_the_handshake_starts_the_cadence() -> None:
    state = fold([event("connection.made", "r", days=0)])
    assert touch_due(state) == at(7).timestamp()
    later = fold([event("connection.made", "r", days=0), touch(2), touch(1)])
    assert touch_due(later) == at(9).timestamp()


def test_the_cadence_of_the_current_stage_decides() -> None:
    state = fold(
        [
            event("connection.made", "r", days=0),
            touch(1),
            event("stage.changed", "r", {"to": "awareness"}, days=2),
            event("stage.changed", "r", {"to": "engagement"}, days=3),
            event("stage.changed", "r", {"to": "conversion"}, days=4),
        ]
    )
    assert touch_due(state) == at(1 + 21).timestamp()
    assert assess(state, at(5)).next_touch_due == at(22)
    assert assess(state, at(2.5)).next_touch_due == at(11)  # still awareness then


def test_a_purpose_counts_from_the_instant_it_was_set() -> None:
    state = fold([touch(0), event("purpose.set", "r", days=3)])
    assert "no-purpose" not in assess(state, at(3)).flags
    assert "no-purpose" in assess(state, at(2.999)).flags


def test_reasons_weigh_shortfalls_by_the_policy_the_score_uses() -> None:
    """Stalled and overdue: with recency weighing nothing, the stall comes first."""
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("purpose.set", "r", days=0),
            touch(0, "meeting"),
        ]
    )
    when = at(40)
    default = assess(state, when)
    assert default.reasons[0].startswith("no contact for 40 days")
    weights = {**POLICY.weights, "recency": 0.0, "frequency": 0.0, "momentum": 1.0}
    custom = assess(state, when, replace(POLICY, weights=weights))
    assert custom.reasons[0] == "in connection for 40 days; it usually takes 14"


def test_the_health_of_a_closed_relationship() -> None:
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("purpose.set", "r", days=0),
            touch(0, "meeting"),
            event("stage.changed", "r", {"to": "closed", "reason": "moved on"}, days=1),
        ]
    )
    report = assess(state, at(100))
    assert report.next_touch_due is None
    assert touch_due(state) is None
    assert "overdue" not in report.flags
    assert report.flags == ["closed"]
    assert report.reasons == ["the relationship is closed"]
    assert report.components["momentum"] == 0.0
    # scored against a 30-day cadence: 100 days of silence, 0.5 x 2^-(70/30)
    assert report.components["recency"] == round(0.5 * 2 ** (-70 / 30), 3)


# -- the reasons, from a situation --------------------------------------------------------------


def situation(**changes: Any) -> Situation:
    base: dict[str, Any] = {
        "components": components(),
        "stage": Stage.AWARENESS,
        "cadence": 10.0,
        "now": T0 + 2.5 * DAY,
        "last_at": T0,
        "due": T0 + 10 * DAY,
        "in_stage_days": 5.0,
        "expected_stage_days": 30.0,
        "recent": (3, True),
        "outbound_share": 0.5,
        "has_purpose": True,
    }
    base.update(changes)
    return Situation(**base)


def components(**values: float) -> dict[str, float]:
    names = ("recency", "frequency", "reciprocity", "sentiment", "depth", "momentum")
    return {**dict.fromkeys(names, 0.9), **values}


def test_in_good_shape_says_when_to_touch_again(far_east_zone: None) -> None:
    # the due instant is 2026-01-15T23:00Z: in UTC+14 it would already be the 16th
    reasons, flags = explain(situation(due=T0 + 10 * DAY + 14 * 3600))
    assert reasons == ["in good shape: last contact 2 days ago; touch again by 2026-01-15"]
    assert flags == []


def test_in_good_shape_comes_before_the_missing_purpose() -> None:
    reasons, flags = explain(situation(has_purpose=False))
    assert reasons == [
        "in good shape: last contact 2 days ago; touch again by 2026-01-15",
        "no purpose set: every relationship should have one",
    ]
    assert flags == ["no-purpose"]


def test_thresholds_are_strict() -> None:
    """A component exactly at its threshold is no shortfall; a hair below is."""
    at_threshold = components(
        frequency=0.6, reciprocity=0.6, sentiment=0.45, depth=0.5, momentum=0.6
    )
    reasons, flags = explain(situation(components=at_threshold))
    assert reasons[0].startswith("in good shape")
    assert flags == []
    below = components(
        frequency=0.599, reciprocity=0.599, sentiment=0.449, depth=0.499, momentum=0.599
    )
    _, flags = explain(situation(components=below))
    assert flags == ["one-way", "negative", "shallow", "stalled"]


def test_due_exactly_now_is_not_yet_overdue() -> None:
    reasons, flags = explain(situation(now=T0 + 10 * DAY))
    assert flags == []
    assert reasons == ["in good shape: last contact 10 days ago; touch again by 2026-01-15"]
    _, flags = explain(situation(now=T0 + 10 * DAY + 1))
    assert flags == ["overdue"]


def test_every_reason_in_words_weightiest_shortfall_first() -> None:
    shortfalls = components(
        recency=0.2,  # 0.30 x 0.80 = 0.240
        frequency=0.55,  # 0.20 x 0.45 = 0.090
        reciprocity=0.1,  # 0.15 x 0.90 = 0.135
        sentiment=0.3,  # 0.10 x 0.70 = 0.070
        depth=0.45,  # 0.10 x 0.55 = 0.055
        momentum=0.5,  # 0.15 x 0.50 = 0.075
    )
    reasons, flags = explain(
        situation(
            components=shortfalls,
            now=T0 + 47.5 * DAY,
            in_stage_days=60.9,
            recent=(2, True),
            outbound_share=0.8,
            has_purpose=False,
        )
    )
    assert reasons == [
        "no contact for 47 days; awareness expects 10",
        "mostly one-way: 80% of recent contact was us reaching out",
        "only 2 touches in the last 90 days; awareness wants one every 10 days",
        "in awareness for 60 days; it usually takes 30",
        "recent interactions were negative in tone",
        "contact has been shallow: no recent meeting or call",
        "no purpose set: every relationship should have one",
    ]
    assert flags == ["overdue", "one-way", "negative", "shallow", "stalled", "no-purpose"]


@pytest.mark.parametrize(
    ("recent", "words"), [(0, "no touches"), (1, "only 1 touch"), (2, "only 2 touches")]
)
def test_touch_counts_in_words(recent: int, words: str) -> None:
    reasons, _ = explain(situation(components=components(frequency=0.1), recent=(recent, True)))
    assert reasons == [f"{words} in the last 90 days; awareness wants one every 10 days"]


def test_no_contact_weighs_recency_and_frequency_together() -> None:
    """No touch at all: 0.3 + 0.2 of shortfall, more than a stalled stage's 0.15."""
    silent = components(recency=0.0, frequency=0.0, momentum=0.0)
    reasons, flags = explain(situation(components=silent, last_at=None, due=None))
    assert reasons == [
        "no interactions recorded yet; awareness expects a touch every 10 days",
        "in awareness for 5 days; it usually takes 30",
    ]
    assert flags == ["no-contact", "stalled"]


def test_a_closed_relationship_expects_nothing() -> None:
    """Issue 13: closed is never due, and no cadence, touch or purpose is asked of it."""
    silent = components(recency=0.0, frequency=0.0, reciprocity=0.0, momentum=0.0)
    for last_at in (None, T0):
        reasons, flags = explain(
            situation(
                components=silent,
                stage=Stage.CLOSED,
                cadence=30.0,
                last_at=last_at,
                due=None,
                expected_stage_days=None,
                recent=(0, True),
                outbound_share=1.0,
                has_purpose=False,
            )
        )
        assert reasons == ["the relationship is closed"]
        assert flags == ["closed"]


def test_a_stage_without_an_expected_duration_never_stalls() -> None:
    reasons, flags = explain(
        situation(
            components=components(momentum=0.1),
            stage=Stage.PARTNERSHIP,
            expected_stage_days=None,
        )
    )
    assert flags == []
    assert reasons[0].startswith("in good shape")


# -- state to bytes and back --------------------------------------------------------------------


def test_the_health_codec_keeps_every_field() -> None:
    small = partial(apply, policy=replace(POLICY, kept_touches=1))
    state = fold(
        [
            event("connection.made", "r", days=0),
            event("purpose.set", "r", days=1),
            touch(2, "social", "inbound", -0.25),
            touch(3),
            event("stage.changed", "r", {"to": "awareness", "from": "connection"}, days=4),
            event("stage.changed", "r", {"to": "closed", "reason": "gone"}, days=5),
        ],
        small,
    )
    assert state.older.count == 1
    decoded = codec.decode("r", codec.encode(state))
    assert decoded == state
    assert decoded.stage_marks[0].from_ == Stage.CONNECTION
    assert decoded.stage_marks[1].from_ is None


# -- the fold: what it keeps of each event ------------------------------------------------------


def test_the_fold_keeps_the_latest_owner_and_purpose_by_time() -> None:
    first = event("connection.made", "r", days=5, event_id="c2")
    first["data"] = {**first["data"], "owner": "later@example.com", "purpose": "a course"}
    early = event("connection.made", "r", days=1, event_id="c1")
    state = fold([first, early])
    assert state.owner == "later@example.com"
    assert state.owner_mark == (at(5).timestamp(), "c2")
    assert state.purpose_mark == (at(5).timestamp(), "c2")
    assert (state.opened_at, state.latest_at) == (at(1).timestamp(), at(5).timestamp())
    with_purpose = fold([event("purpose.set", "r", days=2, event_id="p"), first])
    assert with_purpose.purpose_mark == (at(5).timestamp(), "c2")
    kept = fold([first, event("purpose.set", "r", days=2, event_id="p")])
    assert kept.purpose_mark == (at(5).timestamp(), "c2")
    newer_purpose = fold([event("purpose.set", "r", days=7, event_id="p"), first])
    assert newer_purpose.purpose_mark == (at(7).timestamp(), "p")
    plain = fold([early, event("purpose.set", "r", days=2, event_id="p")])
    assert plain.purpose_mark == (at(2).timestamp(), "p")
    assert plain.owner == "maria@example.com"


def test_the_fold_keeps_touches_and_stage_changes_by_id() -> None:
    state = fold([touch(1, event_id="t1"), event("stage.changed", "r", days=2, event_id="s1")])
    assert state.touches == (Touch(at(1).timestamp(), "t1", "call", "mutual", 0.0),)
    assert [(m.event_id, m.to) for m in state.stage_marks] == [("s1", Stage.AWARENESS)]


# -- a real bug: summed touches are forgotten by the words ---------------------------------------


def _many_touches(direction: str) -> HealthState:
    """4 touches on day 0, then the 100 newest touches from day 10 on."""
    early = [touch(0, "meeting", direction, event_id=f"early-{n}") for n in range(4)]
    late = [touch(10 + n / 10, "meeting", "mutual", event_id=f"late-{n:03}") for n in range(100)]
    return fold([event("connection.made", "r", days=0), *early, *late])


def test_touch_counts_include_summed_touches() -> None:
    report = assess(_many_touches("mutual"), at(5))
    assert report.last_interaction_at == at(0)
    frequency_reasons = [r for r in report.reasons if "in the last 90 days" in r]
    assert all(not r.startswith("no touches") for r in frequency_reasons)


def test_one_way_share_includes_summed_touches() -> None:
    report = assess(_many_touches("outbound"), at(5))
    assert report.components["reciprocity"] == 0.0
    assert "mostly one-way: 100% of recent contact was us reaching out" in report.reasons


def test_a_touch_at_the_epoch_counts_like_any_other() -> None:
    state = fold([touch(0, "meeting", "mutual", 0.6)])  # at 2026-01-05, for comparison
    epoch = event(
        "interaction.recorded",
        "r",
        {"kind": "meeting", "direction": "mutual", "sentiment": 0.6},
        at="1970-01-01T00:00:00Z",
    )
    at_epoch = fold([epoch])
    expected = {"reciprocity": 1.0, "sentiment": 0.8, "depth": 1.0}
    assert {k: assess(state, at(1)).components[k] for k in expected} == expected
    report = assess(at_epoch, datetime(1970, 1, 2, tzinfo=UTC))
    assert {k: report.components[k] for k in expected} == expected


def test_the_relationship_and_instant_are_named() -> None:
    report = assess(fold([touch(0)]), datetime(2026, 1, 6, 10, 30, tzinfo=UTC))
    reply = report.reply()
    assert (reply["relationship_id"], reply["as_of"]) == ("r", "2026-01-06T10:30:00Z")
    assert reply["owner"] is None
    assert reply["last_interaction_at"] == "2026-01-05T09:00:00Z"


def test_summed_touches_partly_in_the_window_count_as_at_least() -> None:
    """4 summed touches on days 0..60, the kept ones from day 70: a window holding only some
    of the summed ones counts at least one of them, and says "or more" instead of a number."""
    early = [touch(day, "email", "mutual", event_id=f"e{day}") for day in (0, 20, 40, 60)]
    late = [touch(70 + n / 10, "meeting", "mutual", event_id=f"l{n:03}") for n in range(100)]
    state = fold([event("connection.made", "r", days=0), *early, *late])
    contact = contact_at(state, at(65).timestamp(), POLICY)
    assert contact.recent(at(65).timestamp(), 90) == (4, True)  # days 0..60 all within
    assert contact.recent(at(65).timestamp(), 50) == (1, False)  # from day 15: 3 of them
    later = contact_at(state, at(100).timestamp(), POLICY)  # from day 10: 100 kept, 3 summed
    assert later.recent(at(100).timestamp(), 90) == (101, False)
    reasons = assess(state, at(100)).reasons
    assert not [r for r in reasons if "touches in the last" in r and "or more" not in r]

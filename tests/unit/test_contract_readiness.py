"""Proposal readiness as the README states it: stage 25 %, health 20 %, capacity 20 %,
timing 15 %, goals 20 %, with reasons weightiest shortfall first. Scores are worked by hand.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Stage
from projections.proposals.readiness import (
    CAPACITY_FIT,
    STAGE_FIT,
    WEIGHTS,
    Readiness,
    age_days,
    readiness,
)
from tests.factories import BASE_TIME, event
from tests.folding import fold_context as fold

if TYPE_CHECKING:
    from projections.proposals.fold import PartnerContext, Proposal


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)


def only(context: PartnerContext) -> Proposal:
    [proposal] = context.proposals
    return proposal


def drafted(day: float = 0, **data: Any) -> dict[str, Any]:
    fields = {"proposal_id": "p-1", "title": "Joint workshop", **data}
    return event("proposal.drafted", "r", fields, days=day)


def capacity(level: str, day: float = 0, **data: Any) -> dict[str, Any]:
    return event("capacity.noted", "r", {"capacity": level, **data}, days=day)


def stages(*names: str) -> list[dict[str, Any]]:
    """Step forward through the funnel, one stage per day from day 0.1."""
    return [
        event("stage.changed", "r", {"to": name}, days=0.1 * (n + 1))
        for n, name in enumerate(names)
    ]


# Awareness without any interaction: health 20 (sentiment 0.5 x 0.10 + momentum 1 x 0.15),
# stage fit 0.25.
AWARE = [event("connection.made", "r", days=0), *stages("awareness")]
HEALTH_20 = (
    "relationship health is 20 (at-risk): "
    "no interactions recorded yet; awareness expects a touch every 10 days"
)


def test_weights_are_the_readme_shares_and_sum_to_one() -> None:
    assert WEIGHTS == {
        "stage": 0.25,
        "health": 0.20,
        "capacity": 0.20,
        "timing": 0.15,
        "goals": 0.20,
    }
    assert math.isclose(sum(WEIGHTS.values()), 1.0)


def test_stage_fit_conversion_is_ready_connection_too_early() -> None:
    assert {stage: fit for stage, (fit, _) in STAGE_FIT.items()} == {
        Stage.CONNECTION: 0.1,
        Stage.AWARENESS: 0.25,
        Stage.ENGAGEMENT: 0.55,
        Stage.CONVERSION: 1.0,
        Stage.PARTNERSHIP: 0.9,
        Stage.CLOSED: 0.0,
    }


def test_capacity_fit_high_medium_low() -> None:
    assert {level: fit for level, (fit, _) in CAPACITY_FIT.items()} == {
        "high": 1.0,
        "medium": 0.6,
        "low": 0.15,
    }


def test_a_ready_proposal() -> None:
    """Conversion, thriving, high capacity, available before the start, every goal theirs."""
    meeting = {"kind": "meeting", "direction": "mutual", "sentiment": 1.0}
    context = fold(
        event("connection.made", "r", days=0),
        event("purpose.set", "r", days=0),
        *stages("awareness", "engagement", "conversion"),
        capacity("high", 5, available_from="2026-02-01", goals=[" Reach ", "teaching"]),
        drafted(6, goals=["reach", "Teaching"], proposed_start="2026-03-01"),
        event("interaction.recorded", "r", meeting, days=10),
    )
    result = readiness(context, only(context), at(10))
    # health: 100 x (0.3 + 0.2 x (1 - 4^-(1/2.6012687)) + 0.15 + 0.1 + 0.1 + 0.15) = 88.26
    # readiness: 0.25 x 1 + 0.20 x 0.88 + 0.20 x 1 + 0.15 x 1 + 0.20 x 1 = 0.976
    assert result.score == 98
    assert result.reasons == [
        "relationship health is 88 (thriving)",  # the only shortfall: 0.20 x 0.12
        "in conversion: the relationship is ready for a proposal",
        "they have high capacity now",
        "they are available from 2026-02-01, before your start on 2026-03-01",
        "aligned with their goals: reach, teaching",
    ]
    assert result.reply() == {"score": 98, "reasons": result.reasons}


def test_a_proposal_made_too_early() -> None:
    context = fold(event("connection.made", "r", days=0), drafted(1))
    result = readiness(context, only(context), at(2))
    # 0.25 x 0.1 + 0.20 x 0.20 + 0.20 x 0.4 + 0.15 x 0.4 + 0.20 x 0.3 = 0.265
    assert result == Readiness(
        26,
        [
            "only a connection: too early to propose; build the relationship",  # 0.225
            "relationship health is 20 (at-risk): "  # 0.160
            "no interactions recorded yet; connection expects a touch every 7 days",
            "the proposal names none of the partner's goals it serves",  # 0.140
            "their capacity is unknown: ask what they can take on before proposing",  # 0.120
            "no timing known: note when they are available and when you would start",  # 0.090
        ],
    )


def test_health_of_exactly_60_needs_no_explaining() -> None:
    """Health 60 is healthy: its reason names the score only, not the health's own reasons."""
    hello = event("connection.made", "r", days=0)
    hello["data"] = {**hello["data"], "purpose": "co-teach a course"}
    email = {"kind": "email", "direction": "outbound", "sentiment": 0.5}
    context = fold(hello, drafted(0), event("interaction.recorded", "r", email, days=1))
    result = readiness(context, only(context), at(1))
    # health: 100 x (0.3 + 0.2 x (1 - 4^-(1/6.6964507)) + 0 + 0.1 x 0.75 + 0.1 x 0.4 + 0.15)
    # = 60.24
    assert "relationship health is 60 (healthy)" in result.reasons


@pytest.mark.parametrize(
    ("level", "score", "words"),
    [
        ("high", 44, "they have high capacity now"),
        ("medium", 36, "they have medium capacity: keep the ask focused"),
        ("low", 27, "their capacity is low: propose something small, or wait"),
    ],
)
def test_capacity(level: str, score: int, words: str) -> None:
    context = fold(*AWARE, capacity(level, 1), drafted(1, goals=["reach"]))
    result = readiness(context, only(context), at(2))
    # 0.0625 + 0.04 + 0.20 x fit + 0.15 x 0.4 (no timing) + 0.20 x 0.4 (their goals unknown)
    assert result.score == score
    assert words in result.reasons


# the rest of each score: stage 0.0625, health 0.04, capacity medium 0.12, goals unknown 0.08
@pytest.mark.parametrize(
    ("available", "start", "score", "words"),
    [
        ("2026-01-20", "2026-02-01", 45, "they are available from 2026-01-20, before your start on 2026-02-01"),
        ("2026-02-01", "2026-02-01", 45, "they are available from 2026-02-01, before your start on 2026-02-01"),
        ("2026-02-02", "2026-02-01", 33, "they are available only from 2026-02-02, after your start on 2026-02-01"),
        ("2026-01-01", None, 44, "they have been available since 2026-01-01"),
        ("2026-01-07", None, 44, "they have been available since 2026-01-07"),
        ("2026-01-08", None, 38, "they are available from 2026-01-08; propose a start after it"),
    ],
)  # fmt: skip
def test_timing_compares_their_availability_with_your_start(
    available: str, start: str | None, score: int, words: str
) -> None:
    proposal: dict[str, Any] = {"goals": ["reach"]}
    if start:
        proposal["proposed_start"] = start
    context = fold(*AWARE, capacity("medium", 1, available_from=available), drafted(1, **proposal))
    result = readiness(context, only(context), at(2))  # 2026-01-07T09:00Z
    # 0.3025 + 0.15 x timing (1.0, 0.2, 0.9 since, 0.5 not yet)
    assert result.score == score
    assert words in result.reasons


def test_timing_without_their_availability() -> None:
    start = fold(*AWARE, drafted(1, goals=["reach"], proposed_start="2026-02-01"))
    result = readiness(start, only(start), at(2))
    # 0.0625 + 0.04 + 0.08 (capacity unknown) + 0.15 x 0.5 + 0.08 = 0.3375
    assert result.score == 34
    assert "their availability is unknown; you propose to start on 2026-02-01" in result.reasons
    nothing = fold(*AWARE, drafted(1, goals=["reach"]))
    result = readiness(nothing, only(nothing), at(2))
    # 0.0625 + 0.04 + 0.08 + 0.15 x 0.4 + 0.08 = 0.3225
    assert result.score == 32
    assert result.reasons == [
        "still in awareness: they barely know you yet",  # 0.25 x 0.75 = 0.1875
        HEALTH_20,  # 0.20 x 0.8 = 0.160
        "their capacity is unknown: ask what they can take on before proposing",  # 0.120
        "their goals are unknown: note them to align the proposal",  # 0.120
        "no timing known: note when they are available and when you would start",  # 0.090
    ]


def test_availability_is_compared_with_the_utc_date(far_east_zone: None) -> None:
    """As of 2026-01-07T11:00Z (already the 8th at UTC+14), availability from the 8th is ahead."""
    context = fold(*AWARE, capacity("medium", 1, available_from="2026-01-08"), drafted(1))
    result = readiness(context, only(context), at(2) + timedelta(hours=2))
    assert "they are available from 2026-01-08; propose a start after it" in result.reasons


# the rest of each score: stage 0.0625, health 0.04, capacity medium 0.12, no timing 0.06
@pytest.mark.parametrize(
    ("theirs", "ours", "score", "words"),
    [
        (["reach"], [], 34, "the proposal names none of the partner's goals it serves"),
        ([], ["reach"], 36, "their goals are unknown: note them to align the proposal"),
        (["reach", "income"], ["fame"], 30, "serves none of their goals (they want: income, reach)"),
        (["Reach", "income"], ["income", " reach"], 48, "aligned with their goals: income, reach"),
        (["reach", "income"], ["reach", "fame"], 38, "1 of its 2 goals are theirs (reach); drop or reframe the rest"),
        (["a", "b", "c"], ["a", "b", "d", "e"], 38, "2 of its 4 goals are theirs (a, b); drop or reframe the rest"),
    ],
)  # fmt: skip
def test_goals_the_share_of_the_proposal_goals_that_are_theirs(
    theirs: list[str], ours: list[str], score: int, words: str
) -> None:
    context = fold(*AWARE, capacity("medium", 1, goals=theirs), drafted(1, goals=ours))
    result = readiness(context, only(context), at(2))
    # 0.2825 + 0.20 x goals (0.3 none named, 0.4 theirs unknown, 0.1 none shared, 1 all, 1/2)
    assert result.score == score
    assert words in result.reasons


def test_a_closed_relationship_is_not_ready() -> None:
    context = fold(
        *AWARE,
        event("stage.changed", "r", {"to": "closed", "reason": "moved on"}, days=1),
        drafted(1),
    )
    result = readiness(context, only(context), at(2))
    assert result.reasons[0] == "the relationship is closed"


def test_the_stage_at_the_instant_counts() -> None:
    context = fold(*AWARE, drafted(0.05))
    assert "only a connection: too early to propose; build the relationship" in (
        readiness(context, only(context), at(0.05)).reasons
    )
    assert "still in awareness: they barely know you yet" in (
        readiness(context, only(context), at(0.2)).reasons
    )


def test_age_in_whole_days() -> None:
    proposal = only(fold(*AWARE, drafted(1)))
    assert age_days(proposal, at(4.9)) == 3
    assert age_days(proposal, at(1)) == 0
    assert age_days(proposal, at(0.5)) == 0  # never negative


# -- the score is the weighted sum, whatever the mix --------------------------------------------

FIT_OF_STAGE = {"connection": 0.1, "awareness": 0.25, "engagement": 0.55, "conversion": 1.0,
                "partnership": 0.9}  # fmt: skip
FIT_OF_CAPACITY = {"high": 1.0, "medium": 0.6, "low": 0.15, None: 0.4}


@settings(max_examples=80, deadline=None)
@given(
    stage=st.sampled_from(sorted(FIT_OF_STAGE)),
    level=st.sampled_from(["high", "medium", "low", None]),
    theirs=st.sets(st.sampled_from(["a", "b", "c", "d"])),
    ours=st.sets(st.sampled_from(["a", "b", "c", "d"])),
)
def test_readiness_is_the_weighted_sum_of_the_fits(
    stage: str, level: str | None, theirs: set[str], ours: set[str]
) -> None:
    envelopes = [event("connection.made", "r", days=0)]
    if stage != "connection":
        envelopes.append(event("stage.changed", "r", {"to": stage, "reason": "warm"}, days=0.1))
    if level is not None:
        envelopes.append(capacity(level, 0.2, goals=sorted(theirs)))
    envelopes.append(drafted(0.3, goals=sorted(ours)))
    context = fold(*envelopes)
    # no interaction yet, in the stage for less than it takes: health 20 (0.5 x 0.10 + 0.15)
    if not ours:
        goals = 0.3
    elif level is None or not theirs:
        goals = 0.4
    elif not theirs & ours:
        goals = 0.1
    else:
        goals = len(theirs & ours) / len(ours)
    total = (
        0.25 * FIT_OF_STAGE[stage]
        + 0.20 * 0.20
        + 0.20 * FIT_OF_CAPACITY[level]
        + 0.15 * 0.4  # no timing known
        + 0.20 * goals
    )
    result = readiness(context, only(context), at(1))
    if abs(100 * total - math.floor(100 * total) - 0.5) > 1e-6:  # not on a rounding edge
        assert result.score == round(100 * total)
    assert len(result.reasons) == 5
